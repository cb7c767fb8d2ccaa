"""The SQL unit of work: one DBAPI connection, one transaction, all repositories bound to it.

The connection comes from SQLAlchemy's pool (pre-ping, recycling) for PostgreSQL and is the
thread's own for a SQLite file (``sqlite_connections``); statements run on the DBAPI
connection itself (see ``fastsql``). SQLite write transactions start with
``BEGIN IMMEDIATE`` so that concurrent processes queue on the busy timeout instead of
failing when a reader upgrades to a writer; PostgreSQL runs READ COMMITTED and every race
is closed by a conditional statement or a unique key.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from mts_service.persistence.engine import RETRYABLE_SQLSTATES, lost_connection
from mts_service.persistence.fastsql import Db, notify
from mts_service.persistence.replay_cache import DeferredKey, claim_deferred_key
from mts_service.persistence.sqlite_connections import checkout
from mts_service.persistence.sqlite_writers import SqliteWriterQueue, writers_of
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

def _transient(exc: BaseException) -> bool:
    """A failure that a fresh transaction may not meet: a lost race or a lost connection."""
    if isinstance(exc, DBAPIError):  # raised by the pool while connecting
        return exc.orig is not None and _transient(exc.orig)
    if isinstance(exc, sqlite3.IntegrityError):
        return "UNIQUE" in str(exc).upper()
    if isinstance(exc, sqlite3.OperationalError):
        text = str(exc).lower()
        return "locked" in text or "busy" in text
    try:
        import psycopg
    except ImportError:  # pragma: no cover - psycopg is a dependency
        return False
    if isinstance(exc, psycopg.Error):
        if getattr(exc, "sqlstate", None) in RETRYABLE_SQLSTATES:
            return True
        # The server restarted or the network dropped: every use case is idempotent by key,
        # so running it again on a new connection is safe.
        return isinstance(exc, psycopg.OperationalError)
    return False


class SqlUnitOfWork:
    def __init__(self, engine: Engine, *, write: bool = True) -> None:
        self._engine = engine
        self._write = write
        self._pooled: Any = None
        self._writers: SqliteWriterQueue | None = None   # held from before BEGIN to after COMMIT
        self._claim: DeferredKey | None = None   # the request's replay key, if this transaction holds it
        self._done = False

    def __enter__(self) -> SqlUnitOfWork:
        try:
            self._pooled = checkout(self._engine)
            raw = self._pooled.driver_connection
            if self._write:  # SQLite: wait in the writers' queue, not in the busy handler
                writers = writers_of(self._engine)
                if writers is not None:
                    writers.acquire()
                    self._writers = writers
            if self._engine.dialect.name == "sqlite":
                begin = "BEGIN IMMEDIATE" if self._write else "BEGIN"
                notify(begin)
                raw.execute(begin)
            db = Db(raw, self._engine.dialect)
            if self._write:  # the request's WS-Security replay key, committed with the use case
                self._claim = claim_deferred_key(db, self._engine)
        except Exception as exc:
            if self._pooled is not None:
                self._rollback_quietly()
            self._release(exc)
            if _transient(exc):
                raise TransientConflict(str(exc)) from exc
            raise
        self._done = False
        self.customers = CustomerRepository(db)
        self.grants = GrantRepository(db)
        self.orders = OrderRepository(db)
        self.ledger = LedgerRepository(db)
        self.messages = MessageRepository(db)
        self.policies = PolicyRepository(db)
        self.wallets = WalletRepository(db)
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if not self._done:
            if not self._rollback_quietly():
                exc = exc or RuntimeError("rollback failed")
        self._release(exc)
        if exc is not None and _transient(exc):
            raise TransientConflict(str(exc)) from exc

    def _rollback_quietly(self) -> bool:
        self._end_claim(committed=False)
        try:
            self._pooled.driver_connection.rollback()
            return True
        except Exception:  # the connection may be gone; the pool is told in _release
            return False
        finally:
            self._leave_queue()

    def _release(self, exc: BaseException | None) -> None:
        try:
            if self._pooled is None:
                return
            if exc is not None and lost_connection(exc):
                self._pooled.invalidate()
            self._pooled.close()
            self._pooled = None
        finally:
            self._leave_queue()

    def _leave_queue(self) -> SqliteWriterQueue | None:
        """Let the next writer in: called as soon as COMMIT or ROLLBACK has returned (the
        connection's return to the pool and the WAL checkpoint happen after, outside it)."""
        writers, self._writers = self._writers, None
        if writers is not None:
            writers.release()
        return writers

    def commit(self) -> None:
        try:
            self._pooled.driver_connection.commit()
        except Exception as exc:
            if _transient(exc):
                raise TransientConflict(str(exc)) from exc
            raise
        # Committed: record it before anything else can fail (a failure below must not make
        # __exit__ treat the transaction, or its replay key, as rolled back).
        self._end_claim(committed=True)
        self._done = True
        writers = self._leave_queue()
        if writers is not None:
            writers.committed(self._pooled.driver_connection)

    def rollback(self) -> None:
        self._end_claim(committed=False)
        try:
            self._pooled.driver_connection.rollback()
        finally:
            self._leave_queue()
        self._done = True

    def _end_claim(self, *, committed: bool) -> None:
        claim, self._claim = self._claim, None
        if claim is not None:
            claim.committed() if committed else claim.rolled_back()


def uow_factory(engine: Engine):
    def make(*, write: bool = True) -> SqlUnitOfWork:
        return SqlUnitOfWork(engine, write=write)

    return make
