"""Domain values <-> wire objects, for the types shop and admin both publish.

Pure translation: no validation beyond what building a domain value does (``Money``
refuses a non-integer amount); the use cases validate the rest.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from mts_service.domain.customers import Customer
from mts_service.domain.grants import Grant
from mts_service.domain.money import Money
from mts_service.domain.orders import Order
from mts_service.errors import InvalidInput
from mts_service.services.results import Authorization
from mts_service.soap.fast_new import new
from mts_service.soap.types import CommonTypes


def money_in(value: Any) -> Money:
    if value is None:
        raise InvalidInput("an amount is required")
    return Money(int(value.amountMinor), value.currency)


def aware(value: datetime | None) -> datetime | None:
    """A wire dateTime without a zone is read as UTC (MTS is UTC throughout)."""
    if value is None:
        return None
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def text_in(value: Any) -> str | None:
    """Empty optional strings count as absent (some clients send <x/> for "none")."""
    if value is None:
        return None
    value = str(value)
    return value if value.strip() else None


class Translator:
    """Builds the wire objects of one namespace (``CommonTypes``) from domain values."""

    def __init__(self, types: CommonTypes) -> None:
        self.t = types

    def money(self, value: Money | None) -> Any:
        if value is None:
            return None
        return new(self.t.Money, amountMinor=value.minor, currency=value.currency)

    def customer(self, customer: Customer) -> Any:
        return new(
            self.t.Customer,
            customerRef=customer.reference,
            username=customer.username,
            mobile=customer.mobile,
            language=customer.language,
            status=customer.status.value,
            forfeitCount=customer.forfeit_count,
            createdAt=customer.created_at,
        )

    def authorization(self, auth: Authorization) -> Any:
        return new(
            self.t.Authorization,
            customerRef=auth.customer_ref,
            mayOrder=auth.may_order,
            advancesLeft=auth.advances_left,
            advanceValue=self.money(auth.advance_value),
            depositActive=auth.deposit_active,
            depositOrdersLeft=auth.deposit_orders_left,
            depositExpiresAt=auth.deposit_expires_at,
            blocked=auth.blocked,
            reason=auth.reason,
        )

    def grant(self, grant: Grant) -> Any:
        return new(
            self.t.Grant,
            grantId=grant.grant_id,
            kind=grant.kind.value,
            status=grant.status.value,
            value=self.money(grant.value),
            policyVersion=grant.policy_version,
            createdAt=grant.created_at,
            premiumNumber=grant.premium_number,
            operator=grant.operator,
            sender=grant.sender,
            ordersAllowed=grant.orders_allowed,
            ordersUsed=grant.orders_used,
            expiresAt=grant.expires_at,
            codeExpiresAt=grant.code_expires_at,
            orderId=grant.order_id,
            revokedAt=grant.revoked_at,
            revokeReason=grant.revoke_reason,
        )

    def order(self, order: Order, *, duplicate: bool = False) -> Any:
        return new(
            self.t.Order,
            orderId=order.order_id,
            status=order.status.value,
            total=self.money(order.total),
            advanceApplied=self.money(order.advance_applied),
            codDue=self.money(order.cod_due),
            deliveryMode=order.delivery_mode.value,
            pickupPointId=order.pickup_point_id,
            duplicate=duplicate,
        )
