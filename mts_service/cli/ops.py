"""``mts-service expire``: expire grants and codes past their time (run it from cron)."""

from __future__ import annotations

import argparse
from typing import Any, Mapping

from mts_service.bootstrap import engine_for, service_context
from mts_service.cli.common import add_certs_option, add_database_option, settings_from
from mts_service.services import admin


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("expire", help="expire grants past their validity and codes past their TTL")
    add_database_option(parser)
    add_certs_option(parser)
    parser.set_defaults(handler=run_expire)


def run_expire(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    settings = settings_from(args, environ)
    engine = engine_for(settings)
    try:
        count = admin.expire(service_context(settings, engine=engine))
    finally:
        engine.dispose()
    print(f"expired {count} grant(s)")
    return 0
