"""The three flows and inbound-message rules, through the service layer on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from mts_service.domain.inbound import ReceiptOutcome
from mts_service.errors import InvalidInput, MessageIdConflict
from mts_service.services import admin, customers
from tests.factories import PREMIUM, code_in, make_sms, new_mobile, register, send, set_policy
from mts_service.services import sms


def test_flow1_code_after_policy_count_then_redeem(ctx):
    set_policy(ctx, mode="DEPOSIT", deposit_sms=2)
    sender = new_mobile()
    first = send(ctx, sender=sender)
    assert first.outcome is ReceiptOutcome.PROGRESS and "1" in first.reply_text and "2" in first.reply_text
    second = send(ctx, sender=sender)
    assert second.outcome is ReceiptOutcome.CODE_ISSUED
    code = code_in(second.reply_text)
    customer = register(ctx)
    result = customers.redeem_code(ctx, customer.reference, code)
    assert result.grant.customer_id == customer.customer_id and result.authorization.may_order
    assert result.authorization.deposit_orders_left == 3


def test_flow2_username_is_case_and_accent_insensitive(ctx):
    set_policy(ctx)
    customer = register(ctx, username="Hélène")
    receipt = send(ctx, text="  achat  HELENE ")
    assert receipt.outcome is ReceiptOutcome.CREDITED and receipt.flow == "USERNAME"
    assert customers.get_authorization(ctx, customer.reference).advances_left == 1


def test_flow3_registered_number_in_national_format(ctx):
    set_policy(ctx)
    customer = register(ctx, mobile="0612000001")
    receipt = send(ctx, sender="+212612000001")
    assert receipt.outcome is ReceiptOutcome.CREDITED and receipt.flow == "REGISTERED"
    assert customers.get_authorization(ctx, customer.reference).may_order


def test_unknown_username_falls_back_to_a_code(ctx):
    set_policy(ctx)
    receipt = send(ctx, text="SHOP nobody")
    assert receipt.outcome is ReceiptOutcome.CODE_ISSUED
    code_in(receipt.reply_text)


def test_text_without_keyword_is_still_credited(ctx):
    set_policy(ctx)
    receipt = send(ctx, text="bonjour")
    assert receipt.outcome is ReceiptOutcome.CODE_ISSUED


def test_help_word_is_credited_too(ctx):
    set_policy(ctx, advance_sms=2)
    receipt = send(ctx, text="AIDE")
    assert receipt.outcome is ReceiptOutcome.PROGRESS


def test_unknown_premium_number_is_recorded_and_refused_idempotently(ctx):
    set_policy(ctx)
    message = make_sms(ctx, number="9999")
    first = sms.submit_sms(ctx, message)
    assert first.outcome is ReceiptOutcome.REFUSED and first.refusal_code == "UNKNOWN_PREMIUM_NUMBER"
    again = sms.submit_sms(ctx, message)
    assert again.duplicate and again.reply_text == first.reply_text
    assert admin.check_books(ctx) == []
    assert admin.get_report(ctx, ctx.clock.now().date(), ctx.clock.now().date()).rows == ()


def test_masked_sender_gets_a_code_and_never_matches_flow3(ctx):
    set_policy(ctx)
    receipt = send(ctx, sender="HIDDEN")
    assert receipt.outcome is ReceiptOutcome.CODE_ISSUED


def test_retry_gets_identical_receipt_and_credits_once(ctx):
    set_policy(ctx)
    message = make_sms(ctx)
    first = sms.submit_sms(ctx, message)
    second = sms.submit_sms(ctx, message)
    assert second.duplicate and not first.duplicate
    assert (second.reply_text, second.outcome) == (first.reply_text, first.outcome)
    page = admin.get_ledger(ctx)
    assert [e.message_id for e in page.entries] == [message.message_id]


def test_same_message_id_other_content_is_a_conflict(ctx):
    set_policy(ctx)
    message = make_sms(ctx)
    sms.submit_sms(ctx, message)
    with pytest.raises(MessageIdConflict):
        sms.submit_sms(ctx, make_sms(ctx, message_id=message.message_id, text="SHOP other"))


def test_same_text_twice_is_credited_twice_and_flagged(ctx):
    set_policy(ctx, mode="DEPOSIT", deposit_sms=3)
    sender = new_mobile()
    send(ctx, sender=sender)
    second = send(ctx, sender=sender)
    assert second.outcome is ReceiptOutcome.PROGRESS  # credited: 2 of 3
    with ctx.uow_factory(write=False) as uow:
        assert uow.messages.get(second.message_id).flags == "NEAR_DUPLICATE"


def test_over_daily_cap_is_credited_and_flagged(ctx):
    set_policy(ctx, daily_cap_per_sender=1)
    sender = new_mobile()
    send(ctx, sender=sender)
    ctx.clock.advance(timedelta(minutes=5))
    over = send(ctx, sender=sender)
    assert over.outcome is ReceiptOutcome.CODE_ISSUED
    with ctx.uow_factory(write=False) as uow:
        assert "OVER_DAILY_CAP" in uow.messages.get(over.message_id).flags


def test_both_mode_funds_deposit_first_then_advances(ctx):
    set_policy(ctx, mode="BOTH", deposit_sms=2, advance_sms=1)
    mobile = new_mobile()
    customer = register(ctx, mobile=mobile)
    kinds = []
    for _ in range(3):
        receipt = send(ctx, sender=mobile)
        if receipt.grant_id:
            with ctx.uow_factory(write=False) as uow:
                kinds.append(uow.grants.get(receipt.grant_id).kind.value)
    assert kinds == ["DEPOSIT", "ADVANCE"]
    auth = customers.get_authorization(ctx, customer.reference)
    assert auth.may_order and auth.advances_left == 1 and auth.deposit_active


def test_arabic_sms_gets_an_arabic_reply(ctx):
    set_policy(ctx)
    receipt = send(ctx, text="مساعدة")
    assert receipt.language == "ar"


def test_customer_language_wins(ctx):
    set_policy(ctx)
    register(ctx, mobile="0612000002", language="en")
    assert send(ctx, sender="0612000002").language == "en"


def test_bad_inbound_fields_are_refused(ctx):
    set_policy(ctx)
    with pytest.raises(InvalidInput):
        sms.submit_sms(ctx, make_sms(ctx, message_id="has space"))
    with pytest.raises(InvalidInput):
        sms.submit_sms(ctx, make_sms(ctx, text="x" * 1601))


def test_registered_number_with_premium_number_spelling(ctx):
    set_policy(ctx)
    receipt = send(ctx, number=f" {PREMIUM} ")
    assert receipt.outcome is ReceiptOutcome.CODE_ISSUED


def test_help_is_added_when_the_segments_allow_and_names_the_number_used(ctx):
    set_policy(ctx, max_reply_segments=3)
    receipt = send(ctx, text="bonjour", number="7576")
    assert "Mot-clé non reconnu" in receipt.reply_text and "CAUTION" in receipt.reply_text
    assert "10,00 MAD" in receipt.reply_text
    one_sms = set_policy(ctx, max_reply_segments=1)
    assert one_sms.max_reply_segments == 1
    short = send(ctx, text="bonjour")
    assert "Mot-clé" not in short.reply_text and code_in(short.reply_text)


def _wallet_row(ctx, beneficiary: str):
    from mts_service.persistence.repositories.wallets import WalletRepository

    with ctx.uow_factory(write=False) as uow:
        return WalletRepository(uow.wallets._db).get(beneficiary)


def test_a_wallet_row_exists_only_while_it_holds_payments(ctx, engine):
    """A payment that completes a grant at once leaves no wallet row on SQLite (the write
    transaction holds the database: nothing to lock); one that waits for more is stored, and
    the wallet is emptied, not left holding it, when the grant completes. PostgreSQL keeps
    the row it locked."""
    set_policy(ctx, mode="DEPOSIT", deposit_sms=2, advance_sms=1)
    sender = new_mobile()
    beneficiary = f"s:{sender}"
    assert send(ctx, sender=sender).outcome is ReceiptOutcome.PROGRESS
    held = _wallet_row(ctx, beneficiary)
    assert (held.kind.value, held.sms_count, held.amount_minor) == ("DEPOSIT", 1, 500)
    assert send(ctx, sender=sender).outcome is ReceiptOutcome.CODE_ISSUED
    emptied = _wallet_row(ctx, beneficiary)
    assert (emptied.kind, emptied.sms_count, emptied.amount_minor) == (None, 0, 0)

    set_policy(ctx, mode="ADVANCE", advance_sms=1)
    once = new_mobile()
    assert send(ctx, sender=once).outcome is ReceiptOutcome.CODE_ISSUED
    row = _wallet_row(ctx, f"s:{once}")
    if engine.dialect.name == "sqlite":
        assert row is None
    else:
        assert (row.kind, row.sms_count, row.amount_minor) == (None, 0, 0)
