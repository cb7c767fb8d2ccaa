"""The append-only ledger, and its reconciliation with grants and wallets.

Every money-relevant event is one immutable entry with a positive amount; the kind says
which way it counts. At any moment::

    SMS payments - billing reversals   = value of all grants + what wallets still hold
                                         + payments held until billed
                                         - unrecovered reversals
    value of a grant                   = advance applied - advance returned
                                         + forfeited + expired + remaining value

A billing reversal (the operator reports a charge as failed) takes the payment back from
where it sits, and says where in its ``recovery``: still held (never credited), in a
wallet, or in an unused grant whose value it reduced. When the payment had already made up
a grant that was used, forfeited or expired, nothing could be taken back: the reversal is
``UNRECOVERED`` (the merchant's loss, flagged for review) and the grants keep their value,
hence its term in the first equation.

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


class Recovery(str, enum.Enum):
    """Where a billing reversal took the failed payment back from."""

    HELD = "HELD"                # held until billed: it was never credited
    WALLET = "WALLET"            # still in the beneficiary's wallet, which is reduced
    GRANT = "GRANT"              # made up an unused grant, whose value is reduced
    UNRECOVERED = "UNRECOVERED"  # its grant was used or is gone: a loss, flagged for review


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
    recovery: Recovery | None = None
    """Only on BILLING_REVERSAL entries."""


@dataclass(frozen=True)
class Discrepancy:
    subject: str
    message: str


def reconcile(
    entries: Iterable[LedgerEntry], grants: Iterable[Grant], wallet_total: int, held_total: int = 0
) -> list[Discrepancy]:
    """Check the ledger against grants, wallets and held payments (one currency's minor units).

    The invariant checked (see the module docstring)::

        payments - reversals == grants' value + wallets + held - unrecovered reversals

    ``held_total`` is the price of the messages still held until billed (neither credited
    nor reversed). A reversal without a ``recovery`` is a discrepancy: nobody can tell
    where its money went.
    """
    problems: list[Discrepancy] = []
    payments = 0
    unrecovered = 0
    per_grant: dict[str, int] = defaultdict(int)
    for entry in entries:
        if entry.amount.minor < 0:
            problems.append(Discrepancy(f"entry {entry.entry_id}", "negative amount"))
        if entry.kind is EntryKind.SMS_PAYMENT:
            payments += entry.amount.minor
        elif entry.kind is EntryKind.BILLING_REVERSAL:
            payments -= entry.amount.minor
            if entry.recovery is None:
                problems.append(Discrepancy(f"entry {entry.entry_id}", "billing reversal without a recovery"))
            elif entry.recovery is Recovery.UNRECOVERED:
                unrecovered += entry.amount.minor
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
    if held_total < 0:
        problems.append(Discrepancy("held", "negative held total"))
    if payments != granted + wallet_total + held_total - unrecovered:
        problems.append(
            Discrepancy(
                "payments",
                f"paid {payments} (net of reversals) but grants {granted} + wallets {wallet_total}"
                f" + held {held_total} - unrecovered {unrecovered}",
            )
        )
    return problems
