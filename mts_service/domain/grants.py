"""Grants: what a customer's payments bought, and their lifecycle.

    PENDING_CODE --redeem--> ACTIVE --> EXHAUSTED | EXPIRED | REVOKED
    (flow 1 only)            (flows 2/3 start here)
    PENDING_CODE | ACTIVE --billing failed--> REVERSED (value reduced to zero)

A failed charge (``ReportBilling(.., FAILED)``) reduces the value of the unused grant the
payment made up; a grant whose value falls to zero becomes ``REVERSED``: final, worth
nothing, its code no longer redeemable and it covers no order. It is not ``REVOKED``
(nothing was forfeited, the customer never paid) nor ``EXPIRED`` (no time ran out).

An advance grant is consumed by exactly one order (ACTIVE -> EXHAUSTED) and comes back
(EXHAUSTED -> ACTIVE) when that order is cancelled or not delivered. A deposit grant covers
``orders_allowed`` orders (None = unlimited) until ``expires_at`` (None = never); it is never
deducted from an order, so its whole value stays at stake until it expires or is revoked.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from mts_service.domain.money import Money


class GrantKind(str, enum.Enum):
    ADVANCE = "ADVANCE"
    DEPOSIT = "DEPOSIT"


class GrantStatus(str, enum.Enum):
    PENDING_CODE = "PENDING_CODE"
    ACTIVE = "ACTIVE"
    EXHAUSTED = "EXHAUSTED"
    EXPIRED = "EXPIRED"
    REVOKED = "REVOKED"
    REVERSED = "REVERSED"


FINAL_STATUSES = frozenset({GrantStatus.EXPIRED, GrantStatus.REVOKED, GrantStatus.REVERSED})


@dataclass(frozen=True)
class Grant:
    grant_id: str
    kind: GrantKind
    status: GrantStatus
    value: Money
    policy_version: int
    created_at: datetime
    premium_number: str
    operator: str | None = None
    customer_id: int | None = None
    sender: str | None = None
    orders_allowed: int | None = 1
    orders_used: int = 0
    validity: timedelta | None = None
    expires_at: datetime | None = None
    code_expires_at: datetime | None = None
    order_id: str | None = None
    revoked_at: datetime | None = None
    revoke_reason: str | None = None

    def remaining_value(self) -> Money:
        """The part of the grant's value that is still the customer's, at stake for a forfeit."""
        if self.status in FINAL_STATUSES:
            return Money.zero(self.value.currency)
        if self.kind is GrantKind.ADVANCE and self.status is GrantStatus.EXHAUSTED:
            return Money.zero(self.value.currency)
        return self.value

    def is_forfeitable(self) -> bool:
        return self.remaining_value().minor > 0

    def is_usable(self, now: datetime) -> bool:
        if self.status is not GrantStatus.ACTIVE:
            return False
        if self.expires_at is not None and self.expires_at <= now:
            return False
        return self.orders_allowed is None or self.orders_used < self.orders_allowed

    def orders_left(self) -> int | None:
        if self.orders_allowed is None:
            return None
        return max(self.orders_allowed - self.orders_used, 0)


def expiry_on_activation(validity: timedelta | None, activated_at: datetime) -> datetime | None:
    """Validity runs from activation: a flow-1 grant starts counting when its code is redeemed."""
    return None if validity is None else activated_at + validity
