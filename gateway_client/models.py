"""Plain value objects of the gateway side; no zeep object leaks out of the client."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime


class Channel(str, enum.Enum):
    SMS = "SMS"
    MMS = "MMS"
    EMAIL = "EMAIL"


class ReceiptOutcome(str, enum.Enum):
    CODE_ISSUED = "CODE_ISSUED"   # flow 1: the grant's code is in the reply
    CREDITED = "CREDITED"         # flows 2/3: a grant was created for a known customer
    PROGRESS = "PROGRESS"         # payment recorded, more SMS needed for a grant
    HELP = "HELP"                 # help asked; the payment is still credited
    REFUSED = "REFUSED"           # recorded but not credited (unknown premium number)
    HELD = "HELD"                 # recorded; credited once the operator confirms the charge (report_billing)


class BillingStatus(str, enum.Enum):
    """What the operator said about a message's charge."""

    CONFIRMED = "CONFIRMED"
    FAILED = "FAILED"


@dataclass(frozen=True)
class InboundMessage:
    message_id: str
    sender: str
    service_number: str
    text: str
    received_at: datetime
    channel: Channel = Channel.SMS
    operator: str | None = None


@dataclass(frozen=True)
class SmsReceipt:
    message_id: str
    outcome: ReceiptOutcome
    reply_text: str
    duplicate: bool
    language: str | None = None
    refusal_code: str | None = None


@dataclass(frozen=True)
class BillingReceipt:
    """The answer to ``report_billing``; the same report again gets the same receipt.

    When ``reply_text`` is set (a credit held until billed ran on this confirmation), the
    gateway must send it to the sender as an MT: it may carry the customer's code.
    """

    message_id: str
    status: BillingStatus
    duplicate: bool
    outcome: ReceiptOutcome | None = None
    reply_text: str | None = None
    reversal: str | None = None
    """On FAILED: where the payment was taken back from (HELD, WALLET, GRANT, UNRECOVERED)."""
