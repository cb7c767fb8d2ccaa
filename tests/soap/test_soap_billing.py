"""ReportBilling (gateway) and ConfirmBilling / GetReport billing figures (admin), through zeep from wsdl/."""

from __future__ import annotations

from soap_helpers import assert_client_fault, code_in, fault_of, message, policy_doc, unique


def held_policy() -> dict:
    doc = policy_doc()
    doc["premiumNumbers"].append(
        {"number": "7577", "priceMinor": 500, "netMinor": 300, "keywords": ["SHOP"], "operators": ["IAM"], "holdUntilBilled": True}
    )
    return doc


def test_report_billing_confirms_a_held_credit_and_answers_the_reply_to_send(admin, gateway, shop):
    admin.SetPolicy(policy=held_policy())
    receipt = gateway.SubmitSms(message=message(number="7577"))
    assert receipt.outcome == "HELD" and "confirmation" in receipt.replyText
    confirmed = gateway.ReportBilling(messageId=receipt.messageId, status="CONFIRMED")
    assert (confirmed.status, confirmed.outcome, confirmed.duplicate, confirmed.reversal) == ("CONFIRMED", "CODE_ISSUED", False, None)
    again = gateway.ReportBilling(messageId=receipt.messageId, status="CONFIRMED")
    assert again.duplicate and again.replyText == confirmed.replyText
    reference = unique("cust")
    shop.RegisterCustomer(customerRef=reference, username=None, mobile=None, language="fr")
    assert shop.RedeemCode(customerRef=reference, code=code_in(confirmed.replyText)).authorization.mayOrder


def test_report_billing_failed_reverses_and_faults(admin, gateway):
    admin.SetPolicy(policy=policy_doc())
    receipt = gateway.SubmitSms(message=message())
    failed = gateway.ReportBilling(messageId=receipt.messageId, status="FAILED")
    assert (failed.status, failed.reversal, failed.outcome, failed.replyText) == ("FAILED", "GRANT", None, None)
    assert_client_fault(fault_of(gateway.ReportBilling, messageId=receipt.messageId, status="CONFIRMED"), "MESSAGE_ID_CONFLICT")
    assert_client_fault(fault_of(gateway.ReportBilling, messageId="never-sent", status="FAILED"), "UNKNOWN_MESSAGE")
    [entry] = admin.GetLedger(kind="BILLING_REVERSAL").entries
    assert (entry.messageId, entry.amount.amountMinor) == (receipt.messageId, 500)


def test_report_billing_refuses_a_status_outside_the_enumeration(admin, gateway):
    admin.SetPolicy(policy=policy_doc())
    receipt = gateway.SubmitSms(message=message())
    assert_client_fault(fault_of(gateway.ReportBilling, messageId=receipt.messageId, status="HELD"), "SCHEMA_INVALID")


def test_confirm_billing_and_report_figures(admin, gateway, soap_clock):
    admin.SetPolicy(policy=held_policy())
    day = soap_clock.now().date()
    kept, lost = gateway.SubmitSms(message=message()), gateway.SubmitSms(message=message())
    gateway.SubmitSms(message=message(number="7577"))
    gateway.ReportBilling(messageId=lost.messageId, status="FAILED")
    confirmation = admin.ConfirmBilling(day=day, premiumNumber="7575", operator="IAM")
    assert (confirmation.confirmed, confirmation.heldLeft, confirmation.operator) == (1, 0, "IAM")
    assert admin.ConfirmBilling(day=day, premiumNumber="7577").heldLeft == 1
    assert_client_fault(fault_of(admin.ConfirmBilling, day=day, premiumNumber="1234"), "UNKNOWN_PREMIUM_NUMBER")
    rows = {r.premiumNumber: r for r in admin.GetReport(firstDay=day, lastDay=day).rows}
    row = rows["7575"]
    assert (row.messages, row.grossMinor, row.failedMessages, row.failedGrossMinor, row.reversalsMinor) == (2, 1000, 1, 500, 500)
    assert (row.billedMessages, row.billedGrossMinor, row.billedNetMinor, row.confirmedMessages) == (1, 500, 300, 1)
    assert (rows["7577"].pendingMessages, rows["7577"].billedMessages) == (1, 1)
    assert kept.outcome == "CODE_ISSUED"
