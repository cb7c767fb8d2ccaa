from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from mts_service.persistence.fastsql import Db, Prepared

from mts_service.domain.grants import GrantKind
from mts_service.persistence.tables import wallets as t


@dataclass(frozen=True)
class Wallet:
    beneficiary: str
    kind: GrantKind | None
    sms_count: int
    amount_minor: int


def _lock_statement(insert):
    # The upsert touches the row, which takes its lock (row lock on PostgreSQL; SQLite's
    # write transaction already holds the database), and RETURNING reads it in the same trip.
    stmt = insert(t)
    return stmt.on_conflict_do_update(index_elements=[t.c.beneficiary], set_={"updated_at": stmt.excluded.updated_at}).returning(
        t.c.kind, t.c.sms_count, t.c.amount_minor
    )


_LOCK = {"postgresql": Prepared(_lock_statement(postgresql.insert)), "sqlite": Prepared(_lock_statement(sqlite.insert))}
_GET = Prepared(select(t.c.kind, t.c.sms_count, t.c.amount_minor).where(t.c.beneficiary == bindparam("b")))
_SAVE = Prepared(
    update(t)
    .where(t.c.beneficiary == bindparam("b"))
    .values(kind=bindparam("kind"), sms_count=bindparam("sms_count"), amount_minor=bindparam("amount_minor"), updated_at=bindparam("now"))
)
_TOTAL = Prepared(select(func.coalesce(func.sum(t.c.amount_minor), 0).label("total")))


class WalletRepository:
    """Payments waiting to become a grant. ``lock`` must come before any decision on them."""

    def __init__(self, db: Db) -> None:
        self._db = db

    def lock(self, beneficiary: str, currency: str, now: datetime) -> Wallet:
        """Create the wallet if needed and take its row lock, in one round trip."""
        row = self._db.execute(
            _LOCK[self._db.name],
            {"beneficiary": beneficiary, "kind": None, "sms_count": 0, "amount_minor": 0, "currency": currency, "updated_at": now},
        ).one()
        return Wallet(beneficiary, GrantKind(row.kind) if row.kind else None, row.sms_count, row.amount_minor)

    def save(self, wallet: Wallet, now: datetime) -> None:
        self._db.execute(
            _SAVE,
            {"b": wallet.beneficiary, "kind": wallet.kind.value if wallet.kind else None, "sms_count": wallet.sms_count,
             "amount_minor": wallet.amount_minor, "now": now},
        )

    def total(self) -> int:
        return int(self._db.execute(_TOTAL).scalar_one())

    def get(self, beneficiary: str) -> Wallet | None:
        row = self._db.execute(_GET, {"b": beneficiary}).first()
        if row is None:
            return None
        return Wallet(beneficiary, GrantKind(row.kind) if row.kind else None, row.sms_count, row.amount_minor)
