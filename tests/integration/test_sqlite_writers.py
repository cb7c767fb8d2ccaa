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
        assert held_by_someone(sqlite_engine)   # released after the connection is handed back
    assert not held_by_someone(sqlite_engine)


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
