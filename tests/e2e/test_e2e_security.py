"""WS-Security through a real gunicorn server (``mts-service serve``, TLS, two workers, SQLite).

Each attack goes over the wire and must come back as a *signed* SOAP Client fault (HTTP 500)
with its enumerated code, and change nothing: the ledger is the same before and after, and
the attack's messageId is still unknown (a valid submission of it afterwards is not a
duplicate). The in-process catalogue (50 variants) is in tests/wssec/; this is the subset
that proves the deployed stack (gunicorn, request id, middleware, database) wires it up.
"""

from __future__ import annotations

import shutil
import subprocess
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
from lxml import etree

from e2e_helpers import Answer, Server, post, sign, sms_request, unsigned_request
from mts_service.clock import FixedClock, SystemClock
from mts_service.wssec import ns

pytestmark = pytest.mark.slow


def _mobile() -> str:
    return f"+2126{uuid.uuid4().int % 10**8:08d}"


def _message_id() -> str:
    return f"e2e-{uuid.uuid4().hex[:12]}"


def _ledger_size(server: Server) -> int:
    from shop_client import AdminClient

    return len(list(AdminClient.connect(server.url, certs_dir=server.certs).iter_ledger()))


def _valid(server: Server, message_id: str) -> Answer:
    answer = post(server, "/gateway", sign(sms_request(message_id, _mobile()), server.certs, "gateway"))
    assert answer.status == 200 and answer.fault is None
    return answer


# -- the attacks: (path, payload) from (server certs, foreign certs, messageId) ------------------

def unsigned(certs: Path, foreign: Path, mid: str) -> tuple[str, bytes]:
    return "/gateway", etree.tostring(sms_request(mid, _mobile()))


def tampered_body(certs: Path, foreign: Path, mid: str) -> tuple[str, bytes]:
    root = etree.fromstring(sign(sms_request(mid, _mobile()), certs, "gateway"))
    text = next(n for n in root.iter() if isinstance(n.tag, str) and etree.QName(n).localname == "text")
    text.text = "PAY mallory"
    return "/gateway", etree.tostring(root)


def expired_timestamp(certs: Path, foreign: Path, mid: str) -> tuple[str, bytes]:
    past = FixedClock(SystemClock().now() - timedelta(minutes=20))
    return "/gateway", sign(sms_request(mid, _mobile()), certs, "gateway", clock=past)


def future_timestamp(certs: Path, foreign: Path, mid: str) -> tuple[str, bytes]:
    future = FixedClock(SystemClock().now() + timedelta(minutes=20))
    return "/gateway", sign(sms_request(mid, _mobile()), certs, "gateway", clock=future)


def wrong_role(certs: Path, foreign: Path, mid: str) -> tuple[str, bytes]:
    """The gateway's (valid, trusted) certificate calling the shop service."""
    request = unsigned_request("shop", "RegisterCustomer", customerRef=mid, mobile=_mobile(), language="fr")
    return "/shop", sign(request, certs, "gateway")


def foreign_ca(certs: Path, foreign: Path, mid: str) -> tuple[str, bytes]:
    return "/gateway", sign(sms_request(mid, _mobile()), foreign, "gateway")


def xxe(certs: Path, foreign: Path, mid: str) -> tuple[str, bytes]:
    signed = sign(sms_request(mid, _mobile()), certs, "gateway").split(b"?>", 1)[1]
    doctype = b'<!DOCTYPE e [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    return "/gateway", b'<?xml version="1.0"?>' + doctype + signed.replace(b">PAY<", b">&xxe;<")


def oversized(certs: Path, foreign: Path, mid: str) -> tuple[str, bytes]:
    signed = sign(sms_request(mid, _mobile()), certs, "gateway")
    return "/gateway", signed.replace(b"?>", b"?><!--" + b"x" * (300 * 1024) + b"-->", 1)


def soap12(certs: Path, foreign: Path, mid: str) -> tuple[str, bytes]:
    root = etree.fromstring(sign(sms_request(mid, _mobile()), certs, "gateway"))
    for node in root.iter():
        if isinstance(node.tag, str) and node.tag.startswith("{" + ns.SOAP11):
            node.tag = node.tag.replace(ns.SOAP11, ns.SOAP12)
    return "/gateway", etree.tostring(root)


def body_wrapped_in_header(certs: Path, foreign: Path, mid: str) -> tuple[str, bytes]:
    """Signature wrapping: the signed Body moved into a header, an evil Body in its place."""
    root = etree.fromstring(sign(sms_request(mid, _mobile()), certs, "gateway"))
    body = root.find(ns.BODY)
    wrapper = etree.SubElement(root.find(ns.HEADER), "{urn:evil}Wrapper")
    root.remove(body)
    wrapper.append(body)
    evil = etree.SubElement(root, ns.BODY)
    evil.append(sms_request(_message_id(), _mobile(), "PAY mallory").find(ns.BODY)[0])
    return "/gateway", etree.tostring(root)


ATTACKS = [
    (unsigned, "SECURITY_UNSIGNED"),
    (tampered_body, "SECURITY_BAD_SIGNATURE"),
    (expired_timestamp, "SECURITY_EXPIRED"),
    (future_timestamp, "SECURITY_EXPIRED"),
    (wrong_role, "SECURITY_ROLE"),
    (foreign_ca, "SECURITY_UNTRUSTED_CERT"),
    (xxe, "XML_FORBIDDEN"),
    (oversized, "REQUEST_TOO_LARGE"),
    (soap12, "SOAP_VERSION_MISMATCH"),
    (body_wrapped_in_header, "SECURITY_UNSIGNED"),
]


def test_a_valid_signed_request_is_served_and_the_answer_signed(server):
    answer = _valid(server, _message_id())
    assert answer.find("outcome") == "CODE_ISSUED"
    assert answer.verified.role == "server"


@pytest.mark.skipif(shutil.which("xmlsec1") is None, reason="Debian's xmlsec1 binary is not installed")
def test_xmlsec1_verifies_what_the_server_sends(server, tmp_path):
    """An implementation that is not ours checks real answers off the wire: a served
    request's and a refusal's (faults are signed too)."""
    answers = [_valid(server, _message_id()),
               post(server, "/gateway", sign(sms_request(_message_id(), _mobile()), server.certs, "shop"))]
    assert answers[1].fault == ("soap:Client", "SECURITY_ROLE")
    ids = ["--id-attr:Id", f"{ns.SOAP11}:Body", "--id-attr:Id", f"{ns.WSU}:Timestamp"]
    for number, answer in enumerate(answers):
        document = tmp_path / f"answer-{number}.xml"
        document.write_bytes(answer.raw)
        checked = subprocess.run(["xmlsec1", "--verify", "--pubkey-cert-pem", str(server.certs / "server.pem"),
                                  *ids, str(document)], capture_output=True, text=True, timeout=60)
        assert checked.returncode == 0, checked.stderr
        document.write_bytes(answer.raw.replace(b"</soap11env:Body>", b"<x/></soap11env:Body>")
                             .replace(b"</soap:Body>", b"<x/></soap:Body>"))
        tampered = subprocess.run(["xmlsec1", "--verify", "--pubkey-cert-pem", str(server.certs / "server.pem"),
                                   *ids, str(document)], capture_output=True, text=True, timeout=60)
        assert tampered.returncode != 0


@pytest.mark.parametrize("attack, code", ATTACKS, ids=[a.__name__ for a, _ in ATTACKS])
def test_attack_over_the_wire_is_a_signed_client_fault_and_changes_nothing(server, foreign_certs, attack, code):
    mid = _message_id()
    before = _ledger_size(server)
    path, payload = attack(server.certs, foreign_certs, mid)
    answer = post(server, path, payload, session=server.session())  # a fresh connection each
    assert answer.status == 500
    assert answer.fault == ("soap:Client", code)
    assert _ledger_size(server) == before
    # The attack's messageId was never recorded: a genuine submission of it is new.
    assert _valid(server, mid).find("duplicate") == "false"


def test_replay_of_a_captured_request_is_refused_and_credits_nothing(server):
    captured = sign(sms_request(_message_id(), _mobile()), server.certs, "gateway")
    assert post(server, "/gateway", captured).fault is None
    after_first = _ledger_size(server)
    for _ in range(3):  # fresh connections: any worker may take it
        replayed = post(server, "/gateway", captured, session=server.session())
        assert (replayed.status, replayed.fault) == (500, ("soap:Client", "SECURITY_REPLAY"))
    assert _ledger_size(server) == after_first


def test_one_signed_request_raced_across_two_workers_is_accepted_once(server):
    captured = sign(sms_request(_message_id(), _mobile()), server.certs, "gateway")
    before = _ledger_size(server)
    with ThreadPoolExecutor(max_workers=12) as pool:
        answers = list(pool.map(lambda _: post(server, "/gateway", captured, session=server.session()), range(24)))
    faults = [a.fault for a in answers]
    assert faults.count(None) == 1, faults
    assert faults.count(("soap:Client", "SECURITY_REPLAY")) == 23
    assert _ledger_size(server) == before + 1


# The replay key is recorded in the use case's own write transaction; a request that wrote
# nothing (a read, or a refusal that rolled back) has it recorded after it was served. Both
# must still refuse a replay.

def test_replay_of_a_read_is_refused(server):
    captured = sign(unsigned_request("admin", "GetPolicy"), server.certs, "admin")
    assert post(server, "/admin", captured).fault is None
    for _ in range(2):
        replayed = post(server, "/admin", captured, session=server.session())
        assert (replayed.status, replayed.fault) == (500, ("soap:Client", "SECURITY_REPLAY"))


def test_replay_of_a_request_the_service_refused_is_refused_as_a_replay(server):
    captured = sign(unsigned_request("shop", "GetAuthorization", customerRef=f"nobody-{uuid.uuid4().hex[:8]}"),
                    server.certs, "shop")
    assert post(server, "/shop", captured).fault == ("soap:Client", "UNKNOWN_CUSTOMER")
    replayed = post(server, "/shop", captured, session=server.session())
    assert (replayed.status, replayed.fault) == (500, ("soap:Client", "SECURITY_REPLAY"))


def test_replay_of_a_code_redemption_that_failed_is_refused(server):
    """RedeemCode with a wrong code commits the failed attempt, and the replay key with it:
    its replays are refused as replays, not counted as more wrong codes."""
    ref = f"rc-{uuid.uuid4().hex[:8]}"
    register = sign(unsigned_request("shop", "RegisterCustomer", customerRef=ref, language="fr"), server.certs, "shop")
    assert post(server, "/shop", register).fault is None
    captured = sign(unsigned_request("shop", "RedeemCode", customerRef=ref, code="ZZZZZZZZ"), server.certs, "shop")
    assert post(server, "/shop", captured).fault == ("soap:Client", "INVALID_CODE")
    for _ in range(3):
        replayed = post(server, "/shop", captured, session=server.session())
        assert replayed.fault == ("soap:Client", "SECURITY_REPLAY")


def test_an_oversized_request_gets_its_fault_not_a_reset_every_time(server):
    """Twelve times in a row over TLS, a body of 2.7x the cap gets the signed fault. (The
    server reads and discards the excess before refusing, tests/wssec/test_middleware.py;
    a refusal sent with the body unread can reach a client as a reset or a TLS EOF, which
    this machine reproduced only under heavy load.)"""
    payload = sign(sms_request(_message_id(), _mobile()), server.certs, "gateway")
    payload = payload.replace(b"?>", b"?><!--" + b"x" * (700 * 1024) + b"-->", 1)
    for _ in range(12):
        answer = post(server, "/gateway", payload, session=server.session())
        assert (answer.status, answer.fault) == (500, ("soap:Client", "REQUEST_TOO_LARGE"))
