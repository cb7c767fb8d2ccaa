from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, select, update

from mts_service.persistence.fastsql import Db, Prepared, insert_row, Row

from mts_service.domain.money import Money
from mts_service.domain.orders import DeliveryMode, Order, OrderStatus
from mts_service.persistence.tables import orders as t

_BY_ID = Prepared(select(t).where(t.c.order_id == bindparam("oid")))
_INSERT = Prepared(insert_row(t))
_ALL = Prepared(select(t))
_OUTCOMES_BETWEEN = Prepared(
    select(t.c.outcome_at, t.c.status).where(t.c.outcome_at >= bindparam("since"), t.c.outcome_at < bindparam("until"))
)
_BY_CUSTOMER = Prepared(select(t).where(t.c.customer_id == bindparam("cid")).order_by(t.c.placed_at, t.c.order_id))
_CLOSE = Prepared(
    update(t)
    .where(t.c.order_id == bindparam("oid"), t.c.status == OrderStatus.PLACED.value)
    .values(status=bindparam("status"), outcome_at=bindparam("at"))
)


def _order(row: Row) -> Order:
    currency = row.currency
    return Order(
        order_id=row.order_id,
        customer_id=row.customer_id,
        total=Money(row.total_minor, currency),
        delivery_mode=DeliveryMode(row.delivery_mode),
        pickup_point_id=row.pickup_point_id,
        advance_applied=Money(row.advance_applied_minor, currency),
        cod_due=Money(row.cod_due_minor, currency),
        status=OrderStatus(row.status),
        placed_at=row.placed_at,
        advance_grant_id=row.advance_grant_id,
        deposit_grant_id=row.deposit_grant_id,
        outcome_at=row.outcome_at,
    )


class OrderRepository:
    def __init__(self, db: Db) -> None:
        self._db = db

    def get(self, order_id: str) -> Order | None:
        row = self._db.execute(_BY_ID, {"oid": order_id}).first()
        return _order(row) if row else None

    def for_customer(self, customer_id: int) -> list[Order]:
        return [_order(r) for r in self._db.execute(_BY_CUSTOMER, {"cid": customer_id})]

    def outcomes_between(self, since, until) -> list[tuple]:
        """(outcome_at, status) of the orders whose delivery outcome was reported in [since, until)."""
        return [(r.outcome_at, r.status) for r in self._db.execute(_OUTCOMES_BETWEEN, {"since": since, "until": until})]

    def all(self) -> list[Order]:
        return [_order(r) for r in self._db.execute(_ALL)]

    def add(self, order: Order) -> None:
        self._db.execute(
            _INSERT,
            dict(
                order_id=order.order_id,
                customer_id=order.customer_id,
                total_minor=order.total.minor,
                currency=order.total.currency,
                delivery_mode=order.delivery_mode.value,
                pickup_point_id=order.pickup_point_id,
                advance_applied_minor=order.advance_applied.minor,
                cod_due_minor=order.cod_due.minor,
                status=order.status.value,
                advance_grant_id=order.advance_grant_id,
                deposit_grant_id=order.deposit_grant_id,
                placed_at=order.placed_at,
                outcome_at=None,
            ),
        )

    def close(self, order_id: str, status: OrderStatus, at: datetime) -> bool:
        """PLACED -> a final status; False when the order was already closed."""
        return self._db.execute(_CLOSE, {"oid": order_id, "status": status.value, "at": at}).rowcount == 1
