"""The cross-node WS-Security replay cache: one autocommit upsert under a unique key.

Two nodes that receive the same signed message race on one statement; the database lets
exactly one of them in::

    INSERT INTO replay_cache (key, expires_at) VALUES (:key, :expires_at)
    ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at
        WHERE replay_cache.expires_at <= :now
    RETURNING key

A row comes back when the key is new, or when its old entry has expired (its timestamp
can no longer pass the freshness check, so it may be taken again); nothing comes back for
a live key: a replay. The statement is compiled once per dialect and runs on the pooled
DBAPI connection in autocommit (like ``fastsql``), outside the service's transaction:
one round trip, no BEGIN/COMMIT. Expired rows are purged every ``PURGE_EVERY`` calls.
"""

from __future__ import annotations

import itertools
from datetime import datetime

from sqlalchemy import bindparam, delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from mts_service.clock import Clock, SystemClock
from mts_service.persistence.fastsql import Db, Prepared
from mts_service.persistence.sqlite_writers import writer_turn
from mts_service.persistence.tables import replay_cache as t

PURGE_EVERY = 1000


def _upsert(dialect_insert):  # noqa: ANN001,ANN202
    statement = dialect_insert(t).values(key=bindparam("key"), expires_at=bindparam("expires_at"))
    return statement.on_conflict_do_update(
        index_elements=[t.c.key],
        set_={"expires_at": statement.excluded.expires_at},
        where=t.c.expires_at <= bindparam("now"),
    ).returning(t.c.key)


_REMEMBER = {"postgresql": Prepared(_upsert(postgresql.insert)), "sqlite": Prepared(_upsert(sqlite.insert))}
_PURGE = Prepared(delete(t).where(t.c.expires_at <= bindparam("now")))


class SqlReplayCache:
    def __init__(self, engine: Engine, *, clock: Clock | None = None) -> None:
        if engine.dialect.name not in _REMEMBER:
            raise ValueError(f"no replay cache statement for {engine.dialect.name}")
        self._engine = engine
        self._clock = clock or SystemClock()
        self._remember = _REMEMBER[engine.dialect.name]
        self._postgres = engine.dialect.name == "postgresql"
        self._calls = itertools.count(1)

    def remember(self, key: str, expires_at: datetime) -> bool:
        with writer_turn(self._engine):  # SQLite: a write, so it queues with the others
            return self._remember_now(key, expires_at)

    def _remember_now(self, key: str, expires_at: datetime) -> bool:
        now = self._clock.now()
        pooled = self._engine.raw_connection()
        failed: BaseException | None = None
        try:
            raw = pooled.driver_connection
            if self._postgres:
                raw.autocommit = True  # the pool hands connections back idle (rolled back)
            try:
                db = Db(raw, self._engine.dialect)
                fresh = db.execute(self._remember, {"key": key, "expires_at": expires_at, "now": now}).first() is not None
                if next(self._calls) % PURGE_EVERY == 0:
                    db.execute(_PURGE, {"now": now})
            finally:
                if self._postgres:
                    raw.autocommit = False
        except BaseException as exc:
            failed = exc
            raise
        finally:
            if failed is not None and _lost(failed):
                pooled.invalidate()
            pooled.close()
        return fresh


def _lost(exc: BaseException) -> bool:
    try:
        import psycopg
    except ImportError:  # pragma: no cover - psycopg is a dependency
        return False
    return isinstance(exc, psycopg.OperationalError)
