"""Scale-out benchmark: one node of 2 workers vs two nodes of 1 worker, behind haproxy, same run.

    python bench/load.py [--database postgresql://postgres@127.0.0.1:5432/test]
                         [--rounds 2] [--duration 40] [--workers 3] [--requests 100000]

For each round, each layout in turn (A B A B ... so that whatever else the machine is doing
weighs on both alike): a fresh cluster on a fresh PostgreSQL *database* (so that
pg_stat_database counts only this cluster's transactions), ``mts-service load`` without
faults, the cluster stopped, the database dropped. Prints requests/s, p50/p99, the CPU per
answered call of the clients, the nodes (serve + gunicorn master + workers), haproxy and the
cluster's PostgreSQL backends (all from /proc), the transactions per call, the consistency
check, and the ratio two-nodes / one-node. Not a test: nothing here asserts a duration.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import uuid
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mts_service.cluster import Cluster, ClusterSpec  # noqa: E402
from mts_service.load import LoadConfig, run_load  # noqa: E402
from mts_service.persistence.engine import make_engine  # noqa: E402

LAYOUTS = {"1 node x 2 workers": (1, 2), "2 nodes x 1 worker": (2, 1)}


def fresh_database(base_url: str) -> str:
    name = f"mts_scaling_{uuid.uuid4().hex[:8]}"
    admin = make_engine(base_url).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(base_url).set(database=name).render_as_string(hide_password=False)


def drop_database(base_url: str, url: str) -> None:
    name = make_url(url).database
    admin = make_engine(base_url).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def one_run(label: str, base_url: str, args: argparse.Namespace, work: Path, certs: Path, seed: int):
    nodes, workers = LAYOUTS[label]
    url = fresh_database(base_url)
    directory = work / f"{label.replace(' ', '')}-{seed}"
    cluster = Cluster(directory)
    try:
        cluster.up(ClusterSpec(directory, url, nodes=nodes, workers_per_node=workers, port=0, certs_dir=certs))
        config = LoadConfig(url=cluster.url, certs_dir=cluster.certs, workers=args.workers,
                            requests=args.requests, duration=args.duration, seed=seed)
        result = run_load(config, cluster=cluster, database_url=cluster.database_url, secret_file=cluster.secret_file)
    finally:
        cluster.down()
        drop_database(base_url, url)
    print(f"\n== {label} (round seed {seed})\n{result.render()}", flush=True)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default="postgresql://postgres@127.0.0.1:5432/test",
                        help="a PostgreSQL URL whose user may CREATE DATABASE")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--duration", type=float, default=40.0)
    parser.add_argument("--workers", type=int, default=3, help="client processes")
    parser.add_argument("--requests", type=int, default=100_000)
    args = parser.parse_args(argv)

    from mts_service.pki import create_dev_pki

    results: dict[str, list] = {label: [] for label in LAYOUTS}
    with tempfile.TemporaryDirectory(prefix="mts-scaling-") as tmp:
        work = Path(tmp)
        certs = create_dev_pki(work / "certs").directory
        for round_ in range(args.rounds):
            order = list(LAYOUTS) if round_ % 2 == 0 else list(reversed(LAYOUTS))
            for label in order:
                results[label].append(one_run(label, args.database, args, work, certs, seed=round_ + 1))

    print("\n== summary (median of rounds)")
    print(f"{'layout':<22} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7}  cpu ms/call: "
          f"{'clients':>7} {'nodes':>6} {'haproxy':>7} {'pg':>5}  txn/call  books")
    medians, efficiency = {}, {}
    for label, runs in results.items():
        rps = statistics.median(r.requests_per_second for r in runs)
        medians[label] = rps
        efficiency[label] = statistics.median(float(r.figures.get("calls_per_cpu_second", 0.0)) for r in runs)

        def med(key: str) -> float:
            return statistics.median(r.cpu.get(key, 0.0) for r in runs)

        p50 = statistics.median(r.p50_ms for r in runs)
        p99 = statistics.median(r.p99_ms for r in runs)
        txn = statistics.median(_txn_per_call(r) for r in runs)
        books = "OK" if all(r.consistent for r in runs) else "INCONSISTENT"
        print(f"{label:<22} {rps:7.1f} {p50:7.1f} {p99:7.1f}               {med('clients'):7.2f} {med('nodes'):6.2f} "
              f"{med('haproxy'):7.2f} {med('postgres'):5.2f}  {txn:8.2f}  {books}")
        for r in runs:
            print(f"    round: {r.requests_per_second:6.1f} req/s, p99 {r.p99_ms:6.1f} ms, {r.calls} calls, "
                  f"retries {r.retries}, gave up {r.gave_up}, {'OK' if r.consistent else r.problems}; "
                  f"{r.figures.get('machine', '')}")
    one, two = medians["1 node x 2 workers"], medians["2 nodes x 1 worker"]
    print(f"\ntwo nodes / one node = {two / one:.2f} in requests/s (target >= 0.90)")
    eff_one, eff_two = efficiency["1 node x 2 workers"], efficiency["2 nodes x 1 worker"]
    if eff_one:
        print(f"calls per CPU-second of the run's own processes (clients, nodes, haproxy, PostgreSQL backends):"
              f" {eff_one:.1f} vs {eff_two:.1f}, ratio {eff_two / eff_one:.2f}: the same comparison with the"
              " other tenants of the machine taken out")
    return 0 if all(r.consistent for runs in results.values() for r in runs) else 1


def _txn_per_call(result) -> float:
    return float(result.figures.get("transactions_per_call", 0.0))


if __name__ == "__main__":
    sys.exit(main())
