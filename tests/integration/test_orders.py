"""Orders and delivery outcomes, each mode, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from mts_service.domain.money import Money
from mts_service.domain.orders import DeliveryMode, DeliveryOutcome, OrderStatus
from mts_service.errors import (
    CurrencyMismatch,
    CustomerBlocked,
    InvalidAmount,
    InvalidInput,
    NotAuthorized,
    OrderConflict,
    OrderStateConflict,
    UnknownCustomer,
    UnknownOrder,
)
from mts_service.services import admin, customers, orders
from tests.factories import customer_with_advance, new_mobile, order, register, send, set_policy


def test_advance_is_deducted_and_consumed_once(ctx):
    set_policy(ctx)
    customer = customer_with_advance(ctx)
    placed = orders.place_order(ctx, order(customer.reference, 12_000)).order
    assert placed.advance_applied == Money(500, "MAD") and placed.cod_due == Money(11_500, "MAD")
    with pytest.raises(NotAuthorized):
        orders.place_order(ctx, order(customer.reference))


def test_cod_due_never_below_zero(ctx):
    set_policy(ctx)
    customer = customer_with_advance(ctx)
    placed = orders.place_order(ctx, order(customer.reference, 300)).order
    assert placed.cod_due == Money(0, "MAD") and placed.advance_applied == Money(500, "MAD")


def test_order_is_idempotent_and_conflicts_on_other_content(ctx):
    set_policy(ctx)
    customer = customer_with_advance(ctx, count=2)
    request = order(customer.reference)
    first = orders.place_order(ctx, request)
    again = orders.place_order(ctx, request)
    assert again.duplicate and again.order == first.order
    assert customers.get_authorization(ctx, customer.reference).advances_left == 1
    with pytest.raises(OrderConflict):
        orders.place_order(ctx, order(customer.reference, 999, order_id=request.order_id))


def test_pickup_needs_a_point_and_home_has_none(ctx):
    set_policy(ctx)
    customer = customer_with_advance(ctx, count=2)
    with pytest.raises(InvalidInput):
        orders.place_order(ctx, order(customer.reference, mode=DeliveryMode.PICKUP))
    with pytest.raises(InvalidInput):
        orders.place_order(ctx, order(customer.reference, pickup="P1"))
    placed = orders.place_order(ctx, order(customer.reference, mode=DeliveryMode.PICKUP, pickup="RELAY-42")).order
    assert placed.pickup_point_id == "RELAY-42"


def test_deposit_covers_its_order_count(ctx):
    set_policy(ctx, mode="DEPOSIT", deposit_sms=2, deposit_orders=2)
    mobile = new_mobile()
    customer = register(ctx, mobile=mobile)
    send(ctx, sender=mobile)
    send(ctx, sender=mobile)
    for _ in range(2):
        placed = orders.place_order(ctx, order(customer.reference)).order
        assert placed.advance_applied == Money(0, "MAD") and placed.cod_due == placed.total
    with pytest.raises(NotAuthorized):
        orders.place_order(ctx, order(customer.reference))


def test_both_needs_deposit_and_advance_and_keeps_slot_when_refused(ctx):
    set_policy(ctx, mode="BOTH", deposit_sms=1, deposit_orders=2)
    mobile = new_mobile()
    customer = register(ctx, mobile=mobile)
    send(ctx, sender=mobile)  # funds the deposit only
    with pytest.raises(NotAuthorized):
        orders.place_order(ctx, order(customer.reference))
    assert customers.get_authorization(ctx, customer.reference).deposit_orders_left == 2
    send(ctx, sender=mobile)  # an advance
    placed = orders.place_order(ctx, order(customer.reference)).order
    assert placed.advance_grant_id and placed.deposit_grant_id


def test_wrong_currency_and_bad_totals_are_refused(ctx):
    set_policy(ctx)
    customer = customer_with_advance(ctx)
    with pytest.raises(CurrencyMismatch):
        orders.place_order(ctx, order(customer.reference, currency="EUR"))
    with pytest.raises(InvalidAmount):
        orders.place_order(ctx, order(customer.reference, 0))
    with pytest.raises(UnknownCustomer):
        orders.place_order(ctx, order("nobody"))
    assert customers.get_authorization(ctx, customer.reference).advances_left == 1


@pytest.mark.parametrize("outcome", [DeliveryOutcome.CANCELLED, DeliveryOutcome.NOT_DELIVERED])
def test_cancel_and_carrier_failure_give_the_advance_back(ctx, outcome):
    set_policy(ctx, mode="BOTH", deposit_sms=1, deposit_orders=1)
    mobile = new_mobile()
    customer = register(ctx, mobile=mobile)
    send(ctx, sender=mobile)
    send(ctx, sender=mobile)
    placed = orders.place_order(ctx, order(customer.reference)).order
    assert not customers.get_authorization(ctx, customer.reference).may_order
    closed = orders.report_delivery(ctx, placed.order_id, outcome)
    assert closed.status is OrderStatus(outcome.value)
    auth = customers.get_authorization(ctx, customer.reference)
    assert auth.may_order and auth.advances_left == 1 and auth.deposit_orders_left == 1
    assert admin.check_books(ctx) == []


@pytest.mark.parametrize("outcome", [DeliveryOutcome.DELIVERED, DeliveryOutcome.REFUSED])
def test_delivered_and_refused_keep_the_advance_applied(ctx, outcome):
    set_policy(ctx)
    customer = customer_with_advance(ctx)
    placed = orders.place_order(ctx, order(customer.reference)).order
    orders.report_delivery(ctx, placed.order_id, outcome)
    assert customers.get_authorization(ctx, customer.reference).advances_left == 0
    assert admin.check_books(ctx) == []


def test_delivery_report_is_idempotent_and_final(ctx):
    set_policy(ctx)
    customer = customer_with_advance(ctx)
    placed = orders.place_order(ctx, order(customer.reference)).order
    orders.report_delivery(ctx, placed.order_id, DeliveryOutcome.CANCELLED)
    orders.report_delivery(ctx, placed.order_id, DeliveryOutcome.CANCELLED)
    assert customers.get_authorization(ctx, customer.reference).advances_left == 1  # returned once
    with pytest.raises(OrderStateConflict):
        orders.report_delivery(ctx, placed.order_id, DeliveryOutcome.DELIVERED)
    with pytest.raises(UnknownOrder):
        orders.report_delivery(ctx, "no-such-order", DeliveryOutcome.DELIVERED)


def test_auto_revoke_on_refusal(ctx):
    set_policy(ctx, auto_revoke_on_refusal=True)
    customer = customer_with_advance(ctx, count=2)
    placed = orders.place_order(ctx, order(customer.reference)).order
    orders.report_delivery(ctx, placed.order_id, DeliveryOutcome.REFUSED)
    view = admin.get_customer(ctx, customer.reference)
    assert [g.status.value for g in view.grants] == ["EXHAUSTED", "REVOKED"]
    assert not view.authorization.may_order


def test_blocked_customer_cannot_order(ctx):
    set_policy(ctx, block_after_forfeits=1)
    customer = customer_with_advance(ctx, count=2)
    admin.revoke(ctx, customer_ref=customer.reference, reason="refused twice")
    send(ctx, sender=customer.mobile)  # still credited: it was paid
    with pytest.raises(CustomerBlocked):
        orders.place_order(ctx, order(customer.reference))


def test_authorization_reads_only_usable_grants_and_counts_as_over_all_of_them(ctx, clock):
    """GetAuthorization, RedeemCode and the admin view count a customer's usable grants; the
    repository returns only those (spent and expired ones pile up over a customer's life),
    with the same result as the domain's own test over every grant, expiry instant included."""
    from datetime import timedelta

    from mts_service.services.customers import authorization_from

    set_policy(ctx, advance_validity_seconds=3600)
    customer = customer_with_advance(ctx, count=2)
    clock.advance(timedelta(minutes=10))
    send(ctx, sender=customer.mobile)      # a third advance, expiring ten minutes later
    orders.place_order(ctx, order(customer.reference))   # spends the oldest
    first_expiry = clock.now() + timedelta(minutes=50)
    for at in (clock.now(), first_expiry - timedelta(microseconds=1), first_expiry, first_expiry + timedelta(minutes=10)):
        with ctx.uow_factory(write=False) as uow:
            everything = uow.grants.for_customer(customer.customer_id)
            usable = uow.grants.usable_for_customer(customer.customer_id, at)
            current = uow.policies.current()
            uow.commit()
        assert [g.grant_id for g in usable] == [g.grant_id for g in everything if g.is_usable(at)]
        assert authorization_from(current, customer, usable, at) == authorization_from(current, customer, everything, at)
    assert len(everything) == 3 and usable == []


def test_sqlite_reads_a_customers_usable_grants_through_the_customer_index(sqlite_database):
    """Without statistics SQLite's planner would take the index on status (every live grant
    of every customer, read on each RedeemCode and GetAuthorization): the query names every
    kind so that the (customer_id, kind, status) index is used."""
    import sqlite3
    from contextlib import closing

    from mts_service.persistence.engine import make_engine
    from mts_service.persistence.repositories.grants import _USABLE_FOR_CUSTOMER

    engine = make_engine(sqlite_database)
    sql = _USABLE_FOR_CUSTOMER.compiled(engine.dialect).sql
    engine.dispose()
    with closing(sqlite3.connect(sqlite_database.removeprefix("sqlite+pysqlite:///"))) as db:
        plan = " ".join(row[3] for row in db.execute("EXPLAIN QUERY PLAN " + sql, [None] * sql.count("?")))
    assert "ix_grants_customer_kind_status (customer_id=? AND kind=? AND status=?)" in plan, plan
