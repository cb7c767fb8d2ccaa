"""The cross-node WS-Security replay cache: one INSERT under a unique key.

Two nodes that receive the same signed message race on the INSERT; the database lets
exactly one of them in. An entry whose time has passed may be taken again (its timestamp
can no longer pass the freshness check anyway), and expired rows are purged now and then.
"""

from __future__ import annotations

import itertools
from datetime import datetime

from sqlalchemy import delete, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from mts_service.clock import Clock, SystemClock
from mts_service.persistence.tables import replay_cache as t

PURGE_EVERY = 1000


class SqlReplayCache:
    def __init__(self, engine: Engine, *, clock: Clock | None = None) -> None:
        self._engine = engine
        self._clock = clock or SystemClock()
        insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
        # RETURNING, not rowcount: the driver reports -1 for a single INSERT on PostgreSQL.
        self._insert = insert(t).on_conflict_do_nothing(index_elements=[t.c.key]).returning(t.c.key)
        self._calls = itertools.count(1)

    def remember(self, key: str, expires_at: datetime) -> bool:
        now = self._clock.now()
        with self._engine.begin() as conn:
            if conn.execute(self._insert, {"key": key, "expires_at": expires_at}).first() is not None:
                fresh = True
            else:
                taken_again = conn.execute(
                    update(t).where(t.c.key == key, t.c.expires_at <= now).values(expires_at=expires_at)
                )
                fresh = taken_again.rowcount == 1
            if next(self._calls) % PURGE_EVERY == 0:
                conn.execute(delete(t).where(t.c.expires_at <= now))
        return fresh
