"""Direct calls (soap.direct): verified requests served without Spyne's request loop.

Every test here runs the real stack in process: signed zeep clients, the security
middleware with the SQL replay cache, the dispatcher, the services on a SQLite copy. The
``compared`` fixture reads every direct request Spyne's way too (its own envelope split,
schema validation and ``complex_from_element``) and writes every direct answer with
Spyne's own ``Soap11.serialize``: the operation, the arguments and the bytes must agree.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
import zeep
from lxml import etree
from spyne.server.wsgi import WsgiApplication

from mts_service.clock import FixedClock
from mts_service.config import Settings
from mts_service.pki import create_dev_pki, load_certificate, load_private_key
from mts_service.persistence.replay_cache import SqlReplayCache
from mts_service.soap.app import make_wsgi_app
from mts_service.soap.direct import DirectCalls, RESPONSE_HEADERS
from mts_service.soap.fast_ctx import MtsMethodContext
from mts_service.soap.security import SecurityMiddleware
from mts_service.soap.wsdl import SERVICE_NAMES, build_service
from mts_service.wssec.profile import SecurityProfile
from mts_service.wssec.trust import TrustStore
from mts_service.wssec.verify import envelope_from_canonical_body
from mts_service.wssec.zeep_wsse import MtsSignature

from read_compare import same_reading
from soap_helpers import code_in, fault_of, message, money, policy_doc, unique
from soap_wsgi import MAX_BYTES, WSDL_DIR, WsgiTransport, call_wsgi

BINDINGS = {"gateway": "GatewayService", "shop": "ShopService", "admin": "AdminService"}


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    # Valid at the SOAP tests' fixed clock (FixedClock's default instant).
    return create_dev_pki(tmp_path_factory.mktemp("direct-pki"), key_type="ec", clock=FixedClock())


@pytest.fixture
def secured_app(service_ctx, soap_engine, soap_clock, metrics, pki):
    """The MTS application as ``soap.wsgi`` builds it, WS-Security on."""
    def secure(app):
        return SecurityMiddleware(
            app, trust=TrustStore.from_pem_files(pki.ca_cert, purpose="client"),
            profile=SecurityProfile(max_body_bytes=MAX_BYTES), clock=soap_clock,
            replay=SqlReplayCache(soap_engine, clock=soap_clock),
            signer_key=load_private_key(pki.key("server")), signer_cert=load_certificate(pki.cert("server")),
        )
    return make_wsgi_app(service_ctx, Settings(security=True, max_request_bytes=MAX_BYTES), engine=soap_engine,
                         metrics=metrics, middleware=secure)


@pytest.fixture
def signed(secured_app, pki, soap_clock) -> dict[str, Any]:
    """Signed zeep service proxies, by service name, talking to the app in process."""
    transport = WsgiTransport(secured_app)
    proxies = {}
    for name in SERVICE_NAMES:
        wsse = MtsSignature(load_private_key(pki.key(name)), load_certificate(pki.cert(name)),
                            trust=TrustStore.from_pem_files(pki.ca_cert, purpose="server"), clock=soap_clock)
        client = zeep.Client(str(WSDL_DIR / f"{name}.wsdl"), transport=transport, wsse=wsse)
        proxies[name] = client.create_service(f"{{urn:mts:{name}:v1}}{BINDINGS[name]}", f"http://mts.test/{name}")
    return proxies


@pytest.fixture
def compared(monkeypatch) -> list[str]:
    """Read and write every direct call Spyne's way as well; the names of the compared calls."""
    done: list[str] = []
    pending: dict[int, Any] = {}
    transports: dict[int, WsgiApplication] = {}
    real_read, real_write = DirectCalls.read, DirectCalls.write

    def spyne_context(calls: DirectCalls, environ: dict) -> Any:
        """Spyne's own reading of the same verified bytes: envelope split, schema, members."""
        transport = transports.setdefault(id(calls), WsgiApplication(calls.app))
        bytes_in = envelope_from_canonical_body(environ["mts.wssec"].body_c14n)
        plain = {k: v for k, v in environ.items() if not k.startswith("mts.wssec")}
        context = MtsMethodContext(transport, plain, "text/xml; charset=utf-8")
        context.in_string = [bytes_in]
        calls.in_protocol.fast_in = False    # Spyne's complex_from_element, not ReadPlan
        try:
            first = transport.generate_contexts(context, "utf-8")[0]
            if first.in_error is None:
                transport.get_in_object(first)
        finally:
            calls.in_protocol.__dict__.pop("fast_in", None)
        return first

    def read(self, ctx, route, element):
        args = real_read(self, ctx, route, element)
        if args is not None:
            spyne = spyne_context(self, ctx.transport.req_env)
            assert spyne.in_error is None, spyne.in_error
            assert spyne.descriptor is route.descriptor
            assert same_reading(tuple(spyne.in_object), args), (spyne.in_object, args)
            pending[id(ctx)] = spyne
        return args

    def write(self, ctx, route, value):
        envelope = real_write(self, ctx, route, value)
        spyne = pending.pop(id(ctx))
        spyne.out_object = [value]
        self.out_protocol.fast_out = False
        try:
            self.out_protocol.serialize(spyne, self.out_protocol.RESPONSE)
        finally:
            self.out_protocol.__dict__.pop("fast_out", None)
        assert etree.tostring(envelope) == etree.tostring(spyne.out_document)
        done.append(route.descriptor.name)
        return envelope

    monkeypatch.setattr(DirectCalls, "read", read)
    monkeypatch.setattr(DirectCalls, "write", write)
    return done


def every_operation(gateway, shop, admin) -> None:
    """Each of the 14 operations at least once, with answers of every shape."""
    admin.SetPolicy(policy=policy_doc())
    admin.GetPolicy()
    receipt = gateway.SubmitSms(message=message("SHOP"))
    reference = unique("cust")
    shop.RegisterCustomer(customerRef=reference, username=None, mobile=None, language="fr")
    shop.RedeemCode(customerRef=reference, code=code_in(receipt.replyText))
    shop.GetAuthorization(customerRef=reference)
    order = shop.PlaceOrder(orderId=unique("ord"), customerRef=reference, total=money(12_000), deliveryMode="HOME")
    shop.ReportDelivery(orderId=order.orderId, outcome="DELIVERED")
    gateway.ReportBilling(messageId=receipt.messageId, status="CONFIRMED")
    admin.ConfirmBilling(day=date(2026, 1, 15), premiumNumber="7575", operator="IAM")
    admin.GetCustomer(customerRef=reference)
    admin.GetLedger(customerRef=reference, limit=5)
    admin.GetReport(firstDay=date(2026, 1, 1), lastDay=date(2026, 12, 31))
    admin.RevokeAuthorization(customerRef=reference, reason="refused parcel", orderId=None)


def test_every_operation_is_served_directly_as_spyne_would(signed, compared):
    every_operation(signed["gateway"], signed["shop"], signed["admin"])
    assert sorted(set(compared)) == sorted([
        "ConfirmBilling", "GetAuthorization", "GetCustomer", "GetLedger", "GetPolicy", "GetReport", "PlaceOrder",
        "RedeemCode", "RegisterCustomer", "ReportBilling", "ReportDelivery", "RevokeAuthorization", "SetPolicy",
        "SubmitSms"])


def test_every_operation_of_the_three_services_is_planned():
    for name in SERVICE_NAMES:
        wsgi, _ = build_service(name, None)
        planned = DirectCalls(wsgi.app, wsgi.event_manager).routes
        assert set(planned) == set(wsgi.app.interface.service_method_map), name


def test_answers_are_the_same_with_and_without_direct_calls(signed, monkeypatch):
    """The whole flow once each way: same outcomes, same fault codes and messages."""
    def run() -> list[Any]:
        gateway, shop, admin = signed["gateway"], signed["shop"], signed["admin"]
        admin.SetPolicy(policy=policy_doc())
        receipt = gateway.SubmitSms(message=message("SHOP"))
        reference = unique("cust")
        shop.RegisterCustomer(customerRef=reference, username=None, mobile=None, language="fr")
        wrong = fault_of(shop.RedeemCode, customerRef=reference, code="ZZZZZZZZ")
        redeemed = shop.RedeemCode(customerRef=reference, code=code_in(receipt.replyText))
        unknown = fault_of(shop.PlaceOrder, orderId=unique("ord"), customerRef="nobody", total=money(100),
                           deliveryMode="HOME")
        return [receipt.outcome, receipt.duplicate, redeemed.kind, redeemed.value.amountMinor, redeemed.alreadyRedeemed,
                (wrong.faultcode, wrong.code, wrong.message), (unknown.faultcode, unknown.code, unknown.message)]

    direct = run()
    monkeypatch.setattr(DirectCalls, "enabled", False)
    assert run() == direct


def test_a_schema_invalid_request_is_left_to_spyne(secured_app, signed, compared, monkeypatch):
    """Invalid for the schema: Spyne validates it and renders its fault; the direct path only stepped aside."""
    calls = []
    real_answer = DirectCalls.answer
    monkeypatch.setattr(DirectCalls, "answer", lambda self, environ: calls.append(real_answer(self, environ)) or calls[-1])
    seen = fault_of(signed["gateway"].SubmitSms, message=dict(message(), channel="FAX"))
    assert (seen.faultcode, seen.code) == ("soap:Client", "SCHEMA_INVALID")
    assert calls == [None] and compared == []


def test_a_business_fault_is_counted_under_its_operation_and_code(signed, metrics):
    signed["admin"].SetPolicy(policy=policy_doc())
    seen = fault_of(signed["shop"].RedeemCode, customerRef="nobody", code="ZZZZZZZZ")
    assert seen.faultcode == "soap:Client" and seen.request_id
    assert metrics.requests.labels("shop", "RedeemCode", "client_fault")._value.get() == 1
    assert metrics.faults.labels("shop", seen.code)._value.get() == 1


def test_an_unexpected_error_in_the_service_is_an_internal_error(signed, monkeypatch, caplog):
    from mts_service.soap import gateway as gateway_module

    def broken(*args, **kwargs):
        raise RuntimeError("boom: secret detail")

    monkeypatch.setattr(gateway_module.sms, "submit_sms", broken)
    seen = fault_of(signed["gateway"].SubmitSms, message=message())
    assert (seen.faultcode, seen.code) == ("soap:Server", "INTERNAL_ERROR")
    assert "secret" not in seen.message and "boom" in caplog.text


def test_an_error_while_writing_the_answer_is_an_internal_error(signed, monkeypatch, caplog):
    def unwritable(self, ctx, route, value):
        raise ValueError("cannot write")

    monkeypatch.setattr(DirectCalls, "write", unwritable)
    seen = fault_of(signed["admin"].GetPolicy)
    assert (seen.faultcode, seen.code) == ("soap:Server", "INTERNAL_ERROR")
    assert "could not write the answer of GetPolicy" in caplog.text


GET_POLICY = (b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
              b'<a:GetPolicy xmlns:a="urn:mts:admin:v1"/></s:Body></s:Envelope>')


@pytest.fixture
def admin_signer(pki, soap_clock) -> MtsSignature:
    return MtsSignature(load_private_key(pki.key("admin")), load_certificate(pki.cert("admin")),
                        trust=TrustStore.from_pem_files(pki.ca_cert, purpose="server"), clock=soap_clock)


@pytest.fixture
def post_get_policy(secured_app, admin_signer):
    """Post a freshly signed GetPolicy to /admin; its 200 answer's bytes."""
    def post() -> bytes:
        envelope, _ = admin_signer.apply(etree.fromstring(GET_POLICY), {})
        status, _, payload = call_wsgi(secured_app, "POST", "/admin", etree.tostring(envelope))
        assert status.startswith("200"), payload
        return payload
    return post


def test_status_and_headers_are_spynes(post_get_policy, monkeypatch):
    """The dispatcher answers a direct call with Spyne's status and headers (the middleware
    then sets Content-Type and Content-Length of the signed bytes)."""
    seen: dict[bool, Any] = {}
    real_answer = DirectCalls.answer

    def answer(self, environ):
        result = real_answer(self, environ)
        seen["direct"] = result
        return result

    monkeypatch.setattr(DirectCalls, "answer", answer)
    from mts_service.soap import app as app_module

    captured = []
    real_buffered = app_module._buffered

    def buffered(app, environ, start_response):
        def capture(status, headers, exc_info=None):
            captured.append((status, [h for h in headers if h[0] != "Content-Length"]))
            return start_response(status, headers, exc_info)
        return real_buffered(app, environ, capture)

    monkeypatch.setattr(app_module, "_buffered", buffered)
    for enabled in (True, False):
        monkeypatch.setattr(DirectCalls, "enabled", enabled)
        post_get_policy()
    assert seen["direct"] is None   # the last call: disabled
    assert captured == [("200 OK", list(RESPONSE_HEADERS))]


def test_an_application_with_listeners_of_its_own_is_not_planned():
    wsgi, _ = build_service("gateway", None)
    wsgi.app.event_manager.add_listener("method_return_object", lambda ctx: None)
    assert DirectCalls(wsgi.app).routes == {}
    wsgi, _ = build_service("gateway", None)
    wsgi.event_manager.add_listener("wsgi_return", lambda ctx: None)   # on the WSGI application
    assert DirectCalls(wsgi.app, wsgi.event_manager).routes == {}


def test_requests_that_are_not_the_ordinary_case_go_to_spyne(signed, secured_app):
    wsgi, _ = build_service("gateway", None)
    calls = DirectCalls(wsgi.app)
    body = etree.fromstring(
        '<s:Body xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><g:SubmitSms xmlns:g="urn:mts:gateway:v1"/>'
        '<g:SubmitSms xmlns:g="urn:mts:gateway:v1"/></s:Body>')
    assert calls.route(body) is None                                  # two operations
    body.remove(body[1])
    body.insert(0, etree.Comment("first"))
    assert calls.route(body) is None                                  # a comment first
    assert calls.answer({"mts.wssec.body": body}) is None              # no answer tree wanted
    assert calls.answer({"mts.wssec.out_document": None}) is None      # no verified tree


def test_answers_declare_only_the_namespaces_they_use(post_get_policy, admin_signer, monkeypatch):
    """The interface's 16 namespaces are not all declared on every answer, either way (each
    exclusive c14n of a signed part walks every namespace in scope, and so does each client)."""
    for enabled in (True, False):
        monkeypatch.setattr(DirectCalls, "enabled", enabled)
        answer = etree.fromstring(post_get_policy())
        declared = set(answer.nsmap.values())
        assert "http://schemas.xmlsoap.org/ws/2003/05/partner-link/" not in declared, declared
        assert "http://schemas.xmlsoap.org/wsdl/" not in declared, declared
        admin_signer.verify(answer)   # still verifies
