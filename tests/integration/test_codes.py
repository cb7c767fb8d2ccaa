"""One-time codes: keyed hash, normalisation, TTL, attempt window and lock."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from mts_service.errors import CodeExpired, CodeLocked, InvalidCode, UnknownCustomer
from mts_service.persistence.tables import grants, messages
from mts_service.services import customers
from tests.factories import code_in, register, send, set_policy


def _issue(ctx) -> str:
    return code_in(send(ctx).reply_text)


def test_code_is_stored_only_as_a_keyed_hash(ctx, engine):
    set_policy(ctx)
    code = _issue(ctx)
    with engine.connect() as conn:
        stored = [dict(r._mapping) for r in conn.execute(select(grants))] + [dict(r._mapping) for r in conn.execute(select(messages))]
    assert code not in repr(stored)


@pytest.mark.parametrize("typed", ["{c}", "{c_lower}", "{c_dashed}", "{c_arabic_digits}"])
def test_code_is_read_as_customers_type_it(ctx, typed):
    set_policy(ctx)
    code = _issue(ctx)
    arabic = "".join("٠١٢٣٤٥٦٧٨٩"[int(ch)] if ch.isdigit() else ch for ch in code)
    text = typed.format(c=code, c_lower=code.lower(), c_dashed=f"{code[:4]}-{code[4:]}", c_arabic_digits=arabic)
    customer = register(ctx)
    assert not customers.redeem_code(ctx, customer.reference, text).already_redeemed


def test_redeeming_twice_by_the_same_customer_is_idempotent_and_others_are_refused(ctx):
    set_policy(ctx)
    code = _issue(ctx)
    alice, bob = register(ctx), register(ctx)
    customers.redeem_code(ctx, alice.reference, code)
    assert customers.redeem_code(ctx, alice.reference, code).already_redeemed
    with pytest.raises(InvalidCode):
        customers.redeem_code(ctx, bob.reference, code)


def test_expired_code(ctx):
    set_policy(ctx, codes={"ttl_seconds": 3600})
    code = _issue(ctx)
    ctx.clock.advance(timedelta(hours=1))
    with pytest.raises(CodeExpired):
        customers.redeem_code(ctx, register(ctx).reference, code)


def test_lock_after_failures_in_window_then_unlock(ctx):
    set_policy(ctx, codes={"max_failed_attempts": 3, "attempt_window_seconds": 600})
    code = _issue(ctx)
    customer = register(ctx)
    for _ in range(3):
        with pytest.raises(InvalidCode):
            customers.redeem_code(ctx, customer.reference, "ZZZZZZZZ")
    with pytest.raises(CodeLocked):
        customers.redeem_code(ctx, customer.reference, code)  # even the right code
    ctx.clock.advance(timedelta(minutes=10))
    assert customers.redeem_code(ctx, customer.reference, code).grant.status.value == "ACTIVE"


def test_failures_outside_the_window_do_not_add_up(ctx):
    set_policy(ctx, codes={"max_failed_attempts": 2, "attempt_window_seconds": 60})
    customer = register(ctx)
    for _ in range(3):
        with pytest.raises(InvalidCode):
            customers.redeem_code(ctx, customer.reference, "ZZZZZZZZ")
        ctx.clock.advance(timedelta(minutes=2))
    code = _issue(ctx)
    customers.redeem_code(ctx, customer.reference, code)


def test_unknown_customer(ctx):
    set_policy(ctx)
    with pytest.raises(UnknownCustomer):
        customers.redeem_code(ctx, "nobody", _issue(ctx))
