"""The Spyne hand-off: the verified Body tree goes in, the response tree comes out.

With ``soap.base.MtsSoap11`` the middleware's request is not parsed a second time by Spyne
(it takes ``environ[VERIFIED_BODY_KEY]``) and its answer is not serialised for the
middleware to parse again (it leaves the envelope in ``environ[OUT_DOCUMENT_KEY]``).
Schema validation must still run on the handed-over tree.
"""

from __future__ import annotations

import io
from wsgiref.util import setup_testing_defaults

import pytest
import spyne.protocol.soap.soap11 as spyne_soap11
from lxml import etree

from echo_service import Router, echo_wsgi_app
from mts_service.errors import ErrorCode
from mts_service.soap import security
from mts_service.soap.base import OUT_DOCUMENT_KEY, VERIFIED_BODY_KEY
from mts_service.soap.security import SecurityMiddleware
from mts_service.wssec import ns
from mts_service.wssec.profile import SecurityProfile
from test_middleware import Harness, echo_request
from wssec_helpers import ECHO_BODY

ECHO = "{urn:mts:test:echo}"


@pytest.fixture
def router() -> Router:
    return Router(handoff=True)


@pytest.fixture
def harness(router, pki, trust, clock, replay) -> Harness:
    middleware = SecurityMiddleware(
        router, trust=trust, profile=SecurityProfile(), clock=clock, replay=replay,
        signer_key=pki.key("server"), signer_cert=pki.cert("server"),
    )
    return Harness(middleware, pki, clock)


@pytest.fixture
def no_reparse(monkeypatch):
    """Fail if Spyne parses request bytes or the middleware parses response bytes."""

    def spyne_parse(*args, **kwargs):
        raise AssertionError("Spyne re-parsed the request")

    def middleware_parse(self, body):
        raise AssertionError(f"the middleware parsed the response bytes: {body[:200]!r}")

    monkeypatch.setattr(spyne_soap11, "_parse_xml_string", spyne_parse)
    monkeypatch.setattr(security.SecurityMiddleware, "_sign_bytes", middleware_parse)


def test_verified_tree_in_and_response_tree_out(harness, router, sign, no_reparse):
    status, _, payload = harness.call(sign("shop"))
    assert status.startswith("200"), payload
    verified = harness.verify_response(payload)
    assert verified.body.findtext(f".//{ECHO}EchoResult") == "bonjour"
    environ = router.environs[0]
    # Spyne was handed the very element verify_envelope returned, re-parsed from the signed bytes.
    assert environ[VERIFIED_BODY_KEY] is environ["mts.wssec"].body
    assert isinstance(environ[OUT_DOCUMENT_KEY], etree._Element)


def test_schema_validation_still_runs_on_the_handed_over_tree(harness, sign, no_reparse):
    invalid = ECHO_BODY.replace(b"</e:text>", b"</e:text><e:unexpected>x</e:unexpected>")
    status, _, payload = harness.call(sign("shop", invalid))
    assert status.startswith("500")
    fault = harness.verify_response(payload).body.find(ns.FAULT_TAG)  # signed, from the tree
    assert fault.findtext("faultcode").endswith("SchemaValidationError"), etree.tostring(fault)


def test_both_protocols_answer_the_same(pki, trust, clock, sign, monkeypatch):
    """Plain Soap11 (bytes both ways) and MtsSoap11 (trees) give the same signed answer."""
    from mts_service.wssec.replay import InMemoryReplayCache

    monkeypatch.setattr("mts_service.wssec.sign.id_token", lambda: "fixed")
    request = sign("shop", ECHO_BODY.replace(b"bonjour", "żółw &lt;&amp;&gt; €".encode()))
    payloads = {}
    for handoff in (False, True):
        middleware = SecurityMiddleware(
            Router(handoff=handoff), trust=trust, profile=SecurityProfile(), clock=clock,
            replay=InMemoryReplayCache(clock=clock), signer_key=pki.key("server"), signer_cert=pki.cert("server"),
        )
        harness = Harness(middleware, pki, clock)
        _, _, payloads[handoff] = harness.call(request)
        verified = harness.verify_response(payloads[handoff])
        assert verified.body.findtext(f".//{ECHO}EchoResult") == "żółw <&> €"
    if pki.key_type == "rsa":  # PKCS#1 v1.5 is deterministic: the answers are byte-identical
        assert payloads[False] == payloads[True]
    else:  # ECDSA is not: equal once the SignatureValue is set aside
        strip = lambda raw: etree.tostring(_without_signature_value(etree.fromstring(raw)))  # noqa: E731
        assert strip(payloads[False]) == strip(payloads[True])


def _without_signature_value(root: etree._Element) -> etree._Element:
    root.find(f".//{{{ns.DS}}}SignatureValue").text = ""
    return root


def test_service_fault_is_signed_from_the_tree(harness, sign, no_reparse):
    status, _, payload = harness.call(sign("shop", echo_request("boom")))
    assert status.startswith("500")
    fault = harness.verify_response(payload).body.find(ns.FAULT_TAG)
    assert fault.findtext("faultcode").endswith("Boom")


def test_refusal_before_spyne_is_still_a_signed_fault(harness, sign):
    raw = sign("shop").replace(b"bonjour", b"bonsoir")
    status, _, payload = harness.call(raw)
    assert status.startswith("500")
    assert harness.fault(payload)[1] == ErrorCode.SECURITY_BAD_SIGNATURE.value


def test_without_the_middleware_mts_soap11_parses_bytes_as_usual():
    app = echo_wsgi_app(handoff=True)
    environ = {
        "REQUEST_METHOD": "POST", "PATH_INFO": "/", "CONTENT_TYPE": "text/xml; charset=utf-8",
        "CONTENT_LENGTH": str(len(ECHO_BODY)), "wsgi.input": io.BytesIO(ECHO_BODY),
    }
    setup_testing_defaults(environ)
    out = {}
    payload = b"".join(app(environ, lambda status, headers, exc_info=None: out.update(status=status)))
    assert out["status"].startswith("200")
    assert etree.fromstring(payload).findtext(f".//{ECHO}EchoResult") == "bonjour"


def test_an_http_client_cannot_inject_the_hand_off_keys():
    """WSGI servers put request headers under HTTP_*: the hand-off keys are out of their reach."""
    assert not VERIFIED_BODY_KEY.startswith("HTTP_") and not OUT_DOCUMENT_KEY.startswith("HTTP_")
    assert VERIFIED_BODY_KEY.islower() and OUT_DOCUMENT_KEY.islower()
