"""A fair, wake-on-release queue for SQLite writers across threads and processes.

SQLite allows one writer at a time. A second ``BEGIN IMMEDIATE`` does not wait on the
lock: it sleeps in the busy handler (1, 2, 5, 10, 15, 20, 25 ms ... between polls) and
polls again. With transactions of a fraction of a millisecond, a worker that meets a held
lock typically sleeps several times longer than the holder needed, so workers of one server
sat idle a fifth of the time under load (measured with ``mts-service bench``).

So every writer first takes an exclusive ``flock`` on ``<database>-writers`` and holds it
until its COMMIT or ROLLBACK has returned: the kernel queues the waiters and wakes the next
one the moment the lock is released, and BEGIN IMMEDIATE then finds the database free. The
busy timeout stays as the fallback for any writer that does not use this queue (the sqlite3
shell, a migration run by hand): correctness never depends on the queue, only latency does.

Each thread opens the lock file once (flock locks belong to an open file description, so
threads of one process queue like processes do); a thread re-entering is counted, not
blocked. A process killed while holding it loses the lock with its descriptors.
"""

from __future__ import annotations

import fcntl
import os
import threading
from contextlib import contextmanager, nullcontext
from typing import ContextManager, Iterator

from sqlalchemy.engine import Engine

_queues: dict[str, SqliteWriterQueue] = {}
_queues_lock = threading.Lock()


class _LockFile:
    """One thread's descriptor of the lock file; closed when the thread's locals go."""

    __slots__ = ("fd", "depth")

    def __init__(self, path: str) -> None:
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        self.depth = 0

    def __del__(self) -> None:
        os.close(self.fd)


class SqliteWriterQueue:
    def __init__(self, database_path: str) -> None:
        self.lock_path = f"{database_path}-writers"
        self._local = threading.local()

    def acquire(self) -> None:
        """Wait for the writers' lock (re-entrant within a thread)."""
        mine = getattr(self._local, "file", None)
        if mine is None:
            mine = self._local.file = _LockFile(self.lock_path)
        if mine.depth == 0:
            fcntl.flock(mine.fd, fcntl.LOCK_EX)
        mine.depth += 1

    def release(self) -> None:
        mine = self._local.file
        mine.depth -= 1
        if mine.depth == 0:
            fcntl.flock(mine.fd, fcntl.LOCK_UN)

    @contextmanager
    def turn(self) -> Iterator[None]:
        """Hold the writers' lock for the block."""
        self.acquire()
        try:
            yield
        finally:
            self.release()


def writers_of(engine: Engine) -> SqliteWriterQueue | None:
    """The writers' queue of ``engine``'s SQLite file; None for other databases (PostgreSQL
    has row locks) and for in-memory SQLite (one connection, nobody to queue)."""
    if engine.dialect.name != "sqlite":
        return None
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    queue = _queues.get(database)
    if queue is None:
        with _queues_lock:
            queue = _queues.setdefault(database, SqliteWriterQueue(os.path.abspath(database)))
    return queue


def writer_turn(engine: Engine) -> ContextManager[None]:
    """Hold ``engine``'s writers' queue for a ``with`` block (a no-op where there is none)."""
    queue = writers_of(engine)
    return queue.turn() if queue is not None else nullcontext()
