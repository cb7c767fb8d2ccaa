"""Benchmark: the submit_sms and place_order use cases against the same statements run
through the bare driver (sqlite3 / psycopg), one transaction per call, as a ratio.

How "the same statements" are obtained: each use case is first run on a scratch copy of
the database with the persistence layer's statement observer recording every statement and
its driver-level parameters; the recording is then replayed with the bare driver on a second identical copy,
one transaction per call. The use cases themselves are timed on a third copy with no
instrumentation. All three copies start from the same state, so the work is the same.

    python bench/core_bench.py [--calls 400] [--postgres postgresql://postgres@127.0.0.1/test]

Not a test: it prints figures, it asserts nothing about time.
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mts_service.clock import FixedClock  # noqa: E402
from mts_service.domain.customers import Registration  # noqa: E402
from mts_service.domain.inbound import InboundSms  # noqa: E402
from mts_service.domain.money import Money  # noqa: E402
from mts_service.domain.orders import DeliveryMode, OrderRequest  # noqa: E402
from mts_service.domain.policy_codec import policy_from_dict  # noqa: E402
from mts_service.persistence.engine import make_engine, sqlite_url  # noqa: E402
from mts_service.persistence.fastsql import observing  # noqa: E402
from mts_service.persistence.migrate import upgrade  # noqa: E402
from mts_service.persistence.tables import metadata  # noqa: E402
from mts_service.persistence.unit_of_work import uow_factory  # noqa: E402
from mts_service.services import admin, customers, orders, sms  # noqa: E402
from mts_service.services.context import ServiceContext  # noqa: E402
from mts_service.services.keys import ServiceKeys  # noqa: E402

SECRET = b"b" * 32
POLICY = {
    "mode": "ADVANCE", "currency": "MAD", "advance_sms": 1,
    "premium_numbers": [{"number": "7575", "price_minor": 500, "net_minor": 300, "keywords": ["SHOP"]}],
}
CUSTOMERS = 50


def context(engine) -> ServiceContext:
    return ServiceContext(uow_factory(engine), FixedClock(), ServiceKeys.from_secret(SECRET))


def mobile(i: int) -> str:
    return f"+212661{i:06d}"


def seed(ctx: ServiceContext, calls: int) -> None:
    admin.set_policy(ctx, policy_from_dict(POLICY))
    for i in range(CUSTOMERS):
        customers.register_customer(ctx, Registration(f"c{i}", None, mobile(i), "fr"))
    for i in range(calls):  # one advance per order to place
        sms.submit_sms(ctx, InboundSms(f"seed{i}", mobile(i % CUSTOMERS), "7575", "SHOP", ctx.clock.now()))


def workloads(ctx: ServiceContext, calls: int, tag: str):
    now = ctx.clock.now()
    sms_calls = [
        (lambda i=i: sms.submit_sms(ctx, InboundSms(f"{tag}-m{i}", mobile(i % CUSTOMERS), "7575", "SHOP", now)))
        for i in range(calls)
    ]
    order_calls = [
        (lambda i=i: orders.place_order(ctx, OrderRequest(f"{tag}-o{i}", f"c{i % CUSTOMERS}", Money(10_000, "MAD"), DeliveryMode.HOME)))
        for i in range(calls)
    ]
    return {"submit_sms": sms_calls, "place_order": order_calls}


@contextmanager
def recording(engine):
    statements: list = []
    with observing(lambda sql, args: statements.append((sql, args, False))):
        yield statements


def record(engine, calls) -> list[list]:
    per_call = []
    with recording(engine) as statements:
        for call in calls:
            start = len(statements)
            call()
            per_call.append(list(statements[start:]))
    return per_call


def timed(calls) -> float:
    start = time.perf_counter()
    for call in calls:
        call()
    return time.perf_counter() - start


class SqliteReplayer:
    def __init__(self, path: str) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None, timeout=30)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")

    def replay(self, per_call: list[list]) -> float:
        conn = self.conn
        start = time.perf_counter()
        for stmts in per_call:
            for statement, params, _many in stmts:
                conn.execute(statement, params)
            conn.execute("COMMIT")
        return time.perf_counter() - start

    def close(self) -> None:
        self.conn.close()


class PostgresReplayer:
    def __init__(self, url: str) -> None:
        import psycopg

        self.conn = psycopg.connect(url)

    def replay(self, per_call: list[list]) -> float:
        conn = self.conn
        start = time.perf_counter()
        for stmts in per_call:
            with conn.cursor() as cur:
                for statement, params, _many in stmts:
                    cur.execute(statement, params)
            conn.commit()
        return time.perf_counter() - start

    def close(self) -> None:
        self.conn.close()


def sqlite_copies(calls: int) -> tuple[list[str], Path]:
    tmp = Path(tempfile.mkdtemp(prefix="mts-bench-"))
    base = tmp / "base.db"
    engine = make_engine(sqlite_url(str(base)))
    upgrade(engine)
    seed(context(engine), calls)
    engine.dispose()
    paths = []
    for name in ("record", "bare", "service"):
        shutil.copyfile(base, tmp / f"{name}.db")
        paths.append(str(tmp / f"{name}.db"))
    return paths, tmp


def postgres_copies(base_url: str, calls: int) -> tuple[list[str], callable]:
    admin_engine = make_engine(base_url)
    schemas = [f"mts_bench_{uuid.uuid4().hex[:8]}_{n}" for n in ("record", "bare", "service")]
    urls = []
    for schema in schemas:
        with admin_engine.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = f"{base_url}{'&' if '?' in base_url else '?'}options=-csearch_path%3D{schema}"
        engine = make_engine(url)
        upgrade(engine)
        seed(context(engine), calls)  # same seed in each schema: same starting state
        engine.dispose()
        urls.append(url)

    def cleanup():
        with admin_engine.begin() as conn:
            for schema in schemas:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin_engine.dispose()

    return urls, cleanup


def run(backend: str, urls: list[str], bare_target: str, calls: int, rounds: int) -> list[tuple]:
    """Time the service and the bare replay in alternating rounds, so that a busy machine
    slows both sides alike; the ratio reported is the median of the per-round ratios."""
    rows = []
    record_engine, service_engine = make_engine(urls[0]), make_engine(urls[2])
    recorded = {name: record(record_engine, fns) for name, fns in workloads(context(record_engine), calls, "b").items()}
    service_work = workloads(context(service_engine), calls, "b")
    replayer = SqliteReplayer(bare_target) if backend == "sqlite" else PostgresReplayer(bare_target)
    for name in ("submit_sms", "place_order"):
        size = max(calls // rounds, 1)
        service_total = bare_total = 0.0
        ratios = []
        for start in range(0, calls, size):
            service_time = timed(service_work[name][start:start + size])
            bare_time = replayer.replay(recorded[name][start:start + size])
            service_total += service_time
            bare_total += bare_time
            ratios.append(service_time / bare_time)
        statements = statistics.mean(len(s) for s in recorded[name])
        rows.append((backend, name, calls, statements, calls / service_total, calls / bare_total, statistics.median(ratios)))
    replayer.close()
    record_engine.dispose()
    service_engine.dispose()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=8, help="alternating service/bare rounds")
    parser.add_argument("--postgres", help="PostgreSQL URL (default: $MTS_TEST_DATABASE_URL if set)")
    args = parser.parse_args()
    import os

    rows = []
    paths, tmp = sqlite_copies(args.calls)
    try:
        rows += run("sqlite", [sqlite_url(p) for p in paths], paths[1], args.calls, args.rounds)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    pg = args.postgres or os.environ.get("MTS_TEST_DATABASE_URL")
    if pg:
        urls, cleanup = postgres_copies(pg, args.calls)
        try:
            bare_url = urls[1].replace("postgresql+psycopg://", "postgresql://")
            rows += run("postgresql", urls, bare_url, args.calls, args.rounds)
        finally:
            cleanup()
    print(f"{'backend':<11} {'use case':<12} {'calls':>6} {'stmts/call':>10} {'service/s':>10} {'bare/s':>9} {'cost ratio':>10}")
    for backend, name, calls, stmts, service_rate, bare_rate, ratio in rows:
        print(f"{backend:<11} {name:<12} {calls:>6} {stmts:>10.1f} {service_rate:>10.0f} {bare_rate:>9.0f} {ratio:>9.2f}x")
    print("cost ratio = time of the use case through MTS / time of its statements through the bare driver")
    print("(median over alternating rounds; service/s and bare/s are totals)")
    print(f"load average at the end: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
