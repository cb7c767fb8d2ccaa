"""The cross-node WS-Security replay cache: one autocommit upsert under a unique key.

Two nodes that receive the same signed message race on one statement; the database lets
exactly one of them in::

    INSERT INTO replay_cache (key, expires_at) VALUES (:key, :expires_at)
    ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at
        WHERE replay_cache.expires_at <= :now

It changes one row when the key is new, or when its old entry has expired (its timestamp
can no longer pass the freshness check, so it may be taken again); none for a live key: a
replay. The driver's row count says which (both SQLite and PostgreSQL count a row that
DO UPDATE changed, and not one its WHERE skipped). No RETURNING: on SQLite it buffers the
row in a temporary table opened and freed per execution, which made this statement cost
twice a plain INSERT. The statement is compiled once per dialect. Expired rows are purged
every ``PURGE_EVERY`` recorded keys.

Where it runs. A request that writes already opens a write transaction for its use case;
a second one just for the replay key would cost a connection checkout, a COMMIT and (on
SQLite) a second turn in the writers' queue, per request. So the security layer opens a
``request_scope()`` around verification and the service call: inside it ``remember``
only notes the key, and the request's first write transaction (``SqlUnitOfWork``) claims
it with the statement above as its first statement, committing it with the use case's
own changes, or refusing the request with SECURITY_REPLAY before the use case has read a
row. Racing copies of one message still meet on the unique key (on PostgreSQL the second
insert waits for the first transaction and then sees its row). A request that wrote
nothing, or whose transaction rolled back, has its key recorded when the scope settles,
in autocommit: then a replay of it is refused after the fact, which is safe because the
service changed nothing for it.
"""

from __future__ import annotations

import itertools
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from typing import Any, Iterator

from sqlalchemy import bindparam, delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from mts_service.clock import Clock, SystemClock
from mts_service.errors import ErrorCode, SecurityError
from mts_service.persistence.engine import lost_connection
from mts_service.persistence.fastsql import Db, Prepared
from mts_service.persistence.sqlite_connections import checkout
from mts_service.persistence.sqlite_writers import writer_turn
from mts_service.persistence.tables import replay_cache as t

PURGE_EVERY = 1000


def _upsert(dialect_insert):  # noqa: ANN001,ANN202
    statement = dialect_insert(t).values(key=bindparam("key"), expires_at=bindparam("expires_at"))
    return statement.on_conflict_do_update(
        index_elements=[t.c.key],
        set_={"expires_at": statement.excluded.expires_at},
        where=t.c.expires_at <= bindparam("now"),
    )


_REMEMBER = {"postgresql": Prepared(_upsert(postgresql.insert)), "sqlite": Prepared(_upsert(sqlite.insert))}
_PURGE = Prepared(delete(t).where(t.c.expires_at <= bindparam("now")))


class DeferredKey:
    """The key of the request being served, until a transaction or ``settle()`` records it."""

    __slots__ = ("cache", "key", "expires_at", "in_flight", "recorded", "refused")

    def __init__(self, cache: SqlReplayCache) -> None:
        self.cache = cache
        self.key: str | None = None
        self.expires_at: datetime | None = None
        self.in_flight = False   # inserted by a write transaction that has not ended yet
        self.recorded = False
        self.refused = False     # a transaction found it live: a replay, already answered

    def committed(self) -> None:
        self.in_flight = False
        self.recorded = True

    def rolled_back(self) -> None:
        self.in_flight = False   # back to pending: settle() records it

    def settle(self) -> bool:
        """Record the key now unless a committed transaction did; False if it is a replay."""
        if self.key is None:
            return True
        if self.refused:
            return False
        if self.recorded:
            self.cache.count_recorded()
            return True
        assert self.expires_at is not None
        self.recorded = True
        return self.cache.remember_now(self.key, self.expires_at)


_deferred: ContextVar[DeferredKey | None] = ContextVar("mts_deferred_replay_key", default=None)


def claim_deferred_key(db: Db, engine: Engine) -> DeferredKey | None:
    """In a write transaction on ``db``: record the request's key, or refuse a replay.

    Called by the unit of work right after BEGIN; returns the key it claimed (the unit of
    work reports its commit or rollback to it), or None outside a request scope, once the
    key is claimed, or for another database than the cache's."""
    slot = _deferred.get()
    if slot is None or slot.key is None or slot.recorded or slot.in_flight:
        return None
    try:
        if not slot.cache.claim(db, engine, slot.key, slot.expires_at):
            return None
    except SecurityError:
        slot.refused = True
        raise
    slot.in_flight = True
    return slot


class SqlReplayCache:
    def __init__(self, engine: Engine, *, clock: Clock | None = None) -> None:
        if engine.dialect.name not in _REMEMBER:
            raise ValueError(f"no replay cache statement for {engine.dialect.name}")
        self._engine = engine
        self._clock = clock or SystemClock()
        self._remember = _REMEMBER[engine.dialect.name]
        self._postgres = engine.dialect.name == "postgresql"
        self._calls = itertools.count(1)

    @contextmanager
    def request_scope(self) -> Iterator[DeferredKey]:
        """Defer ``remember`` to the request's first write transaction (see the module doc).
        The caller must ``settle()`` the yielded key before answering."""
        slot = DeferredKey(self)
        token = _deferred.set(slot)
        try:
            yield slot
        finally:
            _deferred.reset(token)

    def remember(self, key: str, expires_at: datetime) -> bool:
        slot = _deferred.get()
        if slot is not None and slot.cache is self and slot.key is None:
            slot.key, slot.expires_at = key, expires_at
            return True   # provisionally: claimed in the use case's transaction or at settle()
        return self.remember_now(key, expires_at)

    def claim(self, db: Db, engine: Engine, key: str, expires_at: datetime | None) -> bool:
        """Insert ``key`` inside the caller's transaction on ``db``; SecurityError if it is
        live already; False (nothing done) if ``engine`` is not this cache's database."""
        if engine is not self._engine and engine.url != self._engine.url:
            return False
        changed = db.execute(self._remember, {"key": key, "expires_at": expires_at, "now": self._clock.now()}).rowcount
        if changed != 1:
            raise SecurityError("this signature was already accepted", code=ErrorCode.SECURITY_REPLAY)
        return True

    def count_recorded(self) -> None:
        if next(self._calls) % PURGE_EVERY == 0:
            self.purge()

    def purge(self) -> None:
        self._run(_PURGE, {"now": self._clock.now()})

    def remember_now(self, key: str, expires_at: datetime) -> bool:
        """Record ``key`` in its own autocommit statement; False if it is live already."""
        fresh = self._run(self._remember, {"key": key, "expires_at": expires_at, "now": self._clock.now()}) == 1
        if fresh:
            self.count_recorded()
        return fresh

    def _run(self, statement: Prepared, params: dict[str, Any]) -> int:
        """One autocommit write; the rows it changed. Connection first, then the writers'
        queue (SQLite), in the unit of work's order: a writer holding the queue never waits
        for a pooled connection that a queued writer holds."""
        pooled = checkout(self._engine)
        failed: BaseException | None = None
        try:
            raw = pooled.driver_connection
            if self._postgres:
                raw.autocommit = True  # the pool hands connections back idle (rolled back)
            try:
                with writer_turn(self._engine):  # SQLite: a write, so it queues with the others
                    changed = Db(raw, self._engine.dialect).execute(statement, params).rowcount
            finally:
                if self._postgres:
                    raw.autocommit = False
        except BaseException as exc:
            failed = exc
            raise
        finally:
            if failed is not None and lost_connection(failed):
                pooled.invalidate()
            pooled.close()
        return changed
