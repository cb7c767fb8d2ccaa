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
    # By the message's day (what the operator reports), see admin.get_report.
    failed_messages: int = 0
    failed_gross_minor: int = 0
    failed_net_minor: int = 0
    confirmed_messages: int = 0
    pending_messages: int = 0
    """Paid messages of the day whose billing is not reported yet (unconfirmed or held)."""

    @property
    def billed_messages(self) -> int:
        """Paid messages not reported failed: what the operator's report should count."""
        return self.messages - self.failed_messages

    @property
    def billed_gross_minor(self) -> int:
        return self.gross_minor - self.failed_gross_minor

    @property
    def billed_net_minor(self) -> int:
        return self.net_minor - self.failed_net_minor


@dataclass(frozen=True)
class DeliveryDay:
    """Delivery outcomes reported on one day (all premium numbers: an order is not tied to one)."""

    day: str
    delivered: int = 0
    refused: int = 0
    not_delivered: int = 0
    cancelled: int = 0

    @property
    def refusal_rate(self) -> float | None:
        """Refused / (delivered + refused): the customers who would not pay on delivery."""
        decided = self.delivered + self.refused
        return self.refused / decided if decided else None


@dataclass(frozen=True)
class Report:
    first_day: str
    last_day: str
    rows: tuple[ReportRow, ...] = field(default_factory=tuple)
    deliveries: tuple[DeliveryDay, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class BillingResult:
    """The answer to one billing report; the same report again gets the same answer."""

    message_id: str
    status: str
    """The message's billing status now: CONFIRMED or FAILED."""
    outcome: ReceiptOutcome | None = None
    """Set when a held credit ran on confirmation (CODE_ISSUED, CREDITED, PROGRESS)."""
    reply_text: str | None = None
    """Set with ``outcome``: the text the gateway must send to the sender as an MT."""
    recovery: str | None = None
    """Set on FAILED for a paid message: where the payment was taken back from (ledger Recovery)."""
    duplicate: bool = False
    grant_id: str | None = None


@dataclass(frozen=True)
class ConfirmBillingResult:
    day: str
    premium_number: str
    operator: str | None
    confirmed: int
    """Messages moved from UNCONFIRMED to CONFIRMED by this call."""
    held_left: int
    """Held messages of that day: only the gateway's ReportBilling confirms them (it sends the reply)."""
