from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from mts_service.errors import ErrorCode, SecurityError
from mts_service.persistence.replay_cache import SqlReplayCache
from mts_service.persistence.unit_of_work import SqlUnitOfWork


def test_second_sighting_is_refused_until_expiry(engine, clock):
    cache = SqlReplayCache(engine, clock=clock)
    until = clock.now() + timedelta(minutes=5)
    assert cache.remember("k1", until)
    assert not cache.remember("k1", until)
    assert cache.remember("k2", until)
    clock.advance(timedelta(minutes=6))
    assert cache.remember("k1", clock.now() + timedelta(minutes=5))


def test_racing_inserts_let_exactly_one_in(engine, clock):
    cache = SqlReplayCache(engine, clock=clock)
    until = clock.now() + timedelta(minutes=5)
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: cache.remember("same", until), range(32)))
    assert results.count(True) == 1


# -- the key deferred to the request's own write transaction -------------------------------------


def _until(clock):
    return clock.now() + timedelta(minutes=5)


def test_a_write_transaction_records_the_deferred_key_with_its_commit(engine, clock):
    cache = SqlReplayCache(engine, clock=clock)
    with cache.request_scope() as deferred:
        assert cache.remember("k", _until(clock))          # noted, not yet written
        assert cache.remember_now("probe", _until(clock))
        with SqlUnitOfWork(engine) as uow:
            uow.commit()
        assert deferred.recorded
        assert deferred.settle()
    assert not cache.remember_now("k", _until(clock))       # it is in the table


def test_a_replay_is_refused_when_its_transaction_begins(engine, clock):
    cache = SqlReplayCache(engine, clock=clock)
    assert cache.remember_now("k", _until(clock))
    with cache.request_scope():
        cache.remember("k", _until(clock))
        with pytest.raises(SecurityError) as refused:
            with SqlUnitOfWork(engine):
                pytest.fail("the use case must not run for a replay")
    assert refused.value.code is ErrorCode.SECURITY_REPLAY


def test_a_rolled_back_transaction_leaves_the_key_to_settle(engine, clock):
    cache = SqlReplayCache(engine, clock=clock)
    with cache.request_scope() as deferred:
        cache.remember("k", _until(clock))
        with SqlUnitOfWork(engine):
            pass                                            # no commit: rolled back
        assert not deferred.recorded
        assert deferred.settle()                            # recorded now, in autocommit
    assert not cache.remember_now("k", _until(clock))
    with cache.request_scope() as again:                    # a replay of a read: refused after
        cache.remember("k", _until(clock))
        assert not again.settle()


def test_outside_a_request_scope_remember_writes_at_once(engine, clock):
    cache = SqlReplayCache(engine, clock=clock)
    assert cache.remember("k", _until(clock))
    with SqlUnitOfWork(engine) as uow:                      # nothing deferred to claim
        uow.commit()
    assert not cache.remember("k", _until(clock))


def test_racing_copies_in_their_transactions_let_exactly_one_in(engine, clock):
    cache = SqlReplayCache(engine, clock=clock)

    def request(_):
        with cache.request_scope() as deferred:
            cache.remember("same", _until(clock))
            try:
                with SqlUnitOfWork(engine) as uow:
                    uow.commit()
            except SecurityError:
                return False
            return deferred.settle()

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(request, range(32)))
    assert results.count(True) == 1


def test_a_replay_refused_in_its_transaction_is_not_written_again_at_settle(engine, clock):
    from mts_service.persistence.fastsql import observing

    cache = SqlReplayCache(engine, clock=clock)
    assert cache.remember_now("k", _until(clock))
    with cache.request_scope() as deferred:
        cache.remember("k", _until(clock))
        with pytest.raises(SecurityError):
            with SqlUnitOfWork(engine):
                pass
        sent = []
        with observing(lambda sql, args: sent.append(sql)):
            assert not deferred.settle()
        assert sent == []
