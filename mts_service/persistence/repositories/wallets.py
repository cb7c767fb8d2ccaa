from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from mts_service.persistence.fastsql import Db, Prepared, Row, insert_row

from mts_service.domain.grants import GrantKind
from mts_service.persistence.tables import wallets as t


@dataclass(frozen=True)
class Wallet:
    beneficiary: str
    kind: GrantKind | None
    sms_count: int
    amount_minor: int
    stored: bool = True
    """False for an empty wallet that has no row yet (SQLite: see ``WalletRepository.lock``)."""


def _lock_statement(insert):
    # The upsert touches the row, which takes its lock (row lock on PostgreSQL; SQLite's
    # write transaction already holds the database), and RETURNING reads it in the same trip.
    stmt = insert(t)
    return stmt.on_conflict_do_update(index_elements=[t.c.beneficiary], set_={"updated_at": stmt.excluded.updated_at}).returning(
        t.c.kind, t.c.sms_count, t.c.amount_minor
    )


_LOCK = {"postgresql": Prepared(_lock_statement(postgresql.insert)), "sqlite": Prepared(_lock_statement(sqlite.insert))}
_INSERT = Prepared(insert_row(t))
_GET = Prepared(select(t.c.kind, t.c.sms_count, t.c.amount_minor).where(t.c.beneficiary == bindparam("b")))
_SAVE = Prepared(
    update(t)
    .where(t.c.beneficiary == bindparam("b"))
    .values(kind=bindparam("kind"), sms_count=bindparam("sms_count"), amount_minor=bindparam("amount_minor"), updated_at=bindparam("now"))
)
_TOTAL = Prepared(select(func.coalesce(func.sum(t.c.amount_minor), 0).label("total")))


def _wallet(beneficiary: str, row: Row) -> Wallet:
    return Wallet(beneficiary, GrantKind(row.kind) if row.kind else None, row.sms_count, row.amount_minor)


class WalletRepository:
    """Payments waiting to become a grant. ``lock`` must come before any decision on them."""

    def __init__(self, db: Db) -> None:
        self._db = db

    def lock(self, beneficiary: str, currency: str, now: datetime) -> Wallet:
        """The wallet, locked for the rest of the transaction.

        PostgreSQL: created if needed and its row lock taken, in one round trip (the upsert).
        SQLite: read only. The write transaction (BEGIN IMMEDIATE) already holds the whole
        database, so no racing payment can touch the wallet until COMMIT; a missing row is
        an empty wallet (``stored`` False) that ``save`` inserts if it ever holds a payment.
        Most first payments complete a grant at once (one SMS per advance) and never did
        need a row: the upsert with RETURNING cost about 70 us of each such SubmitSms.
        """
        if self._db.name == "sqlite":
            found = self.get(beneficiary)
            return found if found is not None else Wallet(beneficiary, None, 0, 0, stored=False)
        row = self._db.execute(
            _LOCK[self._db.name],
            {"beneficiary": beneficiary, "kind": None, "sms_count": 0, "amount_minor": 0, "currency": currency, "updated_at": now},
        ).one()
        return _wallet(beneficiary, row)

    def save(self, wallet: Wallet, now: datetime, currency: str | None = None) -> None:
        values = {"kind": wallet.kind.value if wallet.kind else None, "sms_count": wallet.sms_count,
                  "amount_minor": wallet.amount_minor}
        if wallet.stored:
            self._db.execute(_SAVE, {"b": wallet.beneficiary, "now": now, **values})
            return
        if wallet.sms_count == 0 and wallet.amount_minor == 0 and wallet.kind is None:
            return   # still empty: no row needed
        if currency is None:
            raise ValueError("a wallet's first row needs its currency")
        self._db.execute(_INSERT, {"beneficiary": wallet.beneficiary, "currency": currency, "updated_at": now, **values})

    def total(self) -> int:
        return int(self._db.execute(_TOTAL).scalar_one())

    def get(self, beneficiary: str) -> Wallet | None:
        row = self._db.execute(_GET, {"b": beneficiary}).first()
        return _wallet(beneficiary, row) if row is not None else None
