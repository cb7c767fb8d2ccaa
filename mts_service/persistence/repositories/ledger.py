from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, func, select

from mts_service.persistence.fastsql import Db, Prepared, insert_row, Row

from mts_service.domain.ledger import EntryKind, LedgerEntry, Recovery
from mts_service.domain.money import Money
from mts_service.persistence.tables import ledger as t

_INSERT = Prepared(insert_row(t))
_ALL = Prepared(select(t).order_by(t.c.entry_id))


def _entry(row: Row) -> LedgerEntry:
    return LedgerEntry(
        entry_id=row.entry_id,
        kind=EntryKind(row.kind),
        amount=Money(row.amount_minor, row.currency),
        net=None if row.net_minor is None else Money(row.net_minor, row.currency),
        at=row.at,
        customer_id=row.customer_id,
        grant_id=row.grant_id,
        order_id=row.order_id,
        message_id=row.message_id,
        premium_number=row.premium_number,
        operator=row.operator,
        note=row.note,
        recovery=Recovery(row.recovery) if row.recovery else None,
    )


class LedgerRepository:
    """Append-only: there is no update or delete here, on purpose."""

    def __init__(self, db: Db) -> None:
        self._db = db

    def append(self, *entries: LedgerEntry) -> None:
        for e in entries:
            self._db.execute(
                _INSERT,
                {
                    "kind": e.kind.value,
                    "amount_minor": e.amount.minor,
                    "net_minor": None if e.net is None else e.net.minor,
                    "currency": e.amount.currency,
                    "at": e.at,
                    "day": e.at.date().isoformat(),
                    "customer_id": e.customer_id,
                    "grant_id": e.grant_id,
                    "order_id": e.order_id,
                    "message_id": e.message_id,
                    "premium_number": e.premium_number,
                    "operator": e.operator,
                    "note": e.note,
                    "recovery": e.recovery.value if e.recovery else None,
                },
            )

    def page(
        self,
        *,
        customer_id: int | None = None,
        kind: EntryKind | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        after_id: int = 0,
        limit: int = 100,
    ) -> list[LedgerEntry]:
        conditions = [t.c.entry_id > after_id]
        if customer_id is not None:
            conditions.append(t.c.customer_id == customer_id)
        if kind is not None:
            conditions.append(t.c.kind == kind.value)
        if since is not None:
            conditions.append(t.c.at >= since)
        if until is not None:
            conditions.append(t.c.at < until)
        stmt = select(t).where(and_(*conditions)).order_by(t.c.entry_id).limit(limit)
        return [_entry(r) for r in self._db.execute(stmt)]

    def all(self) -> list[LedgerEntry]:
        return [_entry(r) for r in self._db.execute(_ALL)]

    def totals_by_day(self, first_day: str, last_day: str) -> list[Row]:
        """Per day x premium number x operator x kind: count, gross and net."""
        stmt = (
            select(
                t.c.day,
                t.c.premium_number,
                t.c.operator,
                t.c.kind,
                t.c.currency,
                func.count().label("entries"),
                func.sum(t.c.amount_minor).label("amount"),
                func.coalesce(func.sum(t.c.net_minor), 0).label("net"),
            )
            .where(t.c.day >= first_day, t.c.day <= last_day)
            .group_by(t.c.day, t.c.premium_number, t.c.operator, t.c.kind, t.c.currency)
            .order_by(t.c.day, t.c.premium_number, t.c.operator, t.c.kind)
        )
        return list(self._db.execute(stmt))
