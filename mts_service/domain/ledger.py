"""The append-only ledger, and its reconciliation with grants and wallets.

Every money-relevant event is one immutable entry with a positive amount; the kind says
which way it counts. At any moment::

    SMS payments                       = value of all grants + what wallets still hold
    value of a grant                   = advance applied - advance returned
                                         + forfeited + expired + remaining value

``reconcile`` returns the discrepancies (an empty list when the books balance) rather than
raising at the first one, so an operator sees all of them at once.
"""

from __future__ import annotations

import enum
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Iterable

from mts_service.domain.grants import Grant
from mts_service.domain.money import Money


class EntryKind(str, enum.Enum):
    SMS_PAYMENT = "SMS_PAYMENT"
    ADVANCE_APPLIED = "ADVANCE_APPLIED"
    ADVANCE_RETURNED = "ADVANCE_RETURNED"
    FORFEIT = "FORFEIT"
    EXPIRY = "EXPIRY"
    BILLING_REVERSAL = "BILLING_REVERSAL"


@dataclass(frozen=True)
class LedgerEntry:
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
    entry_id: int | None = None


@dataclass(frozen=True)
class Discrepancy:
    subject: str
    message: str


def reconcile(entries: Iterable[LedgerEntry], grants: Iterable[Grant], wallet_total: int) -> list[Discrepancy]:
    """Check the ledger against grants and wallets (amounts in one currency's minor units)."""
    problems: list[Discrepancy] = []
    payments = 0
    per_grant: dict[str, int] = defaultdict(int)
    for entry in entries:
        if entry.amount.minor < 0:
            problems.append(Discrepancy(f"entry {entry.entry_id}", "negative amount"))
        if entry.kind is EntryKind.SMS_PAYMENT:
            payments += entry.amount.minor
        elif entry.kind is EntryKind.BILLING_REVERSAL:
            payments -= entry.amount.minor
        elif entry.grant_id is not None:
            sign = -1 if entry.kind is EntryKind.ADVANCE_RETURNED else 1
            per_grant[entry.grant_id] += sign * entry.amount.minor
    granted = 0
    for grant in grants:
        granted += grant.value.minor
        accounted = per_grant.pop(grant.grant_id, 0) + grant.remaining_value().minor
        if accounted != grant.value.minor:
            problems.append(Discrepancy(f"grant {grant.grant_id}", f"value {grant.value.minor} but ledger accounts for {accounted}"))
        if grant.orders_allowed is not None and grant.orders_used > grant.orders_allowed:
            problems.append(Discrepancy(f"grant {grant.grant_id}", "more orders than the grant covers"))
        if grant.orders_used < 0:
            problems.append(Discrepancy(f"grant {grant.grant_id}", "negative order count"))
    for grant_id in per_grant:
        problems.append(Discrepancy(f"grant {grant_id}", "ledger entries for an unknown grant"))
    if wallet_total < 0:
        problems.append(Discrepancy("wallets", "negative wallet balance"))
    if payments != granted + wallet_total:
        problems.append(Discrepancy("payments", f"paid {payments} but grants {granted} + wallets {wallet_total}"))
    return problems
