"""Billing confirmation: ReportBilling's rules, the hold until billed, reversals and the books."""

from __future__ import annotations

from datetime import timedelta

import pytest

from mts_service.domain.billing import BillingStatus
from mts_service.domain.grants import GrantStatus
from mts_service.domain.inbound import MessageFlag, ReceiptOutcome
from mts_service.domain.ledger import EntryKind, Recovery
from mts_service.errors import ErrorCode, InvalidCode, InvalidInput, MessageIdConflict, NotAuthorized, UnknownMessage
from mts_service.errors import UnknownPremiumNumber
from mts_service.services import admin, billing, customers, orders
from tests.factories import PREMIUM, code_in, customer_with_advance, new_mobile, order, policy_dict, register, send, set_policy

HELD_NUMBER = "7577"


def hold_policy(ctx, **overrides):
    """The default policy plus a premium number whose credit waits for the operator."""
    data = policy_dict(**overrides)
    data["premium_numbers"].append(
        {"number": HELD_NUMBER, "price_minor": 500, "net_minor": 300, "keywords": ["SHOP"], "operators": ["INWI"],
         "hold_until_billed": True}
    )
    from mts_service.domain.policy_codec import policy_from_dict

    return admin.set_policy(ctx, policy_from_dict(data))


def reversals(ctx):
    return admin.get_ledger(ctx, kind=EntryKind.BILLING_REVERSAL).entries


def stored(ctx, message_id):
    with ctx.uow_factory(write=False) as uow:
        return uow.messages.get(message_id)


def grant_of(ctx, grant_id):
    with ctx.uow_factory(write=False) as uow:
        return uow.grants.get(grant_id)


# -- the status rules ----------------------------------------------------------------


def test_confirmed_is_idempotent_and_failed_after_it_is_a_conflict(ctx):
    set_policy(ctx)
    receipt = send(ctx)
    first = billing.report_billing(ctx, receipt.message_id, "CONFIRMED")
    assert (first.status, first.outcome, first.reply_text, first.duplicate) == ("CONFIRMED", None, None, False)
    again = billing.report_billing(ctx, receipt.message_id, BillingStatus.CONFIRMED)
    assert again.status == "CONFIRMED" and again.duplicate
    with pytest.raises(MessageIdConflict) as refused:
        billing.report_billing(ctx, receipt.message_id, "FAILED")
    assert refused.value.code is ErrorCode.MESSAGE_ID_CONFLICT
    assert reversals(ctx) == () and admin.check_books(ctx) == []


def test_failed_twice_reverses_once_and_confirmed_after_it_is_a_conflict(ctx):
    set_policy(ctx)
    receipt = send(ctx)
    first = billing.report_billing(ctx, receipt.message_id, "FAILED")
    second = billing.report_billing(ctx, receipt.message_id, "FAILED")
    assert first.recovery == second.recovery == Recovery.GRANT.value and second.duplicate
    assert len(reversals(ctx)) == 1
    with pytest.raises(MessageIdConflict):
        billing.report_billing(ctx, receipt.message_id, "CONFIRMED")


def test_unknown_message_and_bad_status(ctx):
    set_policy(ctx)
    with pytest.raises(UnknownMessage) as unknown:
        billing.report_billing(ctx, "no-such-id", "CONFIRMED")
    assert unknown.value.code is ErrorCode.UNKNOWN_MESSAGE
    receipt = send(ctx)
    for bad in ("HELD", "UNCONFIRMED", "PAID"):
        with pytest.raises(InvalidInput):
            billing.report_billing(ctx, receipt.message_id, bad)
    assert stored(ctx, receipt.message_id).billing_status == "UNCONFIRMED"


# -- FAILED: where the payment is taken back from ------------------------------------------


def test_failed_payment_still_in_a_wallet_reduces_the_wallet(ctx):
    set_policy(ctx, mode="DEPOSIT", deposit_sms=3)
    mobile = new_mobile()
    first, second = send(ctx, sender=mobile), send(ctx, sender=mobile)
    assert second.outcome is ReceiptOutcome.PROGRESS
    result = billing.report_billing(ctx, first.message_id, "FAILED")
    assert result.recovery == Recovery.WALLET.value
    with ctx.uow_factory(write=False) as uow:
        wallet = uow.wallets.get(f"s:{mobile}")
    assert (wallet.sms_count, wallet.amount_minor) == (1, 500)
    assert admin.check_books(ctx) == []
    # The failed SMS no longer counts: two more are needed for the deposit, and it is worth 1000 + 500.
    assert send(ctx, sender=mobile).outcome is ReceiptOutcome.PROGRESS
    done = send(ctx, sender=mobile)
    assert done.outcome is ReceiptOutcome.CODE_ISSUED
    assert grant_of(ctx, done.grant_id).value.minor == 1500
    assert stored(ctx, first.message_id).grant_id is None
    assert admin.check_books(ctx) == []


def test_failed_payment_of_an_unused_grant_reduces_it_and_zero_makes_it_reversed(ctx):
    set_policy(ctx)
    receipt = send(ctx)  # flow 1: a PENDING_CODE advance worth the one SMS
    result = billing.report_billing(ctx, receipt.message_id, "FAILED")
    assert result.recovery == Recovery.GRANT.value
    grant = grant_of(ctx, receipt.grant_id)
    assert grant.status is GrantStatus.REVERSED and grant.value.minor == 0
    customer = register(ctx)
    with pytest.raises(InvalidCode):  # its code is dead
        customers.redeem_code(ctx, customer.reference, code_in(receipt.reply_text))
    assert admin.check_books(ctx) == []
    [entry] = reversals(ctx)
    assert (entry.amount.minor, entry.grant_id, entry.message_id, entry.recovery) == (
        500, receipt.grant_id, receipt.message_id, Recovery.GRANT)


def test_failed_payment_of_a_deposit_lowers_its_value_and_the_forfeit(ctx):
    set_policy(ctx, mode="DEPOSIT", deposit_sms=2)
    customer = register(ctx, mobile=new_mobile())
    first, second = send(ctx, sender=customer.mobile), send(ctx, sender=customer.mobile)
    assert second.outcome is ReceiptOutcome.CREDITED
    billing.report_billing(ctx, first.message_id, "FAILED")
    grant = grant_of(ctx, second.grant_id)
    assert grant.status is GrantStatus.ACTIVE and grant.value.minor == 500
    orders.place_order(ctx, order(customer.reference))  # still covers orders
    assert admin.revoke(ctx, customer_ref=customer.reference, reason="refused").forfeited.minor == 500
    assert admin.check_books(ctx) == []


def test_reversed_advance_cannot_pay_an_order(ctx):
    set_policy(ctx)
    customer = customer_with_advance(ctx)
    [grant] = admin.get_customer(ctx, customer.reference).grants
    with ctx.uow_factory(write=False) as uow:
        [message_id] = [e.message_id for e in uow.ledger.all() if e.kind is EntryKind.SMS_PAYMENT]
    billing.report_billing(ctx, message_id, "FAILED")
    with pytest.raises(NotAuthorized):
        orders.place_order(ctx, order(customer.reference))
    assert not admin.get_customer(ctx, customer.reference).authorization.may_order
    assert admin.check_books(ctx) == []


@pytest.mark.parametrize("gone", ["used", "revoked", "expired"])
def test_failed_payment_of_a_used_or_gone_grant_is_unrecovered_and_flagged(ctx, clock, gone):
    set_policy(ctx, advance_validity_seconds=3600)
    customer = customer_with_advance(ctx)
    [grant] = admin.get_customer(ctx, customer.reference).grants
    if gone == "used":
        orders.place_order(ctx, order(customer.reference))
    elif gone == "revoked":
        admin.revoke(ctx, customer_ref=customer.reference, reason="refused")
    else:
        clock.advance(timedelta(hours=2))
        assert admin.expire(ctx) == 1
    with ctx.uow_factory(write=False) as uow:
        [message_id] = [e.message_id for e in uow.ledger.all() if e.kind is EntryKind.SMS_PAYMENT]
    result = billing.report_billing(ctx, message_id, "FAILED")
    assert result.recovery == Recovery.UNRECOVERED.value
    assert MessageFlag.BILLING_UNRECOVERED.value in stored(ctx, message_id).flags.split(",")
    assert grant_of(ctx, grant.grant_id).value.minor == 500  # the grant keeps what it was worth
    assert admin.check_books(ctx) == []
    assert billing.report_billing(ctx, message_id, "FAILED").recovery == Recovery.UNRECOVERED.value


def test_reconcile_counts_an_unrecovered_reversal_and_catches_a_missing_recovery():
    from datetime import datetime, timezone

    from mts_service.domain.ledger import LedgerEntry, reconcile
    from mts_service.domain.money import Money

    at = datetime(2026, 1, 1, tzinfo=timezone.utc)
    paid = LedgerEntry(EntryKind.SMS_PAYMENT, Money(500, "MAD"), at)
    lost = LedgerEntry(EntryKind.BILLING_REVERSAL, Money(500, "MAD"), at, recovery=Recovery.UNRECOVERED)
    # The payment made up a grant that was used (worth 500 in grants): 500 - 500 = 500 + 0 + 0 - 500.
    from mts_service.domain.grants import Grant, GrantKind

    used = Grant("g", GrantKind.ADVANCE, GrantStatus.EXHAUSTED, Money(500, "MAD"), 1, at, PREMIUM, order_id="o")
    applied = LedgerEntry(EntryKind.ADVANCE_APPLIED, Money(500, "MAD"), at, grant_id="g")
    assert reconcile([paid, applied, lost], [used], 0) == []
    unknown = LedgerEntry(EntryKind.BILLING_REVERSAL, Money(500, "MAD"), at)
    subjects = [d.subject for d in reconcile([paid, applied, unknown], [used], 0)]
    assert "payments" in subjects and any(s.startswith("entry") for s in subjects)
    held = reconcile([LedgerEntry(EntryKind.SMS_PAYMENT, Money(500, "MAD"), at)], [], 0, held_total=500)
    assert held == []


# -- hold until billed --------------------------------------------------------------------


def test_held_message_is_paid_but_not_credited_until_confirmed(ctx):
    hold_policy(ctx)
    receipt = send(ctx, number=HELD_NUMBER, operator="INWI")
    assert receipt.outcome is ReceiptOutcome.HELD and receipt.grant_id is None
    assert "attente de confirmation" in receipt.reply_text
    with ctx.uow_factory(write=False) as uow:
        assert uow.grants.all() == [] and uow.messages.held_total() == 500
    assert admin.check_books(ctx) == []

    confirmed = billing.report_billing(ctx, receipt.message_id, "CONFIRMED")
    assert confirmed.outcome is ReceiptOutcome.CODE_ISSUED and confirmed.grant_id
    code = code_in(confirmed.reply_text)
    assert admin.check_books(ctx) == []
    # The same report again gives the same code, and credits nothing twice.
    again = billing.report_billing(ctx, receipt.message_id, "CONFIRMED")
    assert again.reply_text == confirmed.reply_text and again.duplicate and again.outcome is ReceiptOutcome.CODE_ISSUED
    with ctx.uow_factory(write=False) as uow:
        assert len(uow.grants.all()) == 1 and uow.messages.held_total() == 0
    customer = register(ctx)
    redeemed = customers.redeem_code(ctx, customer.reference, code)
    assert redeemed.grant.grant_id == confirmed.grant_id and redeemed.authorization.may_order


def test_held_retry_of_submit_gets_the_identical_held_receipt(ctx):
    hold_policy(ctx)
    mobile = new_mobile()
    receipt = send(ctx, number=HELD_NUMBER, sender=mobile, message_id="held-1", operator="INWI")
    retry = send(ctx, number=HELD_NUMBER, sender=mobile, message_id="held-1", operator="INWI")
    assert retry.duplicate and retry.reply_text == receipt.reply_text and retry.outcome is ReceiptOutcome.HELD
    assert retry.refusal_code is None


def test_held_messages_of_a_registered_customer_complete_a_deposit_on_confirmation(ctx):
    hold_policy(ctx, mode="DEPOSIT", deposit_sms=2)
    customer = register(ctx, mobile=new_mobile(), language="en")
    first = send(ctx, number=HELD_NUMBER, sender=customer.mobile, operator="INWI")
    second = send(ctx, number=HELD_NUMBER, sender=customer.mobile, operator="INWI")
    assert "awaiting the operator's confirmation" in first.reply_text
    assert not admin.get_customer(ctx, customer.reference).authorization.deposit_active
    assert billing.report_billing(ctx, second.message_id, "CONFIRMED").outcome is ReceiptOutcome.PROGRESS
    done = billing.report_billing(ctx, first.message_id, "CONFIRMED")
    assert done.outcome is ReceiptOutcome.CREDITED and "active" in done.reply_text
    assert admin.get_customer(ctx, customer.reference).authorization.deposit_active
    assert {stored(ctx, m.message_id).grant_id for m in (first, second)} == {done.grant_id}
    assert admin.check_books(ctx) == []


def test_held_message_failed_credits_nothing(ctx):
    hold_policy(ctx)
    receipt = send(ctx, number=HELD_NUMBER, operator="INWI")
    result = billing.report_billing(ctx, receipt.message_id, "FAILED")
    assert (result.recovery, result.reply_text, result.outcome) == (Recovery.HELD.value, None, None)
    with ctx.uow_factory(write=False) as uow:
        assert uow.grants.all() == [] and uow.messages.held_total() == 0 and uow.wallets.total() == 0
    assert admin.check_books(ctx) == []


def test_held_reply_fits_one_sms_in_every_language(ctx):
    from mts_service.domain.sms_text import segment_count

    hold_policy(ctx)
    for text, language in (("SHOP", "fr"), ("SHOP", "en"), ("مساعدة", "ar")):
        customer = register(ctx, mobile=new_mobile(), language=language)
        reply = send(ctx, number=HELD_NUMBER, sender=customer.mobile, text=text).reply_text
        assert segment_count(reply).segments == 1, reply


# -- ConfirmBilling by day ------------------------------------------------------------------


def test_confirm_billing_by_day_confirms_unconfirmed_and_leaves_held_to_the_gateway(ctx, clock):
    hold_policy(ctx)
    day = clock.now().date()
    a, b = send(ctx), send(ctx, operator="MEDITEL")
    held = send(ctx, number=HELD_NUMBER, operator="INWI")
    only_iam = billing.confirm_billing(ctx, day, PREMIUM, "IAM")
    assert (only_iam.confirmed, only_iam.held_left) == (1, 0)
    assert stored(ctx, a.message_id).billing_status == "CONFIRMED"
    assert stored(ctx, b.message_id).billing_status == "UNCONFIRMED"
    assert billing.confirm_billing(ctx, day, PREMIUM).confirmed == 1
    assert billing.confirm_billing(ctx, day, PREMIUM).confirmed == 0
    assert billing.confirm_billing(ctx, day, HELD_NUMBER).held_left == 1
    assert stored(ctx, held.message_id).billing_status == "HELD"
    with pytest.raises(UnknownPremiumNumber):
        billing.confirm_billing(ctx, day, "1234")


# -- the report --------------------------------------------------------------------------


def test_report_shows_failed_figures_on_the_message_day(ctx, clock):
    hold_policy(ctx)
    day = clock.now().date()
    kept, lost = send(ctx), send(ctx)
    held = send(ctx, number=HELD_NUMBER, operator="INWI")
    billing.report_billing(ctx, kept.message_id, "CONFIRMED")
    clock.advance(timedelta(days=1))
    billing.report_billing(ctx, lost.message_id, "FAILED")
    report = admin.get_report(ctx, day, day + timedelta(days=1))
    rows = {(r.day, r.premium_number, r.operator): r for r in report.rows}
    iam = rows[(day.isoformat(), PREMIUM, "IAM")]
    assert (iam.messages, iam.gross_minor, iam.failed_messages, iam.failed_gross_minor, iam.failed_net_minor) == (
        2, 1000, 1, 500, 300)
    assert (iam.billed_messages, iam.billed_gross_minor, iam.billed_net_minor) == (1, 500, 300)
    assert (iam.confirmed_messages, iam.pending_messages, iam.reversals_minor) == (1, 0, 0)
    inwi = rows[(day.isoformat(), HELD_NUMBER, "INWI")]
    assert (inwi.messages, inwi.pending_messages) == (1, 1)
    # The ledger's reversal is on the day it happened.
    assert rows[((day + timedelta(days=1)).isoformat(), PREMIUM, "IAM")].reversals_minor == 500
    assert held.outcome is ReceiptOutcome.HELD


def test_report_counts_delivery_outcomes_per_day(ctx, clock):
    set_policy(ctx)
    day = clock.now().date()
    from mts_service.domain.orders import DeliveryOutcome

    customer = customer_with_advance(ctx, count=3)
    placed = [orders.place_order(ctx, order(customer.reference)).order for _ in range(3)]
    orders.report_delivery(ctx, placed[0].order_id, DeliveryOutcome.DELIVERED)
    orders.report_delivery(ctx, placed[1].order_id, DeliveryOutcome.REFUSED)
    clock.advance(timedelta(days=1))
    orders.report_delivery(ctx, placed[2].order_id, DeliveryOutcome.CANCELLED)
    report = admin.get_report(ctx, day, day + timedelta(days=1))
    first, second = report.deliveries
    assert (first.day, first.delivered, first.refused, first.refusal_rate) == (day.isoformat(), 1, 1, 0.5)
    assert (second.cancelled, second.refusal_rate) == (1, None)
