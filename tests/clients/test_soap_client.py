"""The shared client plumbing: WSDL lookup, TLS verify pinning, fault and error mapping.

No server: zeep runs against the checked-in WSDLs with an injected transport that answers
canned envelopes (httpx's MockTransport idea, in zeep's ``transport=`` seam).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
from lxml import etree
from zeep.exceptions import Fault, TransportError, XMLSyntaxError
from zeep.transports import Transport

from gateway_client.errors import MtsFaultError, ServiceUnavailable
from gateway_client.soap_client import (
    ClientConfig,
    UntrustedResponse,
    _PinnedVerifySession,
    call,
    fault_error,
    fault_side,
    find_wsdl,
    make_session,
    make_signature,
    zeep_service,
)
from mts_service.errors import ErrorCode
from mts_service.wssec.zeep_wsse import ResponseSignatureError
from shop_client import Authorization, ShopClient

REPO = Path(__file__).resolve().parents[2]
SOAP = "http://schemas.xmlsoap.org/soap/envelope/"


def _detail(code: str, message: str = "no customer with this reference", request_id: str = "req-1"):
    return etree.fromstring(
        f'<detail><f:FaultDetail xmlns:f="urn:mts:fault:v1"><f:code>{code}</f:code>'
        f"<f:message>{message}</f:message><f:requestId>{request_id}</f:requestId></f:FaultDetail></detail>"
    )


# -- fault mapping ---------------------------------------------------------------------------

@pytest.mark.parametrize("faultcode, side", [
    ("soap:Client", "Client"), ("soap:Server", "Server"), ("Client.SchemaValidationError", "Client"),
    ("{http://schemas.xmlsoap.org/soap/envelope/}Server", "Server"), ("env:Sender", "Client"), (None, "Server"),
])
def test_fault_side_reads_the_faultcode(faultcode, side):
    assert fault_side(faultcode) == side


def test_fault_detail_gives_code_message_and_request_id():
    error = fault_error(Fault("no customer with this reference", code="soap:Client", detail=_detail("UNKNOWN_CUSTOMER")))
    assert (error.code, error.message, error.side, error.request_id) == (
        "UNKNOWN_CUSTOMER", "no customer with this reference", "Client", "req-1")
    assert not error.retryable


def test_server_fault_is_retryable():
    error = fault_error(Fault("internal error", code="soap:Server", detail=_detail("INTERNAL_ERROR", "internal error")))
    assert error.side == "Server" and error.code == "INTERNAL_ERROR" and error.retryable


def test_fault_without_our_detail_still_maps():
    client = fault_error(Fault("bad", code="soap:Client"))
    server = fault_error(Fault("boom", code="soap:Server", detail=etree.fromstring("<detail><x/></detail>")))
    assert (client.code, client.message, client.request_id) == ("INVALID_INPUT", "bad", None)
    assert (server.code, server.side) == ("INTERNAL_ERROR", "Server")


def _raiser(exc: BaseException):
    def operation(*args, **kwargs):
        raise exc
    return operation


@pytest.mark.parametrize("exc, expected", [
    (requests.ConnectionError("refused"), ServiceUnavailable),
    (requests.ReadTimeout("slow"), ServiceUnavailable),
    (requests.exceptions.SSLError("bad cert"), ServiceUnavailable),
    (TransportError("Server returned HTTP status 502", status_code=502, content=b"<html/>"), ServiceUnavailable),
    (XMLSyntaxError("not xml", content=b"garbage"), ServiceUnavailable),
    (ResponseSignatureError("digest mismatch", code=ErrorCode.SECURITY_BAD_SIGNATURE), UntrustedResponse),
])
def test_transport_failures_become_service_unavailable(exc, expected):
    with pytest.raises(expected):
        call(_raiser(exc))


def test_a_fault_through_call_is_an_mts_fault_error():
    with pytest.raises(MtsFaultError) as info:
        call(_raiser(Fault("invalid code", code="soap:Client", detail=_detail("INVALID_CODE", "invalid code"))))
    assert info.value.code == "INVALID_CODE"


def test_other_exceptions_are_not_swallowed():
    with pytest.raises(KeyError):
        call(_raiser(KeyError("bug")))


# -- configuration -----------------------------------------------------------------------------

def test_session_verify_wins_over_requests_ca_bundle(monkeypatch, tmp_path):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/nonexistent/bundle.pem")
    (tmp_path / "ca.pem").write_text("x")
    session = make_session(ClientConfig(url="https://mts.test", certs_dir=tmp_path), "shop")
    assert isinstance(session, _PinnedVerifySession)
    assert session.merge_environment_settings("https://mts.test/shop", {}, None, None, None)["verify"] == str(tmp_path / "ca.pem")
    # the trap being avoided: a plain session lets the variable replace its verify
    plain = requests.Session()
    plain.verify = str(tmp_path / "ca.pem")
    assert plain.merge_environment_settings("https://mts.test/shop", {}, None, None, None)["verify"] == "/nonexistent/bundle.pem"


def test_session_offers_the_role_certificate_only_over_https(tmp_path):
    for name in ("shop.pem", "shop.key", "ca.pem"):
        (tmp_path / name).write_text("x")
    https = make_session(ClientConfig(url="https://mts.test", certs_dir=tmp_path), "shop")
    http = make_session(ClientConfig(url="http://mts.test", certs_dir=tmp_path), "shop")
    assert https.cert == (str(tmp_path / "shop.pem"), str(tmp_path / "shop.key"))
    assert http.cert is None
    assert make_session(ClientConfig(verify=False, certs_dir=tmp_path), "shop").verify is False


def test_config_from_env_then_overrides():
    env = {"MTS_URL": "https://a:1", "MTS_CERTS_DIR": "/c", "MTS_SECURITY": "0", "MTS_TLS_VERIFY": "false",
           "MTS_TIMEOUT": "3"}
    config = ClientConfig.from_env(env, url="https://b:2", certs_dir=None)
    assert (config.url, config.certs_dir, config.security, config.verify, config.timeout) == (
        "https://b:2", Path("/c"), False, False, 3.0)
    assert config.endpoint("shop") == "https://b:2/shop"
    assert ClientConfig.from_env({}) == ClientConfig()


def test_wsdl_files_are_found_in_the_checkout_or_a_given_directory(tmp_path):
    assert find_wsdl("gateway") == REPO / "wsdl" / "gateway.wsdl"
    (tmp_path / "shop.wsdl").write_text("<x/>")
    assert find_wsdl("shop", tmp_path) == tmp_path / "shop.wsdl"
    assert find_wsdl("nothing") is None


def test_missing_certificates_say_how_to_make_them(tmp_path):
    with pytest.raises(FileNotFoundError, match="mts-service certs"):
        make_signature(tmp_path, "gateway")


def test_endpoint_overrides_the_wsdl_address():
    service = zeep_service(REPO / "wsdl" / "shop.wsdl", "https://mts.test:9443/shop")
    assert service._binding_options["address"] == "https://mts.test:9443/shop"


# -- through zeep, with a canned transport --------------------------------------------------

class CannedTransport(Transport):
    def __init__(self, status: int, body: str) -> None:
        super().__init__()
        self.status, self.body, self.sent = status, body, []

    def post(self, address, message, headers):
        self.sent.append((address, message))
        response = requests.Response()
        response.status_code = self.status
        response.headers["Content-Type"] = "text/xml; charset=utf-8"
        response._content = self.body.encode("utf-8")
        response.encoding = "utf-8"
        return response


def _envelope(body: str) -> str:
    return f'<soap:Envelope xmlns:soap="{SOAP}"><soap:Body>{body}</soap:Body></soap:Envelope>'


def test_answer_becomes_a_frozen_dataclass():
    transport = CannedTransport(200, _envelope(
        '<tns:GetAuthorizationResponse xmlns:tns="urn:mts:shop:v1"><tns:authorization>'
        "<tns:customerRef>c1</tns:customerRef><tns:mayOrder>true</tns:mayOrder><tns:advancesLeft>1</tns:advancesLeft>"
        "<tns:advanceValue><tns:amountMinor>500</tns:amountMinor><tns:currency>MAD</tns:currency></tns:advanceValue>"
        "<tns:depositActive>false</tns:depositActive><tns:blocked>false</tns:blocked>"
        "</tns:authorization></tns:GetAuthorizationResponse>"))
    shop = ShopClient(REPO / "wsdl" / "shop.wsdl", endpoint="http://mts.test/shop", transport=transport)
    auth = shop.get_authorization("c1")
    assert isinstance(auth, Authorization)
    assert auth.may_order and auth.advances_left == 1 and str(auth.advance_value) == "5.00 MAD"
    assert transport.sent[0][0] == "http://mts.test/shop"
    with pytest.raises(AttributeError):
        auth.may_order = False  # frozen


def test_fault_answer_through_zeep():
    transport = CannedTransport(500, _envelope(
        "<soap:Fault><faultcode>soap:Client</faultcode><faultstring>no customer with this reference</faultstring>"
        + etree.tostring(_detail("UNKNOWN_CUSTOMER")).decode() + "</soap:Fault>"))
    shop = ShopClient(REPO / "wsdl" / "shop.wsdl", endpoint="http://mts.test/shop", transport=transport)
    with pytest.raises(MtsFaultError) as info:
        shop.get_authorization("nobody")
    assert (info.value.code, info.value.side, info.value.request_id) == ("UNKNOWN_CUSTOMER", "Client", "req-1")


def test_html_error_page_is_service_unavailable():
    transport = CannedTransport(502, "<html><body>Bad Gateway</body></html>")
    shop = ShopClient(REPO / "wsdl" / "shop.wsdl", endpoint="http://mts.test/shop", transport=transport)
    with pytest.raises(ServiceUnavailable):
        shop.get_authorization("c1")


def test_a_balancer_error_page_is_unavailable_not_untrusted():
    import requests

    from gateway_client.errors import ServiceUnavailable
    from gateway_client.soap_client import ClientConfig, UntrustedResponse, call, make_session

    session = make_session(ClientConfig(url="http://127.0.0.1:9"), "gateway")
    response = requests.Response()
    response.status_code, response.url = 503, "http://lb/gateway"
    response._content = b"<html><body><h1>503 Service Unavailable</h1></body></html>"

    def operation():
        for hook in session.hooks["response"]:
            hook(response)

    with pytest.raises(ServiceUnavailable) as caught:
        call(operation)
    assert not isinstance(caught.value, UntrustedResponse)
