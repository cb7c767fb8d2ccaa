"""``mts-service``: serve, db upgrade, wsdl export|check, expire, certs.

Each subcommand group lives in its own module with ``register(subparsers)``; a module
that adds a group appends itself to ``COMMANDS``. Exit codes: 0 done, 1 failed (the
message says why), 2 bad usage (argparse).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Sequence

from mts_service import __version__
from mts_service.cli import certs, db, ops, serve, wsdl
from mts_service.cli import bench, demo
from mts_service.cli import cluster as cluster_cli

COMMANDS = [serve, db, wsdl, ops, certs]
COMMANDS.append(demo)
COMMANDS.append(cluster_cli)
COMMANDS.append(bench)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mts-service", description="MTS: premium-SMS advances and deposits for COD.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMANDS:
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args, os.environ) or 0)
    except KeyboardInterrupt:
        return 130
    except (OSError, ValueError) as exc:
        print(f"mts-service {args.command}: {exc}", file=sys.stderr)
        return 1
