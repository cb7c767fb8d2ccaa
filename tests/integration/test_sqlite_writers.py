"""The SQLite writers' queue: writers wait on a kernel lock that wakes them on release,
not in SQLite's sleeping busy handler (see mts_service.persistence.sqlite_writers)."""

from __future__ import annotations

import fcntl
import os
import threading
from datetime import timedelta

import pytest

from mts_service.persistence.replay_cache import SqlReplayCache
from mts_service.persistence.sqlite_writers import writer_turn
from mts_service.persistence.unit_of_work import SqlUnitOfWork


@pytest.fixture
def sqlite_engine(sqlite_database):
    from mts_service.persistence.engine import make_engine

    engine = make_engine(sqlite_database)
    yield engine
    engine.dispose()


def held_by_someone(engine) -> bool:
    """Would another process have to wait for the writers' lock right now?"""
    fd = os.open(f"{engine.url.database}-writers", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def test_a_write_transaction_holds_the_turn_until_it_has_committed(sqlite_engine):
    with SqlUnitOfWork(sqlite_engine, write=True) as uow:
        assert held_by_someone(sqlite_engine)
        uow.commit()
        # Released the moment COMMIT returned: handing the connection back to the pool and
        # checkpointing the WAL happen outside the queue.
        assert not held_by_someone(sqlite_engine)
    assert not held_by_someone(sqlite_engine)


def test_an_explicit_rollback_releases_the_turn_at_once(sqlite_engine):
    with SqlUnitOfWork(sqlite_engine, write=True) as uow:
        uow.rollback()
        assert not held_by_someone(sqlite_engine)


def test_the_wal_is_checkpointed_every_so_many_commits_outside_the_queue(sqlite_engine, monkeypatch):
    from mts_service.persistence import sqlite_writers
    from mts_service.persistence.fastsql import observing

    monkeypatch.setattr(sqlite_writers, "CHECKPOINT_EVERY", 3)
    checkpoints, results = [], []
    committed = sqlite_writers.SqliteWriterQueue.committed
    monkeypatch.setattr(sqlite_writers.SqliteWriterQueue, "committed",
                        lambda self, connection: results.append(committed(self, connection)))

    def watch(sql, _args):
        if sql == sqlite_writers.CHECKPOINT:
            checkpoints.append(held_by_someone(sqlite_engine))

    with observing(watch):
        for _ in range(7):
            with SqlUnitOfWork(sqlite_engine, write=True) as uow:
                uow.commit()
    assert checkpoints == [False, False]   # after commits 3 and 6, never inside the queue
    ran = [r for r in results if r is not None]
    assert len(ran) == 2 and all(busy == 0 and frames == copied for busy, frames, copied in ran), results
    pages = sqlite_engine.raw_connection()
    try:  # SQLite's own checkpoint (inside a COMMIT) only catches writers outside MTS
        assert pages.driver_connection.execute("PRAGMA wal_autocheckpoint").fetchone()[0] >= 10_000
    finally:
        pages.close()


def test_a_forked_child_takes_its_own_turn_not_its_parents(sqlite_engine):
    """flock belongs to the open file: a child must not inherit its parent's (a --preload
    gunicorn worker would otherwise write beside its sibling)."""
    with writer_turn(sqlite_engine):
        pass   # the parent has opened its lock file
    read_end, write_end = os.pipe()
    with writer_turn(sqlite_engine):
        pid = os.fork()
        if pid == 0:  # the child: must wait while the parent holds the turn
            try:
                os.close(read_end)
                with writer_turn(sqlite_engine):
                    os.write(write_end, b"in")
            finally:
                os._exit(0)
        os.close(write_end)
        import select

        ready, _, _ = select.select([read_end], [], [], 0.5)
        assert not ready   # the child is waiting for the parent's turn
    ready, _, _ = select.select([read_end], [], [], 10)
    assert ready and os.read(read_end, 2) == b"in"
    os.waitpid(pid, 0)
    os.close(read_end)


def test_a_failed_write_transaction_releases_the_turn(sqlite_engine):
    with pytest.raises(RuntimeError):
        with SqlUnitOfWork(sqlite_engine, write=True):
            raise RuntimeError("use case failed")
    assert not held_by_someone(sqlite_engine)


def test_readers_do_not_queue(sqlite_engine):
    with SqlUnitOfWork(sqlite_engine, write=False) as uow:
        assert not held_by_someone(sqlite_engine)
        uow.commit()


def test_the_replay_cache_write_queues_too(sqlite_engine, clock):
    cache = SqlReplayCache(sqlite_engine, clock=clock)
    seen = []
    with writer_turn(sqlite_engine):
        worker = threading.Thread(target=lambda: seen.append(cache.remember("k", clock.now() + timedelta(minutes=5))))
        worker.start()
        worker.join(timeout=0.5)
        assert worker.is_alive() and not seen   # waiting for our turn, not writing
    worker.join(timeout=10)
    assert seen == [True]


def test_a_thread_reentering_is_not_blocked(sqlite_engine):
    with writer_turn(sqlite_engine):
        with writer_turn(sqlite_engine):
            assert held_by_someone(sqlite_engine)
        assert held_by_someone(sqlite_engine)
    assert not held_by_someone(sqlite_engine)


def test_other_databases_have_no_queue(tmp_path):
    from mts_service.persistence.engine import make_engine

    memory = make_engine("sqlite+pysqlite:///:memory:")
    with writer_turn(memory):
        pass
    assert not list(tmp_path.iterdir())


def test_every_writer_has_its_connection_before_it_queues(sqlite_engine, clock, monkeypatch):
    """One order for both resources: pooled connection, then the queue. A writer holding the
    queue while waiting for a connection could wait forever on writers that hold connections
    and queue behind it (16 threads exhaust the default pool of 5 + 10)."""
    from mts_service.persistence.sqlite_connections import connections_of
    from mts_service.persistence.sqlite_writers import SqliteWriterQueue

    checked_out_at_acquire = []
    acquire = SqliteWriterQueue.acquire

    def watching(self):
        # The thread's own connection (sqlite_connections), or a pooled one if it is in use.
        checked_out_at_acquire.append(sqlite_engine.pool.checkedout() + connections_of(sqlite_engine).checked_out())
        acquire(self)

    monkeypatch.setattr(SqliteWriterQueue, "acquire", watching)
    cache = SqlReplayCache(sqlite_engine, clock=clock)
    assert cache.remember_now("k-1", clock.now() + timedelta(minutes=5))
    cache.purge()
    with SqlUnitOfWork(sqlite_engine, write=True) as uow:
        uow.commit()
    assert checked_out_at_acquire == [1, 1, 1]


def test_a_forked_child_unwinding_its_parents_turn_does_not_release_it(sqlite_engine):
    """A child forked inside a writer's turn (its stack still holds the parent's queue) must
    not unlock the parent's open lock file when it unwinds."""
    from mts_service.persistence.sqlite_writers import writers_of

    queue = writers_of(sqlite_engine)
    queue.acquire()
    try:
        pid = os.fork()
        if pid == 0:
            try:
                queue.release()   # what leaving the inherited `with` block would do
            finally:
                os._exit(0)
        os.waitpid(pid, 0)
        assert held_by_someone(sqlite_engine)   # still the parent's
    finally:
        queue.release()
    assert not held_by_someone(sqlite_engine)
