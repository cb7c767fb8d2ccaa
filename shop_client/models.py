"""Plain value objects of the shop and admin clients; no zeep object leaks out.

Money is integer minor units plus an ISO 4217 currency, never a float. Times are
timezone-aware UTC. ``to_dict()`` gives a JSON-ready form (enums as their values, times as
ISO 8601, money as ``{"amount_minor", "currency"}``) for the CLIs' ``--json``.
"""

from __future__ import annotations

import copy
import enum
from dataclasses import dataclass, fields
from datetime import date, datetime
from typing import Any, Mapping


class _WireEnum(str, enum.Enum):
    def __str__(self) -> str:
        return self.value


class CustomerStatus(_WireEnum):
    ACTIVE = "ACTIVE"
    BLOCKED = "BLOCKED"


class GrantKind(_WireEnum):
    ADVANCE = "ADVANCE"
    DEPOSIT = "DEPOSIT"


class GrantStatus(_WireEnum):
    PENDING_CODE = "PENDING_CODE"
    ACTIVE = "ACTIVE"
    EXHAUSTED = "EXHAUSTED"
    EXPIRED = "EXPIRED"
    REVOKED = "REVOKED"


class OrderStatus(_WireEnum):
    PLACED = "PLACED"
    DELIVERED = "DELIVERED"
    REFUSED = "REFUSED"
    NOT_DELIVERED = "NOT_DELIVERED"
    CANCELLED = "CANCELLED"


class DeliveryMode(_WireEnum):
    HOME = "HOME"
    PICKUP = "PICKUP"


class DeliveryOutcome(_WireEnum):
    DELIVERED = "DELIVERED"
    REFUSED = "REFUSED"
    NOT_DELIVERED = "NOT_DELIVERED"
    CANCELLED = "CANCELLED"


class EntryKind(_WireEnum):
    SMS_PAYMENT = "SMS_PAYMENT"
    ADVANCE_APPLIED = "ADVANCE_APPLIED"
    ADVANCE_RETURNED = "ADVANCE_RETURNED"
    FORFEIT = "FORFEIT"
    EXPIRY = "EXPIRY"
    BILLING_REVERSAL = "BILLING_REVERSAL"


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, _Model):
        return value.to_dict()
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


class _Model:
    def to_dict(self) -> dict[str, Any]:
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self)}  # type: ignore[arg-type]


@dataclass(frozen=True)
class Money(_Model):
    amount_minor: int
    currency: str

    def __post_init__(self) -> None:
        if isinstance(self.amount_minor, bool) or not isinstance(self.amount_minor, int):
            raise TypeError("amount_minor must be an int (minor units), never a float")
        if not (isinstance(self.currency, str) and len(self.currency) == 3 and self.currency.isalpha()
                and self.currency.isupper()):
            raise ValueError(f"currency must be an ISO 4217 code, not {self.currency!r}")

    def __str__(self) -> str:
        sign = "-" if self.amount_minor < 0 else ""
        whole, cents = divmod(abs(self.amount_minor), 100)
        return f"{sign}{whole}.{cents:02d} {self.currency}"


@dataclass(frozen=True)
class Customer(_Model):
    customer_ref: str
    status: CustomerStatus
    forfeit_count: int
    created_at: datetime
    username: str | None = None
    mobile: str | None = None
    language: str | None = None


@dataclass(frozen=True)
class Authorization(_Model):
    customer_ref: str
    may_order: bool
    advances_left: int
    deposit_active: bool
    blocked: bool
    advance_value: Money | None = None
    deposit_orders_left: int | None = None
    """None: unlimited (while a deposit is active)."""
    deposit_expires_at: datetime | None = None
    reason: str | None = None


@dataclass(frozen=True)
class Grant(_Model):
    grant_id: str
    kind: GrantKind
    status: GrantStatus
    value: Money
    policy_version: int
    created_at: datetime
    premium_number: str
    orders_used: int
    operator: str | None = None
    sender: str | None = None
    orders_allowed: int | None = None
    """None: unlimited."""
    expires_at: datetime | None = None
    code_expires_at: datetime | None = None
    order_id: str | None = None
    revoked_at: datetime | None = None
    revoke_reason: str | None = None


@dataclass(frozen=True)
class Order(_Model):
    order_id: str
    status: OrderStatus
    total: Money
    advance_applied: Money
    cod_due: Money
    delivery_mode: DeliveryMode
    duplicate: bool = False
    pickup_point_id: str | None = None


@dataclass(frozen=True)
class Redemption(_Model):
    grant_id: str
    kind: GrantKind
    value: Money
    already_redeemed: bool
    authorization: Authorization


@dataclass(frozen=True)
class Revocation(_Model):
    revoked_grants: tuple[Grant, ...]
    customer_blocked: bool
    forfeited: Money | None = None


@dataclass(frozen=True)
class CustomerDetails(_Model):
    customer: Customer
    grants: tuple[Grant, ...]
    orders: tuple[Order, ...]
    authorization: Authorization


@dataclass(frozen=True)
class LedgerEntry(_Model):
    entry_id: int
    kind: EntryKind
    amount: Money
    at: datetime
    customer_id: int | None = None
    grant_id: str | None = None
    order_id: str | None = None
    message_id: str | None = None
    premium_number: str | None = None
    operator: str | None = None
    net: Money | None = None
    note: str | None = None


@dataclass(frozen=True)
class LedgerPage(_Model):
    entries: tuple[LedgerEntry, ...]
    next_after_id: int | None = None
    """Pass it back as ``after_id`` for the next page; None on the last page."""


@dataclass(frozen=True)
class ReportRow(_Model):
    day: date
    premium_number: str
    operator: str
    currency: str
    messages: int
    gross_minor: int
    net_minor: int
    advances_applied_minor: int
    advances_returned_minor: int
    forfeits_minor: int
    expiries_minor: int
    reversals_minor: int
    # By the message's day, as an operator reports its charges (docs/reconciliation.md).
    failed_messages: int = 0
    failed_gross_minor: int = 0
    failed_net_minor: int = 0
    confirmed_messages: int = 0
    pending_messages: int = 0
    billed_messages: int = 0
    """Paid messages not reported failed: what the operator's report should count."""
    billed_gross_minor: int = 0
    billed_net_minor: int = 0


def refusal_rate(delivered: int, refused: int) -> float | None:
    """refused / (delivered + refused); None when no delivery was decided."""
    decided = delivered + refused
    return refused / decided if decided else None


@dataclass(frozen=True)
class DeliveryDay(_Model):
    """Delivery outcomes reported on one day."""

    day: date
    delivered: int = 0
    refused: int = 0
    not_delivered: int = 0
    cancelled: int = 0

    @property
    def refusal_rate(self) -> float | None:
        return refusal_rate(self.delivered, self.refused)


@dataclass(frozen=True)
class Report(_Model):
    first_day: date
    last_day: date
    rows: tuple[ReportRow, ...] = ()
    deliveries: tuple[DeliveryDay, ...] = ()


@dataclass(frozen=True)
class BillingConfirmation(_Model):
    day: date
    premium_number: str
    operator: str | None
    confirmed: int
    held_left: int


class Policy(_Model):
    """The merchant's policy in its file shape (the keys of a policy YAML/JSON file).

    ``settings`` holds snake_case keys as in ``mts-admin policy get``: ``mode``,
    ``currency``, ``premium_numbers`` (``number``, ``price_minor``, ``net_minor``,
    ``keywords``, ``operators``, ``hold_until_billed``), ``advance_sms``, ``deposit_sms``,
    ``deposit_orders``, ``*_validity_seconds`` (null = unlimited), ``flows``, ``codes``,
    ``default_language``, ``templates`` (``{language: {key: text}}``), ... Immutable: the
    mapping is copied in and out.
    """

    __slots__ = ("_version", "_settings")

    def __init__(self, settings: Mapping[str, Any], version: int | None = None) -> None:
        data = copy.deepcopy(dict(settings))
        data.pop("version", None)
        object.__setattr__(self, "_settings", data)
        object.__setattr__(self, "_version", version)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Policy is immutable")

    @property
    def version(self) -> int | None:
        return self._version

    @property
    def settings(self) -> dict[str, Any]:
        return copy.deepcopy(self._settings)

    def __getitem__(self, key: str) -> Any:
        return copy.deepcopy(self._settings[key])

    def to_dict(self) -> dict[str, Any]:
        return {"version": self._version, **self.settings}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Policy) and (self._version, self._settings) == (other._version, other._settings)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Policy(version={self._version}, mode={self._settings.get('mode')!r})"
