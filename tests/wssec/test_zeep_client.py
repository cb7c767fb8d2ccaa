"""zeep with MtsSignature against SecurityMiddleware + Spyne, over a real local HTTP server."""

from __future__ import annotations

import threading
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest
import zeep
from lxml import etree
from zeep.exceptions import Fault

from echo_service import Router
from mts_service.soap.security import SecurityMiddleware
from mts_service.wssec.profile import SecurityProfile
from mts_service.wssec.replay import InMemoryReplayCache
from mts_service.wssec.trust import TrustStore
from mts_service.wssec.zeep_wsse import MtsSignature, ResponseSignatureError


class QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):  # keep test output clean
        pass


@pytest.fixture
def server(pki, clock):
    middleware = SecurityMiddleware(
        Router(),
        trust=TrustStore([pki.ca], purpose="client"),
        profile=SecurityProfile(),
        clock=clock,
        replay=InMemoryReplayCache(clock=clock),
        signer_key=pki.key("server"),
        signer_cert=pki.cert("server"),
    )
    httpd = make_server("127.0.0.1", 0, middleware, handler_class=QuietHandler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}", middleware
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def client(url, pki, clock, role="shop"):
    wsse = MtsSignature(pki.key(role), pki.cert(role), trust=TrustStore([pki.ca], purpose="server"), clock=clock)
    return zeep.Client(f"{url}/{role}?wsdl", wsse=wsse), wsse


def test_signed_call_round_trip(server, pki, clock):
    url, _ = server
    zeep_client, wsse = client(url, pki, clock)
    assert zeep_client.service.Echo("bonjour") == "bonjour"
    assert zeep_client.service.Echo("مرحبا") == "مرحبا"
    assert wsse.last_verified is not None and wsse.last_verified.role == "server"


def test_service_fault_arrives_as_a_fault_not_a_signature_error(server, pki, clock):
    url, _ = server
    zeep_client, wsse = client(url, pki, clock)
    with pytest.raises(Fault) as info:
        zeep_client.service.Echo("boom")
    assert info.value.message == "the echo refused"
    assert wsse.last_verified is not None  # the fault was verified before zeep read it


def test_security_refusal_arrives_as_a_signed_fault(server, pki, clock):
    url, _ = server
    zeep_client, _ = client(url, pki, clock, role="gateway")
    zeep_client.service._binding_options["address"] = f"{url}/shop"  # gateway cert calling the shop service
    with pytest.raises(Fault) as info:
        zeep_client.service.Echo("bonjour")
    assert info.value.detail is not None
    assert b"SECURITY_ROLE" in etree.tostring(info.value.detail)


def test_response_from_an_untrusted_signer_is_refused(server, pki, clock):
    from mts_service.pki import make_cert

    url, middleware = server
    other_ca, _ = make_cert("Other CA", is_ca=True, key_type=pki.key_type, clock=clock)
    wsse = MtsSignature(pki.key("shop"), pki.cert("shop"), trust=TrustStore([other_ca], purpose="server"), clock=clock)
    zeep_client = zeep.Client(f"{url}/shop?wsdl", wsse=wsse)
    with pytest.raises(ResponseSignatureError):
        zeep_client.service.Echo("bonjour")
