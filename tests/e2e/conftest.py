"""Fixtures of the end-to-end tests: a dev PKI (and a foreign one), a migrated SQLite file,
and a real ``mts-service serve`` over TLS with two workers, with the demo policy set."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # e2e_helpers beside the tests

from e2e_helpers import mts, serve, set_policy  # noqa: E402
from mts_service.pki import create_dev_pki  # noqa: E402


@pytest.fixture(scope="session")
def e2e_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("e2e")


@pytest.fixture(scope="session")
def certs(e2e_dir) -> Path:
    return create_dev_pki(e2e_dir / "certs").directory


@pytest.fixture(scope="session")
def foreign_certs(e2e_dir) -> Path:
    """Same names and roles, another CA: nothing it signs may be trusted."""
    return create_dev_pki(e2e_dir / "foreign").directory


@pytest.fixture(scope="module")
def sqlite_db(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("db") / "mts.db"
    upgraded = mts("db", "upgrade", "--database", str(path), cwd=path.parent)
    assert upgraded.returncode == 0, upgraded.stderr
    return str(path)


@pytest.fixture(scope="module")
def server(e2e_dir, certs, sqlite_db):
    """TLS (gthread, keep-alive), two workers, WS-Security on, SQLite."""
    with serve(e2e_dir, certs, sqlite_db, tls=True, workers=2) as running:
        set_policy(running.url, certs)
        yield running
