"""What the use cases return: plain frozen dataclasses, free of SQL and SOAP."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from mts_service.domain.customers import Customer
from mts_service.domain.grants import Grant
from mts_service.domain.inbound import ReceiptOutcome
from mts_service.domain.ledger import LedgerEntry
from mts_service.domain.money import Money
from mts_service.domain.orders import Order


@dataclass(frozen=True)
class SmsReceipt:
    message_id: str
    outcome: ReceiptOutcome
    reply_text: str
    duplicate: bool
    language: str
    refusal_code: str | None = None
    flow: str | None = None
    grant_id: str | None = None


@dataclass(frozen=True)
class Authorization:
    customer_ref: str
    may_order: bool
    advances_left: int
    advance_value: Money | None
    deposit_active: bool
    deposit_orders_left: int | None
    deposit_expires_at: datetime | None
    blocked: bool
    reason: str | None = None


@dataclass(frozen=True)
class RedeemResult:
    grant: Grant
    already_redeemed: bool
    authorization: Authorization


@dataclass(frozen=True)
class OrderResult:
    order: Order
    duplicate: bool


@dataclass(frozen=True)
class RevokeResult:
    revoked: tuple[Grant, ...]
    forfeited: Money | None
    customer_blocked: bool


@dataclass(frozen=True)
class CustomerView:
    customer: Customer
    grants: tuple[Grant, ...]
    orders: tuple[Order, ...]
    authorization: Authorization


@dataclass(frozen=True)
class LedgerPage:
    entries: tuple[LedgerEntry, ...]
    next_after_id: int | None


@dataclass(frozen=True)
class ReportRow:
    day: str
    premium_number: str
    operator: str
    currency: str
    messages: int = 0
    gross_minor: int = 0
    net_minor: int = 0
    advances_applied_minor: int = 0
    advances_returned_minor: int = 0
    forfeits_minor: int = 0
    expiries_minor: int = 0
    reversals_minor: int = 0


@dataclass(frozen=True)
class Report:
    first_day: str
    last_day: str
    rows: tuple[ReportRow, ...] = field(default_factory=tuple)
