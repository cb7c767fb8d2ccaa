from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from mts_service.persistence.replay_cache import SqlReplayCache


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
