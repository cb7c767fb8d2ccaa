"""A SQLite file's connections are per thread, not pooled (mts_service.persistence.sqlite_connections):
reused across transactions, never shared by two transactions, threads or processes."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from mts_service.bootstrap import engine_for
from mts_service.config import Settings
from mts_service.persistence.engine import make_engine, sqlite_url
from mts_service.persistence.sqlite_connections import checkout, connections_of
from mts_service.persistence.unit_of_work import SqlUnitOfWork


@pytest.fixture
def sqlite_engine(sqlite_database):
    engine = make_engine(sqlite_database)
    yield engine
    engine.dispose()


def test_a_thread_reuses_its_connection_and_the_pool_is_not_used(sqlite_engine):
    seen = []
    for write in (True, False, True):
        with SqlUnitOfWork(sqlite_engine, write=write) as uow:
            seen.append(uow._pooled.driver_connection)
            uow.commit()
    assert seen[0] is seen[1] is seen[2]
    assert sqlite_engine.pool.checkedout() == 0 and connections_of(sqlite_engine).checked_out() == 0


def test_it_is_set_up_by_the_engines_connect_event(sqlite_engine):
    held = checkout(sqlite_engine)
    try:
        raw = held.driver_connection
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert raw.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert raw.isolation_level is None
    finally:
        held.close()


def synchronous_of(engine) -> int:
    """The PRAGMA synchronous of the engine's connections (the engine is disposed of)."""
    held = checkout(engine)
    try:
        return held.driver_connection.execute("PRAGMA synchronous").fetchone()[0]
    finally:
        held.close()
        engine.dispose()


@pytest.mark.parametrize(("level", "pragma"), [("normal", 1), ("full", 2)])
def test_the_durability_level_is_the_configured_one(sqlite_database, level, pragma):
    assert synchronous_of(make_engine(sqlite_database, sqlite_synchronous=level)) == pragma


def test_settings_read_the_durability_level_and_refuse_others():
    assert Settings.from_env({}).sqlite_synchronous == "normal"
    assert Settings.from_env({"MTS_SQLITE_SYNCHRONOUS": " FULL "}).sqlite_synchronous == "full"
    with pytest.raises(ValueError, match="MTS_SQLITE_SYNCHRONOUS"):
        Settings.from_env({"MTS_SQLITE_SYNCHRONOUS": "off"})
    with pytest.raises(ValueError, match="synchronous level"):   # never spliced into the PRAGMA
        make_engine(sqlite_url("/nonexistent/x.db"), sqlite_synchronous="OFF; DROP TABLE grants")


def test_the_service_engine_gets_the_settings_level(tmp_path):
    engine = engine_for(Settings(database_url=sqlite_url(str(tmp_path / "mts.db")), sqlite_synchronous="full"))
    assert synchronous_of(engine) == 2


def test_a_nested_transaction_gets_another_connection(sqlite_engine):
    with SqlUnitOfWork(sqlite_engine, write=False) as outer:
        with SqlUnitOfWork(sqlite_engine, write=True) as inner:
            assert inner._pooled.driver_connection is not outer._pooled.driver_connection
            assert sqlite_engine.pool.checkedout() == 1   # the nested one came from the pool
            inner.commit()
        outer.commit()
    assert sqlite_engine.pool.checkedout() == 0


def test_threads_have_their_own(sqlite_engine):
    mine = checkout(sqlite_engine)
    theirs = []
    try:
        def work():
            held = checkout(sqlite_engine)
            theirs.append(held.driver_connection)
            held.close()

        thread = threading.Thread(target=work)
        thread.start()
        thread.join()
        assert theirs and theirs[0] is not mine.driver_connection
    finally:
        mine.close()


def test_a_connection_given_back_in_a_transaction_is_rolled_back(sqlite_engine):
    held = checkout(sqlite_engine)
    raw = held.driver_connection
    raw.execute("BEGIN IMMEDIATE")
    raw.execute("INSERT INTO replay_cache (key, expires_at) VALUES ('k', '2030-01-01 00:00:00.000000')")
    held.close()
    assert not raw.in_transaction
    again = checkout(sqlite_engine)
    try:
        assert again.driver_connection is raw
        assert raw.execute("SELECT count(*) FROM replay_cache").fetchone()[0] == 0
    finally:
        again.close()


def test_an_invalidated_connection_is_replaced(sqlite_engine):
    held = checkout(sqlite_engine)
    first = held.driver_connection
    held.invalidate()
    again = checkout(sqlite_engine)
    try:
        assert again.driver_connection is not first
        assert again.driver_connection.execute("SELECT 1").fetchone() == (1,)
    finally:
        again.close()


def test_dispose_closes_them_and_the_last_close_removes_the_wal(sqlite_engine):
    with SqlUnitOfWork(sqlite_engine, write=True) as uow:
        uow.commit()
    path = Path(sqlite_engine.url.database)
    assert path.with_name(path.name + "-wal").exists()
    sqlite_engine.dispose()
    assert not path.with_name(path.name + "-wal").exists()
    with SqlUnitOfWork(sqlite_engine, write=True) as uow:   # still usable: a new one is opened
        uow.commit()


def test_a_connection_in_use_when_disposed_is_closed_when_given_back(sqlite_engine):
    held = checkout(sqlite_engine)
    raw = held.driver_connection
    sqlite_engine.dispose()
    assert raw.execute("SELECT 1").fetchone() == (1,)   # its user is not cut off
    held.close()
    again = checkout(sqlite_engine)
    try:
        assert again.driver_connection is not raw
    finally:
        again.close()


def test_a_connection_disposed_just_before_checkout_locks_is_not_handed_out(sqlite_engine):
    connections = connections_of(sqlite_engine)
    checkout(sqlite_engine).close()   # the thread's own connection, idle
    real = connections.lock

    class DisposeFirst:   # another thread's dispose() lands between the check and the lock
        def __enter__(self):
            connections.lock = real
            connections.dispose()
            return real.__enter__()

        def __exit__(self, *exc):
            return real.__exit__(*exc)

    connections.lock = DisposeFirst()
    held = checkout(sqlite_engine)
    try:
        assert held.driver_connection.execute("SELECT 1").fetchone() == (1,)
    finally:
        held.close()


def test_a_forked_child_opens_its_own_and_leaves_its_parents_alone(sqlite_engine):
    with SqlUnitOfWork(sqlite_engine, write=True) as uow:
        parents = uow._pooled.driver_connection
        uow.commit()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.close(read_end)
            with SqlUnitOfWork(sqlite_engine, write=True) as uow:
                ok = uow._pooled.driver_connection is not parents
                uow._pooled.driver_connection.execute(
                    "INSERT INTO replay_cache (key, expires_at) VALUES ('child', '2030-01-01 00:00:00.000000')")
                uow.commit()
            os.write(write_end, b"ok" if ok else b"no")
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    _, status = os.waitpid(pid, 0)
    answer = os.read(read_end, 2)
    os.close(read_end)
    assert status == 0 and answer == b"ok"
    with SqlUnitOfWork(sqlite_engine, write=False) as uow:
        assert uow._pooled.driver_connection is parents   # still the parent's, still working
        assert parents.execute("SELECT key FROM replay_cache").fetchall() == [("child",)]
        uow.commit()


def test_other_databases_keep_the_pool(tmp_path):
    memory = make_engine("sqlite+pysqlite:///:memory:")
    try:
        assert connections_of(memory) is None
        held = checkout(memory)
        held.close()
    finally:
        memory.dispose()
    postgres = make_engine("postgresql://postgres@127.0.0.1:1/none")
    assert connections_of(postgres) is None
    postgres.dispose()
