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

SQLite's automatic WAL checkpoint runs inside the COMMIT that crosses its threshold, so
with this queue it would run while every other writer waits (it copies pages and fsyncs
twice). The threshold is therefore set high (``engine.SQLITE_AUTOCHECKPOINT_PAGES``, a
safety net for writers outside MTS) and each process runs a PASSIVE checkpoint every
``CHECKPOINT_EVERY`` commits, after leaving the queue: a passive checkpoint never blocks a
writer, and the WAL stays a few tens of megabytes at most.

Each thread opens the lock file once (flock locks belong to an open file description, so
threads of one process queue like processes do); a thread re-entering is counted, not
blocked. A process killed while holding it loses the lock with its descriptors.
"""

from __future__ import annotations

import fcntl
import itertools
import logging
import os
import sqlite3
import threading
from contextlib import contextmanager, nullcontext
from typing import ContextManager, Iterator

from sqlalchemy.engine import Engine

log = logging.getLogger("mts.persistence")

CHECKPOINT_EVERY = 256
"""Commits of one process between its passive WAL checkpoints. A checkpoint costs about
1 ms of CPU whatever its size (on top of about 1 us per WAL frame, spent either way): 17 us
a commit every 64 commits, 4 us every 256 (measured, SubmitSms). A SubmitSms commit writes
about 15 pages, so the WAL grows to about 16 MB per process between two checkpoints, well
under the autocheckpoint safety net (``engine.SQLITE_AUTOCHECKPOINT_PAGES``, 40 MB). With
``synchronous=NORMAL`` the checkpoint's fsync is also what makes earlier commits survive a
power loss (not a crash of the process): that window, counted in commits, grew from 64 to
256 (about 0.4 s of both workers at full load; at low traffic it was never bounded in
time)."""

CHECKPOINT = "PRAGMA wal_checkpoint(PASSIVE)"

_queues: dict[str, SqliteWriterQueue] = {}
_queues_lock = threading.Lock()


class _LockFile:
    """One thread's descriptor of the lock file; closed when the thread's locals go."""

    __slots__ = ("fd", "depth", "pid")

    def __init__(self, path: str) -> None:
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        self.depth = 0
        # flock locks belong to the open file description: a forked child (a --preload
        # gunicorn worker, a test) that used its parent's descriptor would hold "the" lock
        # at the same time as its parent. Queues check this pid and open their own.
        self.pid = os.getpid()

    def __del__(self) -> None:
        os.close(self.fd)


class SqliteWriterQueue:
    def __init__(self, database_path: str) -> None:
        self.lock_path = f"{database_path}-writers"
        self._local = threading.local()
        self._commits = itertools.count(1)

    def acquire(self) -> None:
        """Wait for the writers' lock (re-entrant within a thread)."""
        mine = getattr(self._local, "file", None)
        if mine is None or mine.pid != os.getpid():
            mine = self._local.file = _LockFile(self.lock_path)
        if mine.depth == 0:
            fcntl.flock(mine.fd, fcntl.LOCK_EX)
        mine.depth += 1

    def release(self) -> None:
        mine = self._local.file
        if mine.pid != os.getpid():
            return   # taken by the parent before fork: the parent's to release, not ours
        mine.depth -= 1
        if mine.depth == 0:
            fcntl.flock(mine.fd, fcntl.LOCK_UN)

    def committed(self, connection: sqlite3.Connection) -> tuple[int, int, int] | None:
        """After a commit, outside the queue: now and then, checkpoint the WAL (PASSIVE: it
        copies what no reader still needs and never blocks a writer). A failure only delays
        the checkpoint; the commit stands. Returns SQLite's (busy, WAL frames, frames copied)
        when it ran."""
        if next(self._commits) % CHECKPOINT_EVERY:
            return None
        from mts_service.persistence.fastsql import notify  # fastsql imports the schema: late

        try:
            notify(CHECKPOINT)
            busy, frames, copied = connection.execute(CHECKPOINT).fetchone()
        except Exception as exc:  # the transaction has committed: never turn it into a failure
            log.warning("WAL checkpoint skipped: %s", exc)
            return None
        return busy, frames, copied

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
