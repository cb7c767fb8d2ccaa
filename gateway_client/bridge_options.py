"""The bridge's tuning options, shared by ``mts-gateway bridge`` and ``python -m gateway_client.bridge``."""

from __future__ import annotations

import argparse
from typing import Any


def add_tuning_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sync-timeout", type=float, default=5.0,
                        help="seconds a Kannel call waits for the MTS before 202 + late reply (default 5)")
    parser.add_argument("--poll-interval", type=float, default=1.0, help="retry worker's pass interval (default 1)")
    parser.add_argument("--base-delay", type=float, default=2.0, help="first retry's backoff ceiling (default 2)")
    parser.add_argument("--max-delay", type=float, default=300.0, help="backoff cap in seconds (default 300)")


def tuning_options(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments ``serve_bridge`` takes for those options."""
    return {"sync_timeout": args.sync_timeout, "poll_interval": args.poll_interval,
            "base_delay": args.base_delay, "max_delay": args.max_delay}
