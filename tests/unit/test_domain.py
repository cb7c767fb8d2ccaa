"""Pure domain rules: money, text normalisation, phones, policy validation and codec, grants, ledger."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mts_service.clock import FixedClock, ensure_utc
from mts_service.domain.codes import generate_code, looks_like_code
from mts_service.domain.grants import Grant, GrantKind, GrantStatus
from mts_service.domain.inbound import InboundSms, parse_text
from mts_service.domain.ledger import EntryKind, LedgerEntry, reconcile
from mts_service.domain.money import Money
from mts_service.domain.orders import cod_due
from mts_service.domain.phone import normalise_mobile, normalise_sender
from mts_service.domain.policy import CROCKFORD_ALPHABET
from mts_service.domain.policy_codec import policy_from_dict, policy_to_dict
from mts_service.domain.text import fold, normalise_code
from mts_service.errors import CurrencyMismatch, ErrorCode, InvalidAmount, InvalidInput, InvalidPhoneNumber, InvalidPolicy
from tests.factories import make_policy, policy_dict

T0 = datetime(2026, 1, 15, 9, 0, tzinfo=timezone.utc)


# -- money ---------------------------------------------------------------------------------
def test_money_is_integer_minor_units_only():
    with pytest.raises(InvalidAmount):
        Money(1.5, "MAD")  # type: ignore[arg-type]
    with pytest.raises(InvalidAmount):
        Money(True, "MAD")  # type: ignore[arg-type]
    with pytest.raises(InvalidAmount):
        Money(100, "mad")


def test_mixed_currency_is_refused():
    with pytest.raises(CurrencyMismatch):
        Money(1, "MAD") + Money(1, "EUR")
    assert CurrencyMismatch("x").code is ErrorCode.CURRENCY_MISMATCH


@given(st.integers(0, 10**9), st.integers(0, 10**9))
def test_cod_due_is_never_negative_and_adds_up(total, advance):
    applied, due = cod_due(Money(max(total, 1), "MAD"), Money(advance, "MAD"))
    assert due.minor >= 0 and due.minor == max(max(total, 1) - advance, 0) and applied.minor == advance


# -- clock ---------------------------------------------------------------------------------
def test_clock_refuses_naive_times_and_moves_only_when_told():
    with pytest.raises(ValueError):
        ensure_utc(datetime(2026, 1, 1))
    clock = FixedClock(T0)
    assert clock.now() == T0 and clock.advance(timedelta(hours=1)) == T0 + timedelta(hours=1)


# -- text and codes ------------------------------------------------------------------------
@pytest.mark.parametrize("typed,canonical", [
    ("ab-cd 12 34", "ABCD1234"), ("oil0", "0110"), ("٣٤٥", "345"), ("۷۸۹", "789"), ("ＡＢＣ", "ABC"),
])
def test_codes_are_normalised_as_typed(typed, canonical):
    assert normalise_code(typed) == canonical


def test_fold_ignores_case_accents_and_blanks():
    assert fold("  Hélène ") == fold("HELENE") == "helene"


def test_generated_codes_use_the_alphabet_and_are_random():
    codes = {generate_code(8, CROCKFORD_ALPHABET) for _ in range(200)}
    assert len(codes) == 200 and all(looks_like_code(c, 8, CROCKFORD_ALPHABET) for c in codes)


def test_generated_codes_drop_the_bytes_that_would_favour_some_characters(monkeypatch):
    # Ten characters: bytes 250-255 would make "0"-"5" likelier if folded; they are skipped.
    batches = iter([bytes([250, 251, 252, 253, 254, 255, 3, 13, 23, 249, 255, 255, 255, 255]), bytes([7] * 14)])
    monkeypatch.setattr("mts_service.domain.codes.secrets.token_bytes", lambda n: next(batches)[:n])
    assert generate_code(6, "0123456789") == "333977"


def test_generated_code_characters_are_uniform():
    alphabet = "0123456789"  # the smallest alphabet a policy allows: the one with rejected bytes
    drawn = "".join(generate_code(100, alphabet) for _ in range(400))
    counts = [drawn.count(c) for c in alphabet]
    # 40,000 draws, 4,000 expected each; a folded byte would push "0"-"5" up by about 2.4 %.
    assert sum((k - 4000) ** 2 / 4000 for k in counts) < 27.9   # chi-square, 9 dof, p = 0.001


def test_keyword_parsing():
    premium = make_policy().premium_numbers[0]
    assert parse_text(" shop  Alice ", premium).username == "alice"
    assert parse_text("Achat", premium).keyword_matched
    assert parse_text("AIDE", premium).help_asked and parse_text("مساعدة", premium).help_asked
    assert not parse_text("bonjour", premium).keyword_matched
    assert not parse_text("", premium).keyword_matched


def test_inbound_validation_and_fingerprint():
    message = InboundSms("id-1", "+212661000001", "7575", "SHOP", T0)
    assert message.validate().fingerprint() == InboundSms("id-1", "+212661000001 ", "7575", "SHOP", T0).fingerprint()
    assert message.fingerprint() != InboundSms("id-1", "+212661000001", "7575", "SHOP x", T0).fingerprint()
    with pytest.raises(InvalidInput):
        InboundSms("", "+212661000001", "7575", "SHOP", T0).validate()


# -- phones --------------------------------------------------------------------------------
def test_phone_numbers_are_e164_and_masked_senders_opaque():
    assert normalise_mobile("0661000001", "MA") == "+212661000001"
    assert normalise_sender("00212661000001", "MA") == "+212661000001"
    assert normalise_sender("HIDDEN", "MA") == "opaque:HIDDEN"
    with pytest.raises(InvalidPhoneNumber):
        normalise_mobile("12", "MA")


# -- policy --------------------------------------------------------------------------------
def test_policy_round_trips_through_its_dict_form():
    policy = make_policy(mode="BOTH", deposit_orders=None, templates={"en": {"HELP": "Send SHOP to 7575."}})
    assert policy_from_dict(policy_to_dict(policy)) == policy
    policy.validate()


@pytest.mark.parametrize("patch", [
    {"unknown_key": 1}, {"advance_sms": "2"}, {"advance_sms": True}, {"flows": ["SOMETIMES"]},
    {"codes": {"alphabet": "0123456789ABCDEFGHIJKLMNOPQRSTUV"}}, {"codes": {"length": 6, "alphabet": "0123456789"}},
    {"premium_numbers": [{"number": "7575", "price_minor": 500, "keywords": ["AIDE"]}]},
    {"premium_numbers": [{"number": "75-75", "price_minor": 500, "keywords": ["SHOP"]}]},
    {"max_reply_segments": 0}, {"block_after_forfeits": 0},
])
def test_policy_validation_refuses(patch):
    with pytest.raises(InvalidPolicy):
        policy_from_dict(policy_dict(**patch)).validate()


# -- grants and ledger -----------------------------------------------------------------------
def _grant(**kw) -> Grant:
    base = dict(grant_id="g1", kind=GrantKind.ADVANCE, status=GrantStatus.ACTIVE, value=Money(500, "MAD"),
                policy_version=1, created_at=T0, premium_number="7575")
    base.update(kw)
    return Grant(**base)


def test_remaining_value_by_kind_and_status():
    assert _grant().remaining_value().minor == 500
    assert _grant(status=GrantStatus.EXHAUSTED).remaining_value().minor == 0
    assert _grant(kind=GrantKind.DEPOSIT, status=GrantStatus.EXHAUSTED).remaining_value().minor == 500
    assert _grant(status=GrantStatus.REVOKED).remaining_value().minor == 0


def test_reconcile_finds_every_discrepancy():
    payment = LedgerEntry(EntryKind.SMS_PAYMENT, Money(500, "MAD"), T0, message_id="m1")
    assert reconcile([payment], [_grant()], 0) == []
    problems = reconcile([payment, LedgerEntry(EntryKind.FORFEIT, Money(500, "MAD"), T0, grant_id="g1")], [_grant()], 100)
    assert {p.subject for p in problems} == {"grant g1", "payments"}
    assert reconcile([LedgerEntry(EntryKind.EXPIRY, Money(1, "MAD"), T0, grant_id="ghost")], [], 0)


@pytest.mark.parametrize("bad", [["MAD"], "mad", "MADX", "", None, 5])
def test_money_refuses_a_bad_currency_even_once_good_ones_are_known(bad):
    Money(1, "MAD"), Money(2, "EUR")   # known codes skip the pattern check from now on
    with pytest.raises(InvalidAmount):
        Money(1, bad)
