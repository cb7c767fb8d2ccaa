"""Revocation, policy versions, expiry sweep, ledger paging and reports."""

from __future__ import annotations

from datetime import timedelta

import pytest

from mts_service.domain.ledger import EntryKind
from mts_service.domain.money import Money
from mts_service.errors import (
    CustomerConflict,
    InvalidInput,
    InvalidPhoneNumber,
    InvalidPolicy,
    PolicyVersionConflict,
    UnknownCustomer,
    UnknownGrant,
)
from mts_service.services import admin, customers, orders
from tests.factories import code_in, customer_with_advance, make_policy, new_mobile, order, register, send, set_policy


def test_revocation_forfeits_remaining_value_and_is_idempotent(ctx):
    set_policy(ctx)
    customer = customer_with_advance(ctx, count=2)
    placed = orders.place_order(ctx, order(customer.reference)).order
    result = admin.revoke(ctx, customer_ref=customer.reference, reason="refused delivery", order_id=placed.order_id)
    assert result.forfeited == Money(500, "MAD") and len(result.revoked) == 1
    again = admin.revoke(ctx, customer_ref=customer.reference, reason="refused delivery")
    assert again.revoked == () and again.forfeited is None
    forfeits = admin.get_ledger(ctx, kind=EntryKind.FORFEIT).entries
    assert len(forfeits) == 1 and forfeits[0].order_id == placed.order_id
    assert admin.check_books(ctx) == []


def test_revoke_one_grant_including_a_pending_code(ctx):
    set_policy(ctx)
    receipt = send(ctx)
    result = admin.revoke(ctx, grant_id=receipt.grant_id, reason="fraud")
    assert result.revoked[0].status.value == "REVOKED"
    with pytest.raises(UnknownGrant):
        admin.revoke(ctx, grant_id="nope", reason="x")
    with pytest.raises(InvalidInput):
        admin.revoke(ctx, reason="no target")
    with pytest.raises(UnknownCustomer):
        admin.revoke(ctx, customer_ref="nobody", reason="x")


def test_block_after_n_forfeits(ctx):
    set_policy(ctx, block_after_forfeits=2)
    customer = customer_with_advance(ctx)
    assert not admin.revoke(ctx, customer_ref=customer.reference, reason="1").customer_blocked
    send(ctx, sender=customer.mobile)
    assert admin.revoke(ctx, customer_ref=customer.reference, reason="2").customer_blocked


def test_policy_is_versioned_and_grants_keep_their_terms(ctx):
    first = set_policy(ctx, mode="DEPOSIT", deposit_sms=1, deposit_orders=1)
    mobile = new_mobile()
    customer = register(ctx, mobile=mobile)
    send(ctx, sender=mobile)
    second = set_policy(ctx, mode="DEPOSIT", deposit_sms=1, deposit_orders=5)
    assert (first.version, second.version) == (1, 2)
    assert admin.get_policy(ctx).deposit_orders == 5
    assert customers.get_authorization(ctx, customer.reference).deposit_orders_left == 1
    with pytest.raises(PolicyVersionConflict):
        admin.set_policy(ctx, make_policy(), expected_version=1)
    assert admin.set_policy(ctx, make_policy(), expected_version=2).version == 3


@pytest.mark.parametrize(
    "overrides",
    [
        {"premium_numbers": []},
        {"advance_sms": 0},
        {"deposit_orders": 0},
        {"codes": {"length": 3}},
        {"deposit_validity_seconds": -5},
        {"currency": "EURO"},
        {"templates": {"fr": {"CODE_ISSUED": "{code} " + "x" * 200}}},
        {"templates": {"fr": {"CODE_ISSUED": "{secret}"}}},
        {"mode": "SOMETIMES"},
        {"premium_numbers": [{"number": "7575", "price_minor": 500, "net_minor": 900, "keywords": ["A"]}]},
    ],
)
def test_invalid_policy_is_refused_and_changes_nothing(ctx, overrides):
    set_policy(ctx)
    with pytest.raises(InvalidPolicy):
        set_policy(ctx, **overrides)
    assert admin.get_policy(ctx).version == 1


def test_expiry_sweep_records_expiries(ctx):
    set_policy(ctx, mode="DEPOSIT", deposit_sms=1, deposit_validity_seconds=86400, codes={"ttl_seconds": 3600})
    mobile = new_mobile()
    customer = register(ctx, mobile=mobile)
    send(ctx, sender=mobile)  # active deposit, 1 day
    send(ctx)  # pending code, 1 hour
    ctx.clock.advance(timedelta(hours=2))
    assert admin.expire(ctx) == 1
    ctx.clock.advance(timedelta(days=1))
    assert admin.expire(ctx) == 1
    assert admin.expire(ctx) == 0
    assert not customers.get_authorization(ctx, customer.reference).may_order
    assert len(admin.get_ledger(ctx, kind=EntryKind.EXPIRY).entries) == 2
    assert admin.check_books(ctx) == []


def test_usable_grants_respect_expiry_before_the_sweep(ctx):
    set_policy(ctx, mode="DEPOSIT", deposit_sms=1, deposit_validity_seconds=60)
    mobile = new_mobile()
    customer = register(ctx, mobile=mobile)
    send(ctx, sender=mobile)
    ctx.clock.advance(timedelta(minutes=2))
    assert not customers.get_authorization(ctx, customer.reference).may_order


def test_ledger_pages(ctx):
    set_policy(ctx)
    for _ in range(5):
        send(ctx)
    page = admin.get_ledger(ctx, limit=2)
    seen = list(page.entries)
    while page.next_after_id is not None:
        page = admin.get_ledger(ctx, limit=2, after_id=page.next_after_id)
        seen += page.entries
    assert len(seen) == 5 and len({e.entry_id for e in seen}) == 5
    with pytest.raises(InvalidInput):
        admin.get_ledger(ctx, limit=0)


def test_report_per_day_number_and_operator(ctx):
    set_policy(ctx)
    customer = customer_with_advance(ctx, count=2)
    send(ctx, number="7576", operator="INWI")
    orders.place_order(ctx, order(customer.reference))
    admin.revoke(ctx, customer_ref=customer.reference, reason="r")
    day = ctx.clock.now().date()
    rows = {(r.premium_number, r.operator): r for r in admin.get_report(ctx, day, day).rows}
    main = rows[("7575", "IAM")]
    assert (main.messages, main.gross_minor, main.net_minor) == (2, 1000, 600)
    assert (main.advances_applied_minor, main.forfeits_minor) == (500, 500)
    assert rows[("7576", "INWI")].gross_minor == 1000
    with pytest.raises(InvalidInput):
        admin.get_report(ctx, day, day - timedelta(days=1))


def test_registration_rules(ctx):
    set_policy(ctx)
    alice = register(ctx, "alice", username="alice", mobile="0612000010")
    assert register(ctx, "alice", username="alice", mobile="+212612000010") == alice
    with pytest.raises(CustomerConflict):
        register(ctx, "bob", username="ALICE")
    with pytest.raises(CustomerConflict):
        register(ctx, "bob", mobile="0612000010")
    with pytest.raises(InvalidPhoneNumber):
        register(ctx, "bob", mobile="12")
    with pytest.raises(InvalidInput):
        register(ctx, "bad ref with spaces")
    updated = register(ctx, "alice", username="alice2", language="ar")
    assert updated.username == "alice2" and updated.mobile is None


def test_code_flow_bound_grant_shows_in_customer_view(ctx):
    set_policy(ctx)
    code = code_in(send(ctx).reply_text)
    customer = register(ctx)
    customers.redeem_code(ctx, customer.reference, code)
    view = admin.get_customer(ctx, customer.reference)
    assert len(view.grants) == 1 and view.authorization.advances_left == 1
