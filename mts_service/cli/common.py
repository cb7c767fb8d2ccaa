"""Options shared by subcommands: where the database and the certificates are."""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path
from typing import Mapping

from mts_service.config import Settings
from mts_service.persistence.engine import sqlite_url


def add_database_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--database", metavar="URL_OR_PATH",
        help="SQLAlchemy URL, or a SQLite file path (default: $MTS_DATABASE_URL or var/mts.db)",
    )


def add_certs_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--certs", metavar="DIR", type=Path, help="certificates directory (default: $MTS_CERTS_DIR or certs)")


def database_url(value: str) -> str:
    return value if "://" in value else sqlite_url(value)


def settings_from(args: argparse.Namespace, environ: Mapping[str, str]) -> Settings:
    """Settings from the environment, overridden by the command line."""
    settings = Settings.from_env(environ)
    if getattr(args, "database", None):
        settings = replace(settings, database_url=database_url(args.database))
    if getattr(args, "certs", None):
        settings = replace(settings, certs_dir=args.certs)
    return settings
