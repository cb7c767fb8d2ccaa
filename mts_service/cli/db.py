"""``mts-service db upgrade``: create or upgrade the schema (Alembic), from empty."""

from __future__ import annotations

import argparse
from typing import Any, Mapping

from mts_service.bootstrap import engine_for
from mts_service.cli.common import add_database_option, settings_from
from mts_service.persistence.migrate import current_revision, upgrade


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("db", help="database schema")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    up = actions.add_parser("upgrade", help="create or upgrade the schema to the latest revision")
    add_database_option(up)
    up.set_defaults(handler=run_upgrade)


def run_upgrade(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    engine = engine_for(settings_from(args, environ))
    try:
        upgrade(engine)
        print(f"database at revision {current_revision(engine)}")
    finally:
        engine.dispose()
    return 0
