"""Run one use case many times at once from several processes (each with several threads).

Processes are spawned (not forked), build their own engine from the URL, and wait on one
barrier so that every call starts together: this is what several service nodes do.
"""

from __future__ import annotations

import multiprocessing
import threading
from datetime import datetime
from typing import Any

from mts_service.clock import FixedClock
from mts_service.errors import MtsError

_SPAWN = multiprocessing.get_context("spawn")


def _context(database_url: str, at: datetime):
    from mts_service.persistence.engine import make_engine
    from mts_service.persistence.unit_of_work import uow_factory
    from mts_service.services.context import ServiceContext
    from mts_service.services.keys import ServiceKeys
    from tests.conftest import TEST_SECRET

    engine = make_engine(database_url, pool_size=10)
    return ServiceContext(uow_factory(engine), FixedClock(at), ServiceKeys.from_secret(TEST_SECRET))


def _call(ctx, op: str, payload: Any):
    from mts_service.services import customers, orders, sms

    if op == "redeem":
        customer_ref, code = payload
        return customers.redeem_code(ctx, customer_ref, code).grant.grant_id
    if op == "order":
        return orders.place_order(ctx, payload).order.order_id
    if op == "sms":
        receipt = sms.submit_sms(ctx, payload)
        return (receipt.reply_text, receipt.outcome.value, receipt.duplicate)
    raise ValueError(op)


def _process(database_url: str, at: datetime, op: str, payloads: list, barrier, results) -> None:
    ctx = _context(database_url, at)
    local_barrier = threading.Barrier(len(payloads))
    out: list = []

    def run(payload):
        local_barrier.wait()
        try:
            out.append(("ok", _call(ctx, op, payload)))
        except MtsError as exc:
            out.append(("refused", exc.code.value))
        except Exception as exc:  # a crash must fail the test, not hang it
            out.append(("crash", repr(exc)))

    barrier.wait()
    threads = [threading.Thread(target=run, args=(p,)) for p in payloads]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    results.put(out)


def race(database_url: str, at: datetime, op: str, payloads: list, *, processes: int = 4) -> list[tuple[str, Any]]:
    chunks = [payloads[i::processes] for i in range(processes)]
    chunks = [c for c in chunks if c]
    barrier = _SPAWN.Barrier(len(chunks))
    results = _SPAWN.Queue()
    procs = [_SPAWN.Process(target=_process, args=(database_url, at, op, chunk, barrier, results)) for chunk in chunks]
    for p in procs:
        p.start()
    outcomes: list = []
    for _ in procs:
        outcomes += results.get(timeout=300)
    for p in procs:
        p.join(timeout=60)
    return outcomes
