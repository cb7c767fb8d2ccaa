"""Client value objects, wire conversion and policy files: no zeep object, no float, no drift."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from types import SimpleNamespace as NS

import pytest

from gateway_client.client import message_to_wire, receipt_from_wire
from gateway_client.errors import ServiceUnavailable
from gateway_client.models import InboundMessage, ReceiptOutcome
from shop_client import InvalidPolicyFile, Money, Policy, load_policy_file
from shop_client import wire
from shop_client.admin import policy_from_wire, policy_to_wire
from shop_client.models import GrantStatus, OrderStatus

AT = datetime(2026, 1, 15, 9, 0, tzinfo=timezone.utc)


def test_money_is_integer_minor_units():
    assert str(Money(24500, "MAD")) == "245.00 MAD"
    assert str(Money(-5, "EUR")) == "-0.05 EUR"
    with pytest.raises(TypeError):
        Money(2.5, "MAD")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Money(True, "MAD")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Money(1, "mad")


def test_inbound_message_goes_out_in_wire_names_and_utc():
    message = InboundMessage("m1", "+212600000001", "7575", "PAY", AT, operator="IAM")
    assert message_to_wire(message) == {
        "messageId": "m1", "channel": "SMS", "sender": "+212600000001", "serviceNumber": "7575", "text": "PAY",
        "receivedAt": AT, "operator": "IAM",
    }
    with pytest.raises(ValueError):
        message_to_wire(InboundMessage("m1", "s", "7575", "PAY", datetime(2026, 1, 1)))


def test_receipt_from_wire():
    receipt = receipt_from_wire(NS(messageId="m1", outcome="CODE_ISSUED", replyText="Code X", duplicate=False,
                                   language="fr", refusalCode=None))
    assert receipt.outcome is ReceiptOutcome.CODE_ISSUED and receipt.language == "fr"
    with pytest.raises(ServiceUnavailable):
        receipt_from_wire(NS(messageId="m1", outcome="NEW_THING", replyText="", duplicate=False, language="fr",
                             refusalCode=None))


def _money(minor):
    return NS(amountMinor=minor, currency="MAD")


def test_order_and_ledger_from_wire_and_to_dict():
    order = wire.order(NS(orderId="o1", status="PLACED", total=_money(25000), advanceApplied=_money(500),
                          codDue=_money(24500), deliveryMode="PICKUP", pickupPointId="p-9", duplicate=False))
    assert order.status is OrderStatus.PLACED and order.cod_due == Money(24500, "MAD")
    assert order.to_dict()["cod_due"] == {"amount_minor": 24500, "currency": "MAD"}
    page = wire.ledger_page(NS(entries=[NS(entryId=1, kind="FORFEIT", amount=_money(500), at=datetime(2026, 1, 15, 9, 0),
                                           customerId=3, grantId="g", orderId="o1", messageId=None, premiumNumber="7575",
                                           operator=None, net=None, note="refused")], nextAfterId=None))
    entry = page.entries[0]
    assert entry.at.tzinfo is timezone.utc  # a zoneless wire time is UTC
    assert json.loads(json.dumps(page.to_dict()))["entries"][0]["kind"] == "FORFEIT"


def test_grant_and_report_from_wire():
    grant = wire.grant(NS(grantId="g1", kind="ADVANCE", status="REVOKED", value=_money(500), policyVersion=2,
                          createdAt=AT, premiumNumber="7575", operator=None, sender="+2126", ordersAllowed=None,
                          ordersUsed=0, expiresAt=None, codeExpiresAt=None, orderId=None, revokedAt=AT,
                          revokeReason="refused"))
    assert grant.status is GrantStatus.REVOKED and grant.orders_allowed is None
    report = wire.report(NS(firstDay=date(2026, 1, 1), lastDay=date(2026, 1, 31), rows=[NS(
        day=date(2026, 1, 15), premiumNumber="7575", operator=None, currency="MAD", messages=4, grossMinor=2000,
        netMinor=1200, advancesAppliedMinor=500, advancesReturnedMinor=0, forfeitsMinor=500, expiriesMinor=0,
        reversalsMinor=0)]))
    assert report.rows[0].operator == "" and report.to_dict()["rows"][0]["day"] == "2026-01-15"


POLICY_YAML = """\
mode: ADVANCE
currency: MAD
premium_numbers:
  - number: "7575"
    price_minor: 500
    net_minor: 300
    keywords: [PAY, PAYER]
deposit_orders: null
templates:
  fr: {help: "Envoyez PAY au 7575."}
"""


def test_policy_file_round_trips_through_the_wire_shape(tmp_path):
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY_YAML)
    policy = load_policy_file(path)
    doc = policy_to_wire(policy)
    assert doc["premiumNumbers"] == [{"number": "7575", "priceMinor": 500, "netMinor": 300,
                                      "keywords": ["PAY", "PAYER"], "operators": [], "holdUntilBilled": False}]
    assert "depositOrders" not in doc  # explicit null = unlimited = absent on the wire
    assert doc["depositValiditySeconds"] == 90 * 86400  # the documented default
    assert doc["templates"] == [{"language": "fr", "key": "help", "text": "Envoyez PAY au 7575."}]

    def ns(value):
        if isinstance(value, dict):
            return NS(**{k: ns(v) for k, v in value.items()})
        if isinstance(value, list):
            return [ns(v) for v in value]
        return value

    wire_doc = ns({"version": 4, "blockAfterForfeits": None, "dailyCapPerSender": None, "depositOrders": None,
                   "advanceValiditySeconds": None, **doc})
    back = policy_from_wire(wire_doc)
    assert back.version == 4
    assert back.settings == policy.settings


def test_policy_json_file_and_refusals(tmp_path):
    good = tmp_path / "p.json"
    good.write_text(json.dumps({"mode": "DEPOSIT", "currency": "MAD", "premium_numbers": [
        {"number": "7575", "price_minor": 500, "keywords": ["PAY"]}]}))
    assert load_policy_file(good)["mode"] == "DEPOSIT"
    bad_key = tmp_path / "bad.yaml"
    bad_key.write_text("mode: ADVANCE\ncurrency: MAD\nwhat: 1\n")
    with pytest.raises(InvalidPolicyFile, match="unknown policy keys: what"):
        load_policy_file(bad_key)
    not_yaml = tmp_path / "x.yaml"
    not_yaml.write_text("mode: [")
    with pytest.raises(InvalidPolicyFile):
        load_policy_file(not_yaml)
    with pytest.raises(InvalidPolicyFile):
        load_policy_file(tmp_path / "missing.yaml")


def test_policy_is_immutable():
    policy = Policy({"mode": "ADVANCE", "templates": {"fr": {}}}, version=1)
    policy.settings["mode"] = "BOTH"
    policy["templates"]["fr"]["x"] = "y"
    assert policy["mode"] == "ADVANCE" and policy["templates"] == {"fr": {}}
    with pytest.raises(AttributeError):
        policy.version = 2  # type: ignore[misc]
    assert policy == Policy({"mode": "ADVANCE", "templates": {"fr": {}}}, version=1)
