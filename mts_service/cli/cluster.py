"""``mts-service cluster up|down|status|kill-worker|kill-node|start-node`` and ``mts-service load``.

``cluster up`` starts N nodes on one PostgreSQL behind haproxy (see ``mts_service.cluster``)
and prints the URL; every pid goes to ``<dir>/cluster.json`` and ``cluster down`` stops
exactly those. ``load`` plays a bounded, loopback-only mix of calls against a URL (or the
cluster of ``--dir``), optionally with faults, and checks the books at the end (see
``mts_service.load``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Mapping

from mts_service.cli.common import database_url

DEFAULT_DIR = Path("var/cluster")


def register(subparsers: Any) -> None:
    cluster = subparsers.add_parser("cluster", help="several nodes on one PostgreSQL behind haproxy (development)")
    actions = cluster.add_subparsers(dest="action", metavar="ACTION", required=True)

    up = actions.add_parser("up", help="start the nodes and the balancer, print the URL")
    _dir_option(up)
    up.add_argument("--nodes", type=int, default=2)
    up.add_argument("--workers-per-node", type=int, default=1)
    up.add_argument("--worker-class", default="sync", help="gunicorn worker class of the nodes (default sync)")
    up.add_argument("--database", metavar="URL", help="PostgreSQL URL (default: $MTS_DATABASE_URL)")
    up.add_argument("--schema", help="use (and create) this PostgreSQL schema instead of the URL's default")
    up.add_argument("--port", type=int, default=8443, help="balancer port on 127.0.0.1 (0: any free port)")
    up.add_argument("--certs", type=Path, help="dev PKI directory (default: DIR/certs, created when missing)")
    up.add_argument("--log-level", default="warning", help="gunicorn log level of the nodes")
    up.set_defaults(handler=run_up)

    down = actions.add_parser("down", help="stop every process the cluster of DIR started")
    _dir_option(down)
    down.set_defaults(handler=run_down)

    status = actions.add_parser("status", help="the balancer and nodes of DIR, their pids, alive or not")
    _dir_option(status)
    status.add_argument("--json", action="store_true")
    status.set_defaults(handler=run_status)

    for name, text, handler in (
        ("kill-worker", "kill -9 one gunicorn worker of NODE", run_kill_worker),
        ("kill-node", "kill -9 every process of NODE", run_kill_node),
        ("start-node", "start NODE again on its port", run_start_node),
    ):
        sub = actions.add_parser(name, help=text)
        _dir_option(sub)
        sub.add_argument("node", help="node name (node1, node2, ...)")
        sub.set_defaults(handler=handler)

    load = subparsers.add_parser("load", help="bounded load on loopback, with faults, then check the books")
    target = load.add_mutually_exclusive_group(required=True)
    target.add_argument("--url", help="MTS base URL (loopback only)")
    target.add_argument("--dir", type=Path, help="the cluster directory: its URL, certs and database")
    load.add_argument("--certs", type=Path, help="certificates (default: the cluster's, else certs)")
    load.add_argument("--database", metavar="URL", help="check the books by SQL on this database (default: the cluster's)")
    load.add_argument("--workers", type=int, default=4, help="client processes")
    load.add_argument("--requests", type=int, default=2000, help="at most this many SOAP calls in all")
    load.add_argument("--duration", type=float, default=60.0, help="at most this many seconds of load")
    load.add_argument("--faults", default="", help="comma list: worker, node, pg-restart, pg-terminate (needs --dir)")
    load.add_argument("--seed", type=int, default=1)
    load.add_argument("--json", action="store_true", help="print the result as JSON")
    load.set_defaults(handler=run_load)


def _dir_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR, help=f"cluster directory (default {DEFAULT_DIR})")


def run_up(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    from mts_service.cluster import Cluster, ClusterError, ClusterSpec, with_schema

    url = args.database or environ.get("MTS_DATABASE_URL")
    if not url:
        print("mts-service cluster up: give --database postgresql://... (or set MTS_DATABASE_URL)", file=sys.stderr)
        return 2
    url = database_url(url)
    try:
        if args.schema:
            url = with_schema(url, args.schema)
        try:
            cluster = Cluster.load(args.dir, environ=environ)
        except ClusterError:
            cluster = Cluster(args.dir, environ=environ)
        spec = ClusterSpec(
            directory=args.dir, database_url=url, nodes=args.nodes, workers_per_node=args.workers_per_node,
            worker_class=args.worker_class, port=args.port, certs_dir=args.certs, log_level=args.log_level,
        )
        served = cluster.up(spec)
    except ClusterError as exc:
        print(f"mts-service cluster up: {exc}", file=sys.stderr)
        return 1
    for name, url_, pid, _alive in cluster.status():
        print(f"{name:<8} {url_:<28} pid {pid}")
    print(served)
    return 0


def _load(args: argparse.Namespace, environ: Mapping[str, str]):
    from mts_service.cluster import Cluster

    return Cluster.load(args.dir, environ=environ)


def run_down(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    from mts_service.cluster import ClusterError

    try:
        stopped = _load(args, environ).down()
    except ClusterError as exc:
        print(f"mts-service cluster down: {exc}", file=sys.stderr)
        return 1
    print(f"stopped {len(stopped)} process group(s)" + (f": {' '.join(map(str, stopped))}" if stopped else ""))
    return 0


def run_status(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    cluster = _load(args, environ)
    rows = cluster.status()
    if args.json:
        print(json.dumps([{"name": n, "url": u, "pid": p, "alive": a} for n, u, p, a in rows], indent=2))
    else:
        for name, url, pid, is_alive in rows:
            workers = cluster.workers(name) if name != "haproxy" and is_alive else []
            extra = f" workers {' '.join(map(str, workers))}" if workers else ""
            print(f"{name:<8} {url:<28} pid {pid or '-':<8} {'up' if is_alive else 'DOWN'}{extra}")
    return 0 if all(row[3] for row in rows) else 1


def run_kill_worker(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    print(f"killed worker {_load(args, environ).kill_worker(args.node)}")
    return 0


def run_kill_node(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    print(f"killed {' '.join(map(str, _load(args, environ).kill_node(args.node)))}")
    return 0


def run_start_node(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    node = _load(args, environ).start_node(args.node)
    print(f"{node.name} up on {node.address} (pid {node.pid})")
    return 0


def run_load(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    from mts_service.load import LoadConfig, run_load as play

    cluster = _load(args, environ) if args.dir else None
    certs = args.certs or (cluster.certs if cluster else Path(environ.get("MTS_CERTS_DIR", "certs")))
    database = args.database or (cluster.database_url if cluster else None)
    faults = tuple(f.strip() for f in args.faults.split(",") if f.strip())
    config = LoadConfig(
        url=args.url or cluster.url, certs_dir=certs, workers=args.workers, requests=args.requests,
        duration=args.duration, faults=faults, seed=args.seed,
    )
    result = play(config, cluster=cluster, database_url=database,
                  secret_file=cluster.secret_file if cluster else None, out=None if args.json else sys.stdout)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    return 0 if result.consistent else 1


__all__ = ["register"]
