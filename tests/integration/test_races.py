"""Racing requests from several processes: no double redemption, no deposit over its
count, no advance used twice, no SMS credited twice. On SQLite and on PostgreSQL."""

from __future__ import annotations

import pytest

from mts_service.services import admin, customers
from tests.factories import code_in, make_sms, new_mobile, order, register, send, set_policy
from tests.integration.racing import race

pytestmark = pytest.mark.slow


def test_50_concurrent_redemptions_of_one_code_exactly_one_wins(ctx, database_url):
    set_policy(ctx)
    code = code_in(send(ctx).reply_text)
    refs = [register(ctx).reference for _ in range(50)]
    outcomes = race(database_url, ctx.clock.now(), "redeem", [(ref, code) for ref in refs])
    assert [o for o in outcomes if o[0] == "crash"] == []
    assert sum(1 for o in outcomes if o[0] == "ok") == 1
    assert {o[1] for o in outcomes if o[0] == "refused"} == {"INVALID_CODE"}
    assert admin.check_books(ctx) == []


def test_deposit_for_3_orders_with_20_racing_orders_accepts_exactly_3(ctx, database_url):
    set_policy(ctx, mode="DEPOSIT", deposit_sms=1, deposit_orders=3)
    mobile = new_mobile()
    customer = register(ctx, mobile=mobile)
    send(ctx, sender=mobile)
    outcomes = race(database_url, ctx.clock.now(), "order", [order(customer.reference) for _ in range(20)])
    assert [o for o in outcomes if o[0] == "crash"] == []
    assert sum(1 for o in outcomes if o[0] == "ok") == 3
    assert {o[1] for o in outcomes if o[0] == "refused"} == {"NOT_AUTHORIZED"}
    assert customers.get_authorization(ctx, customer.reference).deposit_orders_left == 0
    assert admin.check_books(ctx) == []


def test_one_advance_with_10_racing_orders_accepts_one(ctx, database_url):
    set_policy(ctx)
    mobile = new_mobile()
    customer = register(ctx, mobile=mobile)
    send(ctx, sender=mobile)
    outcomes = race(database_url, ctx.clock.now(), "order", [order(customer.reference) for _ in range(10)])
    assert [o for o in outcomes if o[0] == "crash"] == []
    assert sum(1 for o in outcomes if o[0] == "ok") == 1
    assert len(admin.get_customer(ctx, customer.reference).orders) == 1
    assert admin.check_books(ctx) == []


def test_same_message_id_20_times_at_once_credits_once_with_identical_receipts(ctx, database_url):
    set_policy(ctx)
    message = make_sms(ctx)
    outcomes = race(database_url, ctx.clock.now(), "sms", [message] * 20)
    assert all(o[0] == "ok" for o in outcomes), outcomes
    assert len({(o[1][0], o[1][1]) for o in outcomes}) == 1
    assert sum(1 for o in outcomes if not o[1][2]) == 1  # exactly one original, 19 duplicates
    assert len(admin.get_ledger(ctx).entries) == 1
    assert admin.check_books(ctx) == []


def test_racing_payments_of_one_customer_build_grants_exactly(ctx, database_url):
    set_policy(ctx, mode="DEPOSIT", deposit_sms=3, deposit_orders=1)
    mobile = new_mobile()
    customer = register(ctx, mobile=mobile)
    messages = [make_sms(ctx, sender=mobile) for _ in range(12)]
    outcomes = race(database_url, ctx.clock.now(), "sms", messages)
    assert all(o[0] == "ok" for o in outcomes), outcomes
    view = admin.get_customer(ctx, customer.reference)
    assert len(view.grants) == 4 and all(g.value.minor == 1500 for g in view.grants)
    assert admin.check_books(ctx) == []
