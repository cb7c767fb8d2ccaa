"""The SQL unit of work: one connection, one transaction, all repositories bound to it."""

from __future__ import annotations

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from mts_service.persistence.repositories import (
    CustomerRepository,
    GrantRepository,
    LedgerRepository,
    MessageRepository,
    OrderRepository,
    PolicyRepository,
    WalletRepository,
)
from mts_service.services.unit_of_work import TransientConflict

# PostgreSQL: unique_violation, serialization_failure, deadlock_detected.
_RETRYABLE_SQLSTATES = {"23505", "40001", "40P01"}


def _is_transient(exc: DBAPIError) -> bool:
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if sqlstate is not None:
        return sqlstate in _RETRYABLE_SQLSTATES
    if isinstance(exc, IntegrityError):
        return "UNIQUE" in str(exc.orig).upper()
    if isinstance(exc, OperationalError):
        return "locked" in str(exc.orig).lower() or "busy" in str(exc.orig).lower()
    return False


class SqlUnitOfWork:
    def __init__(self, engine: Engine, *, write: bool = True) -> None:
        self._engine = engine
        self._write = write
        self._conn: Connection | None = None

    def __enter__(self) -> SqlUnitOfWork:
        conn = self._engine.connect()
        if conn.dialect.name == "sqlite" and not self._write:
            conn = conn.execution_options(sqlite_begin="DEFERRED")
        self._conn = conn
        try:
            conn.begin()
        except DBAPIError as exc:
            conn.close()
            self._translate(exc)
            raise
        self.customers = CustomerRepository(conn)
        self.grants = GrantRepository(conn)
        self.orders = OrderRepository(conn)
        self.ledger = LedgerRepository(conn)
        self.messages = MessageRepository(conn)
        self.policies = PolicyRepository(conn)
        self.wallets = WalletRepository(conn)
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        assert self._conn is not None
        try:
            if self._conn.in_transaction():
                self._conn.rollback()
        finally:
            self._conn.close()
            self._conn = None
        if isinstance(exc, DBAPIError):
            self._translate(exc)

    def _translate(self, exc: DBAPIError) -> None:
        if _is_transient(exc):
            raise TransientConflict(str(exc.orig)) from exc

    def commit(self) -> None:
        assert self._conn is not None
        try:
            self._conn.commit()
        except DBAPIError as exc:
            self._translate(exc)
            raise

    def rollback(self) -> None:
        assert self._conn is not None
        self._conn.rollback()


def uow_factory(engine: Engine):
    def make(*, write: bool = True) -> SqlUnitOfWork:
        return SqlUnitOfWork(engine, write=write)

    return make
