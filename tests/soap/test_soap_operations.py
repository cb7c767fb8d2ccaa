"""Every operation of the three services, in-process, through zeep clients built from wsdl/."""

from __future__ import annotations

from datetime import date, timedelta

from soap_helpers import code_in, customer_with_advance, message, money, new_mobile, policy_doc, unique


def test_set_and_get_policy_round_trip_the_typed_document(admin):
    stored = admin.SetPolicy(policy=policy_doc(
        depositOrders=None, templates=[{"language": "en", "key": "HELP", "text": "Send SHOP to 7575."}],
        blockAfterForfeits=2,
    ))
    assert stored.version == 1
    assert stored.depositOrders is None  # absent on the wire = unlimited
    assert [(t.language, t.key) for t in stored.templates] == [("en", "HELP")]
    again = admin.GetPolicy()
    assert again.version == 1 and again.blockAfterForfeits == 2 and again.premiumNumbers[0].priceMinor == 500
    assert admin.SetPolicy(policy=policy_doc(), expectedVersion=1).version == 2


def test_get_policy_is_empty_before_any_policy(admin):
    assert admin.GetPolicy() is None


def test_code_flow_submit_then_redeem_then_order_and_deliver(admin, gateway, shop):
    admin.SetPolicy(policy=policy_doc())
    receipt = gateway.SubmitSms(message=message("shop"))
    assert (receipt.outcome, receipt.duplicate, receipt.language) == ("CODE_ISSUED", False, "fr")
    reference = unique("cust")
    shop.RegisterCustomer(customerRef=reference, username=None, mobile=None, language="fr")
    redemption = shop.RedeemCode(customerRef=reference, code=code_in(receipt.replyText))
    assert (redemption.kind, redemption.alreadyRedeemed) == ("ADVANCE", False)
    assert (redemption.value.amountMinor, redemption.value.currency) == (500, "MAD")
    assert redemption.authorization.mayOrder and redemption.authorization.advancesLeft == 1

    order = shop.PlaceOrder(orderId=unique("ord"), customerRef=reference, total=money(12_000), deliveryMode="PICKUP",
                            pickupPointId="PP-12")
    assert (order.status, order.advanceApplied.amountMinor, order.codDue.amountMinor) == ("PLACED", 500, 11_500)
    assert (order.deliveryMode, order.pickupPointId, order.duplicate) == ("PICKUP", "PP-12", False)
    delivered = shop.ReportDelivery(orderId=order.orderId, outcome="DELIVERED")
    assert delivered.status == "DELIVERED"


def test_retried_message_and_order_are_idempotent(admin, gateway, shop):
    admin.SetPolicy(policy=policy_doc())
    sms = message()
    first = gateway.SubmitSms(message=sms)
    again = gateway.SubmitSms(message=sms)
    assert again.duplicate and again.replyText == first.replyText
    reference = customer_with_advance(gateway, shop)
    order_id = unique("ord")
    placed = shop.PlaceOrder(orderId=order_id, customerRef=reference, total=money(300), deliveryMode="HOME")
    assert placed.codDue.amountMinor == 0
    assert shop.PlaceOrder(orderId=order_id, customerRef=reference, total=money(300), deliveryMode="HOME").duplicate


def test_unknown_premium_number_is_a_refused_receipt_not_a_fault(admin, gateway):
    admin.SetPolicy(policy=policy_doc())
    receipt = gateway.SubmitSms(message=message(number="9999"))
    assert (receipt.outcome, receipt.refusalCode) == ("REFUSED", "UNKNOWN_PREMIUM_NUMBER")


def test_registered_customer_authorization_and_cancellation_returns_the_advance(admin, gateway, shop):
    admin.SetPolicy(policy=policy_doc())
    reference, mobile = unique("cust"), new_mobile()
    customer = shop.RegisterCustomer(customerRef=reference, username="amina", mobile=mobile, language="ar")
    assert (customer.customerRef, customer.username, customer.language, customer.status) == (reference, "amina", "ar", "ACTIVE")
    auth = shop.GetAuthorization(customerRef=reference)
    assert (auth.mayOrder, auth.advancesLeft, auth.reason) == (False, 0, "NO_ADVANCE")
    gateway.SubmitSms(message=message(sender=mobile))
    order = shop.PlaceOrder(orderId=unique("ord"), customerRef=reference, total=money(1000), deliveryMode="HOME")
    cancelled = shop.ReportDelivery(orderId=order.orderId, outcome="CANCELLED")
    assert cancelled.status == "CANCELLED"
    assert shop.GetAuthorization(customerRef=reference).advancesLeft == 1


def test_admin_views_revocation_ledger_and_report(admin, gateway, shop, soap_clock):
    admin.SetPolicy(policy=policy_doc())
    reference = customer_with_advance(gateway, shop, advances=2)
    details = admin.GetCustomer(customerRef=reference)
    assert details.customer.customerRef == reference and len(details.grants) == 2 and details.orders == []
    assert details.authorization.advancesLeft == 2

    revocation = admin.RevokeAuthorization(customerRef=reference, reason="refused parcel", orderId=None)
    assert len(revocation.revokedGrants) == 2 and revocation.forfeited.amountMinor == 1000
    assert {g.status for g in revocation.revokedGrants} == {"REVOKED"}
    assert revocation.customerBlocked is False
    assert admin.RevokeAuthorization(customerRef=reference, reason="again").revokedGrants == []

    first = admin.GetLedger(customerRef=reference, limit=2)
    assert len(first.entries) == 2 and first.nextAfterId is not None
    rest = admin.GetLedger(customerRef=reference, afterId=first.nextAfterId)
    kinds = [e.kind for e in first.entries + rest.entries]
    assert kinds.count("SMS_PAYMENT") == 2 and kinds.count("FORFEIT") == 2 and rest.nextAfterId is None
    assert admin.GetLedger(kind="FORFEIT").entries[0].amount.amountMinor == 500

    today = soap_clock.now().date()
    report = admin.GetReport(firstDay=today, lastDay=today + timedelta(days=1))
    assert report.firstDay == today
    row = report.rows[0]
    assert (row.premiumNumber, row.messages, row.grossMinor, row.netMinor, row.forfeitsMinor) == ("7575", 2, 1000, 600, 1000)


def test_revoke_one_grant_by_id(admin, gateway, shop):
    admin.SetPolicy(policy=policy_doc())
    reference = customer_with_advance(gateway, shop)
    grant_id = admin.GetCustomer(customerRef=reference).grants[0].grantId
    revocation = admin.RevokeAuthorization(grantId=grant_id, reason="fraud")
    assert [g.grantId for g in revocation.revokedGrants] == [grant_id]


def test_report_dates_travel_as_xsd_dates(admin):
    admin.SetPolicy(policy=policy_doc())
    report = admin.GetReport(firstDay=date(2026, 1, 1), lastDay=date(2026, 1, 31))
    assert (report.firstDay, report.lastDay, report.rows) == (date(2026, 1, 1), date(2026, 1, 31), [])


def test_responses_are_compared_with_spynes_own_serialiser(admin, gateway, shop, responses_written_as_spyne_writes_them):
    """The autouse comparison (conftest) really runs: MemberPlan wrote these responses and
    Spyne's serialiser wrote the same bytes."""
    admin.SetPolicy(policy=policy_doc())
    receipt = gateway.SubmitSms(message=message("shop"))
    reference = unique("cust")
    shop.RegisterCustomer(customerRef=reference, username=None, mobile=None, language="fr")
    shop.RedeemCode(customerRef=reference, code=code_in(receipt.replyText))
    compared = set(responses_written_as_spyne_writes_them)
    assert {"SetPolicyResponse", "SubmitSmsResponse", "RegisterCustomerResponse", "RedeemCodeResponse"} <= compared, compared
