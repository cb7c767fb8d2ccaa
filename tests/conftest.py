"""Shared fixtures: a fixed clock, databases (SQLite always, PostgreSQL when
MTS_TEST_DATABASE_URL is set, which CI always does) and a service context on them.

PostgreSQL tests run in a schema of their own, created for the session and dropped at the
end, so they never touch other data and always clean up.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import pytest
from sqlalchemy import text

from mts_service.clock import FixedClock
from mts_service.persistence.engine import make_engine, sqlite_url
from mts_service.persistence.migrate import upgrade
from mts_service.persistence.tables import metadata
from mts_service.persistence.unit_of_work import uow_factory
from mts_service.services.context import ServiceContext
from mts_service.services.keys import ServiceKeys

TEST_SECRET = bytes(range(32))
PG_ENV = "MTS_TEST_DATABASE_URL"


def pytest_collection_modifyitems(config, items):
    if os.environ.get(PG_ENV):
        return
    skip = pytest.mark.skip(reason=f"{PG_ENV} is not set (CI sets it; see README)")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    """One migrated SQLite file; each test gets a copy (migrating per test would be slow)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(sqlite_url(str(path)))
    upgrade(engine)
    engine.dispose()  # the last connection to close checkpoints and removes the WAL file
    assert not path.with_name(path.name + "-wal").exists()
    return path


@pytest.fixture
def sqlite_database(sqlite_template, tmp_path) -> str:
    path = tmp_path / "mts.db"
    shutil.copyfile(sqlite_template, path)
    return sqlite_url(str(path))


@pytest.fixture(scope="session")
def postgres_schema_url() -> str:
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"{PG_ENV} is not set")
    schema = f"mts_test_{uuid.uuid4().hex[:10]}"
    admin = make_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in base else "?"
    url = f"{base}{separator}options=-csearch_path%3D{schema}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def postgres_database(postgres_schema_url) -> str:
    yield postgres_schema_url
    engine = make_engine(postgres_schema_url)
    names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request) -> str:
    """Run the test once on SQLite and once on PostgreSQL."""
    return request.getfixturevalue(f"{request.param}_database")


@pytest.fixture
def engine(database_url):
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def ctx(engine, clock) -> ServiceContext:
    return ServiceContext(uow_factory(engine), clock, ServiceKeys.from_secret(TEST_SECRET))
