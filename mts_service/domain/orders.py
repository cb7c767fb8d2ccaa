"""Orders paid cash on delivery, and what an advance takes off the amount due.

    PLACED --> DELIVERED | REFUSED | NOT_DELIVERED | CANCELLED

The advance is consumed whole by one order: ``cod_due = max(total - advance, 0)``. When
the merchant cancels or the carrier fails (CANCELLED, NOT_DELIVERED) the advance goes back
to the customer as an unused advance and the deposit slot is freed; only a revocation
forfeits money.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import datetime

from mts_service.domain.money import Money
from mts_service.errors import InvalidAmount, InvalidInput

_ORDER_ID = re.compile(r"^[A-Za-z0-9._:/-]{1,64}$")
_PICKUP_POINT = re.compile(r"^[A-Za-z0-9._:/-]{1,64}$")


class DeliveryMode(str, enum.Enum):
    HOME = "HOME"
    PICKUP = "PICKUP"


class OrderStatus(str, enum.Enum):
    PLACED = "PLACED"
    DELIVERED = "DELIVERED"
    REFUSED = "REFUSED"
    NOT_DELIVERED = "NOT_DELIVERED"
    CANCELLED = "CANCELLED"


class DeliveryOutcome(str, enum.Enum):
    DELIVERED = "DELIVERED"
    REFUSED = "REFUSED"
    NOT_DELIVERED = "NOT_DELIVERED"
    CANCELLED = "CANCELLED"

    @property
    def returns_advance(self) -> bool:
        return self in (DeliveryOutcome.NOT_DELIVERED, DeliveryOutcome.CANCELLED)


@dataclass(frozen=True)
class OrderRequest:
    order_id: str
    customer_ref: str
    total: Money
    delivery_mode: DeliveryMode
    pickup_point_id: str | None = None

    def validate(self) -> OrderRequest:
        if not isinstance(self.order_id, str) or not _ORDER_ID.match(self.order_id):
            raise InvalidInput("orderId must be 1-64 characters of letters, digits and . _ : / -")
        if not isinstance(self.delivery_mode, DeliveryMode):
            raise InvalidInput("delivery mode must be HOME or PICKUP")
        if self.total.minor <= 0:
            raise InvalidAmount("order total must be positive")
        if self.delivery_mode is DeliveryMode.PICKUP:
            if not self.pickup_point_id or not _PICKUP_POINT.match(self.pickup_point_id):
                raise InvalidInput("a PICKUP order needs a pickup point id")
        elif self.pickup_point_id:
            raise InvalidInput("a HOME order has no pickup point id")
        return self


@dataclass(frozen=True)
class Order:
    order_id: str
    customer_id: int
    total: Money
    delivery_mode: DeliveryMode
    pickup_point_id: str | None
    advance_applied: Money
    cod_due: Money
    status: OrderStatus
    placed_at: datetime
    advance_grant_id: str | None = None
    deposit_grant_id: str | None = None
    outcome_at: datetime | None = None

    def same_request(self, request: OrderRequest, customer_id: int) -> bool:
        return (
            self.customer_id == customer_id
            and self.total == request.total
            and self.delivery_mode is request.delivery_mode
            and (self.pickup_point_id or None) == (request.pickup_point_id or None)
        )


def cod_due(total: Money, advance: Money | None) -> tuple[Money, Money]:
    """(advance applied, amount due on delivery). The advance is consumed whole."""
    if advance is None:
        return Money.zero(total.currency), total
    return advance, (total - advance).clamp_at_zero()
