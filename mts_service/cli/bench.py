"""``mts-service bench``: signed SubmitSms / RedeemCode / PlaceOrder beside a bare Spyne echo.

Prints requests/s, p50/p99 latency and the ratio signed/echo per operation, for plain HTTP
with sync workers (the headline) and TLS with gthread workers; ``--json`` prints the same
figures as JSON. ``--runs N`` repeats the whole run and adds the lowest, median and highest
ratio per operation (``mts_service.benchmark.summary``): on a shared host one run's ratio
moves with the host. See ``mts_service.benchmark.runner``.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, Mapping


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("bench", help="benchmark signed operations against a bare Spyne echo")
    parser.add_argument("--key-type", choices=("rsa", "ec"), default="rsa", help="RSA-2048 or ECDSA P-256 keys")
    parser.add_argument("--requests", type=int, default=1000, help="requests per operation (default 1000)")
    parser.add_argument("--connections", type=int, default=4, help="concurrent keep-alive connections (default 4)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers of both servers (default 2)")
    parser.add_argument("--threads", type=int, default=4, help="threads per gthread worker (TLS mode)")
    parser.add_argument("--customers", type=int, default=200, help="customers the redemptions are spread over")
    parser.add_argument("--database", help="database URL of the MTS (default: a temporary SQLite file)")
    parser.add_argument("--generator", choices=("wrk", "python"), default="wrk",
                        help="load generator (default wrk; python tops out below the echo)")
    tls = parser.add_mutually_exclusive_group()
    tls.add_argument("--no-tls", action="store_true", help="plain HTTP only (the headline)")
    tls.add_argument("--tls", action="store_true", help="TLS (gthread workers) only")
    parser.add_argument("--runs", type=int, default=1,
                        help="whole runs, each with fresh servers and database; more than one adds the lowest, "
                             "median and highest ratio per operation (default 1)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.set_defaults(handler=run_bench)


def run_bench(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    from mts_service.benchmark.runner import BenchConfig, dumps, render, run
    from mts_service.benchmark.summary import render_summary, summarise

    if args.requests < 1 or args.connections < 1 or args.workers < 1 or args.runs < 1:
        raise ValueError("--requests, --connections, --workers and --runs must be positive")
    modes = ("http",) if args.no_tls else ("tls",) if args.tls else ("http", "tls")
    config = BenchConfig(
        key_type=args.key_type, requests=args.requests, connections=args.connections, workers=args.workers,
        threads=args.threads, modes=modes, customers=args.customers, generator=args.generator,
        database=args.database,
    )
    log = (lambda message: print(message, file=sys.stderr)) if args.json else print
    reports = []
    for number in range(1, args.runs + 1):
        if args.runs > 1:
            log(f"run {number} of {args.runs}:")
        reports.append(run(config, log=log))
        if not args.json:
            print(render(reports[-1]), flush=True)
    if args.runs == 1:   # one run: its report alone, as before --runs existed
        if args.json:
            print(dumps(reports[0]))
        return 0
    summary = summarise(reports)
    print(dumps({"runs": reports, "summary": summary}) if args.json else render_summary(summary, args.runs))
    return 0


__all__ = ["register", "run_bench"]
