"""Every fault code a caller can meet, as it reaches the wire: faultcode and detail code.

Domain refusals go through zeep clients built from wsdl/; refusals made before any of our
code runs (schema, XML, size, envelope version) are posted raw, since zeep would not
build such requests.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from lxml import etree

from mts_service.config import Settings
from mts_service.services.context import ServiceContext
from mts_service.services.keys import ServiceKeys
from mts_service.soap.app import make_wsgi_app
from soap_helpers import (
    FAULT_NS,
    assert_client_fault,
    code_in,
    customer_with_advance,
    envelope,
    fault_of,
    message,
    money,
    new_mobile,
    policy_doc,
    submit_xml,
    unique,
)

from soap_wsgi import MAX_BYTES, SECRET, WsgiTransport, call_wsgi, zeep_client


@pytest.fixture
def with_policy(admin):
    admin.SetPolicy(policy=policy_doc())


# -- not found -----------------------------------------------------------------------


def test_unknown_customer(shop, with_policy):
    assert_client_fault(fault_of(shop.GetAuthorization, customerRef="nobody"), "UNKNOWN_CUSTOMER")


def test_unknown_order(shop, with_policy):
    assert_client_fault(fault_of(shop.ReportDelivery, orderId="nope", outcome="DELIVERED"), "UNKNOWN_ORDER")


def test_unknown_grant(admin, with_policy):
    assert_client_fault(fault_of(admin.RevokeAuthorization, grantId="nope", reason="x"), "UNKNOWN_GRANT")


# -- codes ---------------------------------------------------------------------------


def test_invalid_code_then_locked(shop, with_policy):
    reference = unique("cust")
    shop.RegisterCustomer(customerRef=reference)
    for _ in range(3):  # maxFailedAttempts in policy_doc
        assert_client_fault(fault_of(shop.RedeemCode, customerRef=reference, code="ZZZZ9999"), "INVALID_CODE")
    assert_client_fault(fault_of(shop.RedeemCode, customerRef=reference, code="ZZZZ9999"), "CODE_LOCKED")


def test_code_expired(gateway, shop, soap_clock, with_policy):
    code = code_in(gateway.SubmitSms(message=message()).replyText)
    reference = unique("cust")
    shop.RegisterCustomer(customerRef=reference)
    soap_clock.advance(timedelta(days=8))  # ttlSeconds is 7 days
    assert_client_fault(fault_of(shop.RedeemCode, customerRef=reference, code=code), "CODE_EXPIRED")


# -- authorization -------------------------------------------------------------------


def test_not_authorized_without_an_advance(shop, with_policy):
    reference = unique("cust")
    shop.RegisterCustomer(customerRef=reference)
    seen = fault_of(shop.PlaceOrder, orderId=unique("ord"), customerRef=reference, total=money(1000), deliveryMode="HOME")
    assert_client_fault(seen, "NOT_AUTHORIZED")


def test_customer_blocked_after_a_forfeit(admin, gateway, shop):
    admin.SetPolicy(policy=policy_doc(blockAfterForfeits=1))
    reference = customer_with_advance(gateway, shop)
    assert admin.RevokeAuthorization(customerRef=reference, reason="unpaid parcel").customerBlocked
    seen = fault_of(shop.PlaceOrder, orderId=unique("ord"), customerRef=reference, total=money(1000), deliveryMode="HOME")
    assert_client_fault(seen, "CUSTOMER_BLOCKED")


# -- conflicts -----------------------------------------------------------------------


def test_order_conflict(gateway, shop, with_policy):
    reference = customer_with_advance(gateway, shop)
    order_id = unique("ord")
    shop.PlaceOrder(orderId=order_id, customerRef=reference, total=money(1000), deliveryMode="HOME")
    seen = fault_of(shop.PlaceOrder, orderId=order_id, customerRef=reference, total=money(2000), deliveryMode="HOME")
    assert_client_fault(seen, "ORDER_CONFLICT")


def test_order_state_conflict(gateway, shop, with_policy):
    reference = customer_with_advance(gateway, shop)
    order_id = unique("ord")
    shop.PlaceOrder(orderId=order_id, customerRef=reference, total=money(1000), deliveryMode="HOME")
    shop.ReportDelivery(orderId=order_id, outcome="DELIVERED")
    assert_client_fault(fault_of(shop.ReportDelivery, orderId=order_id, outcome="CANCELLED"), "ORDER_STATE_CONFLICT")


def test_message_id_conflict(gateway, with_policy):
    sms = message()
    gateway.SubmitSms(message=sms)
    assert_client_fault(fault_of(gateway.SubmitSms, message={**sms, "text": "ACHAT"}), "MESSAGE_ID_CONFLICT")


def test_customer_conflict(shop, with_policy):
    mobile = new_mobile()
    shop.RegisterCustomer(customerRef=unique("cust"), mobile=mobile)
    assert_client_fault(fault_of(shop.RegisterCustomer, customerRef=unique("cust"), mobile=mobile), "CUSTOMER_CONFLICT")


def test_policy_version_conflict(admin, with_policy):
    assert_client_fault(fault_of(admin.SetPolicy, policy=policy_doc(), expectedVersion=7), "POLICY_VERSION_CONFLICT")


# -- invalid input caught by the domain ------------------------------------------------


def test_invalid_amount(gateway, shop, with_policy):
    reference = customer_with_advance(gateway, shop)
    seen = fault_of(shop.PlaceOrder, orderId=unique("ord"), customerRef=reference, total=money(0), deliveryMode="HOME")
    assert_client_fault(seen, "INVALID_AMOUNT")


def test_currency_mismatch(gateway, shop, with_policy):
    reference = customer_with_advance(gateway, shop)
    seen = fault_of(shop.PlaceOrder, orderId=unique("ord"), customerRef=reference, total=money(1000, "EUR"),
                    deliveryMode="HOME")
    assert_client_fault(seen, "CURRENCY_MISMATCH")


def test_invalid_phone_number(shop, with_policy):
    assert_client_fault(fault_of(shop.RegisterCustomer, customerRef=unique("cust"), mobile="12"), "INVALID_PHONE_NUMBER")


def test_invalid_policy(admin):
    bad = policy_doc(premiumNumbers=[{"number": "7575", "priceMinor": 500, "netMinor": 900, "keywords": ["SHOP"]}])
    assert_client_fault(fault_of(admin.SetPolicy, policy=bad), "INVALID_POLICY")


@pytest.mark.parametrize("call", ["blank in reference", "neither customer nor grant"])
def test_invalid_input(call, shop, admin, with_policy):
    if call == "blank in reference":
        seen = fault_of(shop.RegisterCustomer, customerRef="has blank")
    else:
        seen = fault_of(admin.RevokeAuthorization, reason="x")
    assert_client_fault(seen, "INVALID_INPUT")


# -- refused before our code runs (raw requests) ---------------------------------------


def _raw_fault(app, path: str, body: bytes, **kwargs) -> tuple[str, str, str, str]:
    status, headers, payload = call_wsgi(app, "POST", path, body, **kwargs)
    assert status.startswith("500")
    root = etree.fromstring(payload)
    fault = root.find(".//{http://schemas.xmlsoap.org/soap/envelope/}Fault")
    detail = fault.find(f"detail/{{{FAULT_NS}}}FaultDetail")
    assert detail.findtext(f"{{{FAULT_NS}}}requestId") == dict(headers)["X-Request-Id"]
    return fault.findtext("faultcode"), detail.findtext(f"{{{FAULT_NS}}}code"), fault.findtext("faultstring"), payload.decode()


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(submit_xml(channel="FAX"), id="bad-enum"),
        pytest.param(submit_xml(drop="sender"), id="missing-required"),
        pytest.param(submit_xml(message_id="x" * 129), id="too-long"),
        pytest.param(submit_xml().replace("2026-01-15T09:00:00Z", "yesterday"), id="bad-datetime"),
    ],
)
def test_schema_invalid_gateway_requests(wsgi_app, body):
    faultcode, code, _, _ = _raw_fault(wsgi_app, "/gateway", envelope(body))
    assert (faultcode, code) == ("soap:Client", "SCHEMA_INVALID")


def test_schema_invalid_currency_pattern(wsgi_app):
    body = ('<s:PlaceOrder xmlns:s="urn:mts:shop:v1"><s:orderId>o1</s:orderId><s:customerRef>c1</s:customerRef>'
            '<s:total><s:amountMinor>100</s:amountMinor><s:currency>mad</s:currency></s:total>'
            '<s:deliveryMode>HOME</s:deliveryMode></s:PlaceOrder>')
    faultcode, code, _, _ = _raw_fault(wsgi_app, "/shop", envelope(body))
    assert (faultcode, code) == ("soap:Client", "SCHEMA_INVALID")


def test_schema_invalid_float_money(wsgi_app):
    body = ('<s:PlaceOrder xmlns:s="urn:mts:shop:v1"><s:orderId>o1</s:orderId><s:customerRef>c1</s:customerRef>'
            '<s:total><s:amountMinor>10.5</s:amountMinor><s:currency>MAD</s:currency></s:total>'
            '<s:deliveryMode>HOME</s:deliveryMode></s:PlaceOrder>')
    assert _raw_fault(wsgi_app, "/shop", envelope(body))[1] == "SCHEMA_INVALID"


def test_xml_malformed(wsgi_app):
    faultcode, code, _, _ = _raw_fault(wsgi_app, "/gateway", b"<s:Envelope xmlns:s='x'><unclosed>")
    assert (faultcode, code) == ("soap:Client", "XML_MALFORMED")


def test_soap12_envelope_is_a_version_mismatch(wsgi_app):
    body = envelope(submit_xml(), soap_ns="http://www.w3.org/2003/05/soap-envelope")
    faultcode, code, _, _ = _raw_fault(wsgi_app, "/gateway", body)
    assert (faultcode, code) == ("soap:Client", "SOAP_VERSION_MISMATCH")


def test_operation_the_service_does_not_declare_is_schema_invalid(wsgi_app):
    # Schema validation runs before dispatch: an undeclared body element fails there.
    faultcode, code, _, _ = _raw_fault(wsgi_app, "/gateway", envelope('<g:ReportBilling xmlns:g="urn:mts:gateway:v1"/>'))
    assert (faultcode, code) == ("soap:Client", "SCHEMA_INVALID")


def test_request_too_large_by_content_length(wsgi_app):
    body = envelope(submit_xml()) + b" " * MAX_BYTES
    faultcode, code, _, _ = _raw_fault(wsgi_app, "/gateway", body)
    assert (faultcode, code) == ("soap:Client", "REQUEST_TOO_LARGE")


def test_request_too_large_without_content_length(wsgi_app):
    body = envelope(submit_xml()) + b" " * MAX_BYTES
    faultcode, code, _, _ = _raw_fault(wsgi_app, "/gateway", body, content_length=False)
    assert (faultcode, code) == ("soap:Client", "REQUEST_TOO_LARGE")


def test_entities_are_not_expanded(wsgi_app, with_policy):
    body = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
            + envelope(submit_xml().replace("<g:text>SHOP</g:text>", "<g:text>&e;</g:text>")))
    status, _, payload = call_wsgi(wsgi_app, "POST", "/gateway", body)
    assert b"root:" not in payload


# -- ours ----------------------------------------------------------------------------


class _Boom:
    def __call__(self, **_kwargs):
        raise RuntimeError("secret detail: password=hunter2")


def test_unexpected_error_is_internal_error_with_request_id_and_no_trace(soap_clock, caplog):
    failing = ServiceContext(_Boom(), soap_clock, ServiceKeys.from_secret(SECRET))
    app = make_wsgi_app(failing, Settings(security=False, max_request_bytes=MAX_BYTES))
    _, shop = zeep_client("shop", WsgiTransport(app), "http://mts.test/shop")
    seen = fault_of(shop.GetAuthorization, customerRef="c1")
    assert (seen.faultcode, seen.code, seen.faultstring, seen.message) == ("soap:Server", "INTERNAL_ERROR", "internal error",
                                                                           "internal error")
    assert seen.request_id
    logged = [r for r in caplog.records if r.name == "mts.soap" and r.exc_info]
    assert logged and "hunter2" in str(logged[0].exc_info[1])

    status, _, payload = call_wsgi(app, "POST", "/shop", envelope(
        '<s:GetAuthorization xmlns:s="urn:mts:shop:v1"><s:customerRef>c1</s:customerRef></s:GetAuthorization>'))
    assert b"hunter2" not in payload and b"Traceback" not in payload and b"RuntimeError" not in payload
