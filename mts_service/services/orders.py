"""place_order and report_delivery."""

from __future__ import annotations

from mts_service.domain.ledger import EntryKind, LedgerEntry
from mts_service.domain.orders import DeliveryOutcome, Order, OrderRequest, OrderStatus, cod_due
from mts_service.errors import (
    CurrencyMismatch,
    CustomerBlocked,
    InvalidInput,
    NotAuthorized,
    OrderConflict,
    OrderStateConflict,
    UnknownOrder,
)
from mts_service.services.admin import revoke_in
from mts_service.services.context import ServiceContext
from mts_service.services.customers import _customer
from mts_service.services.results import OrderResult
from mts_service.services.unit_of_work import run_in_transaction


def place_order(ctx: ServiceContext, request: OrderRequest) -> OrderResult:
    """Idempotent per orderId. Takes a deposit slot and/or consumes an advance, as the mode asks."""
    request = request.validate()

    def work(uow) -> OrderResult:
        now = ctx.clock.now()
        customer = _customer(uow, request.customer_ref)
        existing = uow.orders.get(request.order_id)
        if existing is not None:
            if not existing.same_request(request, customer.customer_id):
                raise OrderConflict("orderId already used for another order", order_id=request.order_id)
            return OrderResult(existing, duplicate=True)
        if customer.blocked:
            raise CustomerBlocked("this customer is blocked")
        policy = uow.policies.current()
        if policy is None:
            raise NotAuthorized("no policy is set")
        if request.total.currency != policy.currency:
            raise CurrencyMismatch(f"order is in {request.total.currency}, payments in {policy.currency}")
        deposit_id = advance_id = None
        if policy.needs_deposit():
            deposit_id = uow.grants.take_deposit_slot(customer.customer_id, now)
            if deposit_id is None:
                raise NotAuthorized("no active deposit covers another order")
        advance = None
        if policy.needs_advance():
            advance_id = uow.grants.take_advance(customer.customer_id, request.order_id, now)
            if advance_id is None:
                # Leaving the transaction un-committed gives the deposit slot back.
                raise NotAuthorized("no unused advance")
            advance = uow.grants.get(advance_id)
            if advance.value.currency != request.total.currency:
                raise CurrencyMismatch("advance and order are in different currencies")
        applied, due = cod_due(request.total, advance.value if advance else None)
        order = Order(
            order_id=request.order_id,
            customer_id=customer.customer_id,
            total=request.total,
            delivery_mode=request.delivery_mode,
            pickup_point_id=request.pickup_point_id,
            advance_applied=applied,
            cod_due=due,
            status=OrderStatus.PLACED,
            placed_at=now,
            advance_grant_id=advance_id,
            deposit_grant_id=deposit_id,
        )
        uow.orders.add(order)
        if advance is not None:
            uow.ledger.append(
                LedgerEntry(
                    kind=EntryKind.ADVANCE_APPLIED, amount=applied, at=now, customer_id=customer.customer_id,
                    grant_id=advance_id, order_id=order.order_id, premium_number=advance.premium_number, operator=advance.operator,
                )
            )
        return OrderResult(order, duplicate=False)

    return run_in_transaction(ctx.uow_factory, work)


def report_delivery(ctx: ServiceContext, order_id: str, outcome: DeliveryOutcome) -> Order:
    """Close an order. Idempotent for the same outcome; another outcome on a closed order is refused."""
    if not isinstance(outcome, DeliveryOutcome):
        raise InvalidInput("outcome must be DELIVERED, REFUSED, NOT_DELIVERED or CANCELLED")

    def work(uow) -> Order:
        now = ctx.clock.now()
        order = uow.orders.get(order_id) if isinstance(order_id, str) else None
        if order is None:
            raise UnknownOrder("no order with this id", order_id=order_id)
        status = OrderStatus(outcome.value)
        if not uow.orders.close(order_id, status, now):
            current = uow.orders.get(order_id)
            if current.status is status:
                return current
            raise OrderStateConflict(f"order is already {current.status.value}", order_id=order_id)
        if outcome.returns_advance:
            if order.advance_grant_id and uow.grants.return_advance(order.advance_grant_id, order_id):
                grant = uow.grants.get(order.advance_grant_id)
                uow.ledger.append(
                    LedgerEntry(
                        kind=EntryKind.ADVANCE_RETURNED, amount=order.advance_applied, at=now, customer_id=order.customer_id,
                        grant_id=grant.grant_id, order_id=order_id, premium_number=grant.premium_number, operator=grant.operator,
                    )
                )
            if order.deposit_grant_id:
                uow.grants.return_deposit_slot(order.deposit_grant_id)
        elif outcome is DeliveryOutcome.REFUSED:
            policy = uow.policies.current()
            if policy is not None and policy.auto_revoke_on_refusal:
                customer = uow.customers.by_id(order.customer_id)
                revoke_in(uow, policy, customer, None, f"auto-revoke: delivery of {order_id} refused", order_id, now)
        return uow.orders.get(order_id)

    return run_in_transaction(ctx.uow_factory, work)
