"""SecurityMiddleware around a bare Spyne echo service, driven with WSGI environ dicts."""

from __future__ import annotations

import io
import logging
from wsgiref.util import setup_testing_defaults

import pytest
from lxml import etree

from wssec_helpers import ECHO_BODY
from echo_service import Router
from mts_service.errors import ErrorCode
from mts_service.soap.security import SecurityMiddleware
from mts_service.wssec import ns
from mts_service.wssec.profile import SecurityProfile
from mts_service.wssec.replay import InMemoryReplayCache
from mts_service.wssec.trust import TrustStore
from mts_service.wssec.verify import verify_envelope
from wssec_helpers import dump, find, parse

F = {"f": ns.FAULT, "soap": ns.SOAP11}
ECHO = "{urn:mts:test:echo}"


def echo_request(text: str) -> bytes:
    return ECHO_BODY.replace(b"bonjour", text.encode())


class Harness:
    def __init__(self, middleware: SecurityMiddleware, pki, clock) -> None:
        self.middleware = middleware
        self.client_trust = TrustStore([pki.ca], purpose="server")
        self.client_replay = InMemoryReplayCache(clock=clock)
        self.clock = clock

    def call(self, body: bytes, *, path="/shop", method="POST", soap_action='""', stream=None, length=None, **extra):
        environ: dict = {
            "REQUEST_METHOD": method,
            "PATH_INFO": path,
            "CONTENT_TYPE": "text/xml; charset=utf-8",
            "CONTENT_LENGTH": str(len(body)) if length is None else length,
            "wsgi.input": stream if stream is not None else io.BytesIO(body),
            "HTTP_SOAPACTION": soap_action,
        }
        environ.update(extra)
        setup_testing_defaults(environ)
        captured = {}

        def start_response(status, headers, exc_info=None):
            captured["status"], captured["headers"] = status, dict(headers)

        payload = b"".join(self.middleware(environ, start_response))
        assert int(captured["headers"].get("Content-Length", len(payload))) == len(payload)
        return captured["status"], captured["headers"], payload

    def verify_response(self, payload: bytes):
        return verify_envelope(
            payload, trust=self.client_trust, clock=self.clock, replay=self.client_replay, expected_role="server"
        )

    def fault(self, payload: bytes) -> tuple[str, str, str]:
        verified = self.verify_response(payload)  # faults are signed too
        fault = verified.body.find(ns.FAULT_TAG)
        assert fault is not None
        return (
            fault.findtext("faultcode"),
            fault.findtext("detail/f:FaultDetail/f:code", namespaces=F),
            fault.findtext("detail/f:FaultDetail/f:requestId", namespaces=F),
        )


@pytest.fixture
def router() -> Router:
    return Router()


@pytest.fixture
def harness(router, pki, trust, clock, replay) -> Harness:
    middleware = SecurityMiddleware(
        router,
        trust=trust,
        profile=SecurityProfile(),
        clock=clock,
        replay=replay,
        signer_key=pki.key("server"),
        signer_cert=pki.cert("server"),
    )
    return Harness(middleware, pki, clock)


def test_signed_request_reaches_the_service_and_the_answer_is_signed(harness, router, sign):
    status, headers, payload = harness.call(sign("shop"))
    assert status.startswith("200")
    assert headers["Content-Type"].startswith("text/xml")
    verified = harness.verify_response(payload)
    assert verified.role == "server"
    assert verified.body.findtext(f".//{ECHO}EchoResult") == "bonjour"


def test_the_service_sees_only_the_verified_body(harness, router, sign):
    harness.call(sign("shop"))
    (received,) = router.received
    envelope = etree.fromstring(received)
    assert [child.tag for child in envelope] == [ns.BODY]
    assert router.environs[0]["mts.wssec"].role == "shop"
    assert router.environs[0]["mts.request_id"]


def test_wrapping_attack_is_a_signed_client_fault(harness, router, sign, caplog):
    root = parse(sign("shop"))
    body = find(root, "soap:Body")
    evil = etree.Element(ns.BODY)
    etree.SubElement(etree.SubElement(evil, f"{ECHO}Echo"), f"{ECHO}text").text = "evil"
    etree.SubElement(find(root, "soap:Header"), "{urn:evil}Wrapper").append(body)
    root.append(evil)
    with caplog.at_level(logging.WARNING, logger="mts.wssec"):
        status, _, payload = harness.call(dump(root))
    assert status.startswith("500")
    faultcode, code, request_id = harness.fault(payload)
    assert faultcode == "soap:Client"
    assert code == ErrorCode.SECURITY_UNSIGNED.value
    assert request_id
    assert router.received == []
    assert any(request_id in r.getMessage() and code in r.getMessage() for r in caplog.records)


def test_wrong_role_for_path_is_refused(harness, router, sign):
    status, _, payload = harness.call(sign("gateway"), path="/shop")
    assert status.startswith("500")
    assert harness.fault(payload)[1] == ErrorCode.SECURITY_ROLE.value
    status, _, _ = harness.call(sign("gateway"), path="/gateway")
    assert status.startswith("200")


def test_replay_through_the_middleware_is_refused(harness, sign):
    raw = sign("shop")
    assert harness.call(raw)[0].startswith("200")
    status, _, payload = harness.call(raw)
    assert harness.fault(payload)[1] == ErrorCode.SECURITY_REPLAY.value


class EndlessStream:
    """A client that keeps sending: counts what the server reads of it."""

    def __init__(self) -> None:
        self.consumed = 0

    def read(self, size: int = -1) -> bytes:
        size = 65536 if size is None or size < 0 else size
        self.consumed += size
        return b"x" * size


def test_oversized_content_length_is_refused_unparsed_and_read_only_to_a_bound(harness, router):
    """Refused on its Content-Length; the excess is read and discarded (so the client can read
    the fault instead of a reset), but never more than DRAIN_LIMIT_FACTOR times the cap."""
    from mts_service.soap.request_body import DRAIN_LIMIT_FACTOR

    stream = EndlessStream()
    status, _, payload = harness.call(b"", stream=stream, length=str(10**9))
    assert status.startswith("500")
    assert harness.fault(payload)[1] == ErrorCode.REQUEST_TOO_LARGE.value
    assert stream.consumed == DRAIN_LIMIT_FACTOR * 256 * 1024


def test_chunked_body_longer_than_the_cap_is_refused(harness):
    big = b"<" + b"x" * (256 * 1024 + 10)
    status, _, payload = harness.call(big, length="", **{"wsgi.input_terminated": True})
    assert harness.fault(payload)[1] == ErrorCode.REQUEST_TOO_LARGE.value


def test_unsigned_request_is_refused(harness, router):
    status, _, payload = harness.call(ECHO_BODY)
    assert harness.fault(payload)[1] == ErrorCode.SECURITY_UNSIGNED.value
    assert router.received == []


def test_xxe_is_refused(harness):
    xxe = (b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>' + ECHO_BODY.replace(b"bonjour", b"&e;"))
    assert harness.fault(harness.call(xxe)[2])[1] == ErrorCode.XML_FORBIDDEN.value


def test_soap_action_must_name_the_signed_operation(harness, sign):
    assert harness.call(sign("shop"), soap_action='"Echo"')[0].startswith("200")
    status, _, payload = harness.call(sign("shop"), soap_action='"Transfer"')
    assert harness.fault(payload)[1] == ErrorCode.UNKNOWN_OPERATION.value


def test_service_fault_is_signed_and_kept(harness, sign):
    status, _, payload = harness.call(sign("shop", echo_request("boom")))
    assert status.startswith("500")
    verified = harness.verify_response(payload)
    fault = verified.body.find(ns.FAULT_TAG)
    assert fault.findtext("faultstring") == "the echo refused"


def test_unexpected_error_is_a_generic_signed_server_fault(harness, sign, caplog, pki, trust, clock, replay):
    def broken(environ, start_response):
        environ["wsgi.input"].read()
        raise RuntimeError("secret internal detail")

    harness.middleware.app = broken
    with caplog.at_level(logging.ERROR, logger="mts.wssec"):
        status, _, payload = harness.call(sign("shop"))
    assert status.startswith("500")
    faultcode, code, request_id = harness.fault(payload)
    assert (faultcode, code) == ("soap:Server", ErrorCode.INTERNAL_ERROR.value)
    assert b"secret internal detail" not in payload and b"Traceback" not in payload
    assert any(r.exc_info and request_id in r.getMessage() for r in caplog.records)


def test_get_passes_through_unsigned(harness):
    status, _, payload = harness.call(b"", method="GET", path="/shop", QUERY_STRING="wsdl")
    assert status.startswith("200")
    assert b"definitions" in payload and b"Security" not in payload
    status, _, payload = harness.call(b"", method="GET", path="/healthz")
    assert payload == b"ok"


def test_unprotected_path_passes_through(harness, router):
    status, _, payload = harness.call(ECHO_BODY, path="/other")
    assert b"Security" not in payload
    assert router.received == [ECHO_BODY]
