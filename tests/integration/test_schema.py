"""The migrations build exactly the schema of persistence.tables (no drift), the partial
indexes are the ones the queries use, and revision 0003 downgrades and upgrades with data."""

from __future__ import annotations

import re
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from mts_service.persistence.engine import make_engine, sqlite_url
from mts_service.persistence.migrate import upgrade
from mts_service.persistence.tables import metadata


def _sqlite_schema(path: Path) -> dict:
    """Tables (columns, WITHOUT ROWID) and indexes (columns, unique, predicate), by name."""
    schema = {}
    with closing(sqlite3.connect(path)) as db:
        for name, sql in db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name != 'alembic_version'"):
            columns = [(c[1], c[2], c[3], c[5]) for c in db.execute(f'PRAGMA table_info("{name}")')]
            schema[name] = {"columns": columns, "without_rowid": bool(re.search(r"WITHOUT\s+ROWID\s*$", sql.strip(), re.I))}
            for _seq, index, unique, origin, partial in db.execute(f'PRAGMA index_list("{name}")'):
                where = None
                if partial:
                    index_sql = db.execute("SELECT sql FROM sqlite_master WHERE name = ?", (index,)).fetchone()[0]
                    where = re.split(r"\bWHERE\b", index_sql, flags=re.I)[1].strip()
                columns = [c[2] for c in db.execute(f'PRAGMA index_info("{index}")')]
                # SQLite names the indexes of constraints itself: those are keyed by what they index.
                key = index if origin == "c" else f"{name}:{origin}:{columns}"
                schema[f"index {key}"] = (name, columns, unique, where)
    return schema


def test_sqlite_migrations_build_the_tables_module_exactly(tmp_path):
    migrated, declared = tmp_path / "migrated.db", tmp_path / "declared.db"
    engine = make_engine(sqlite_url(str(migrated)))
    upgrade(engine)
    engine.dispose()
    engine = make_engine(sqlite_url(str(declared)))
    metadata.create_all(engine)
    engine.dispose()
    assert _sqlite_schema(migrated) == _sqlite_schema(declared)
    schema = _sqlite_schema(migrated)
    assert schema["replay_cache"]["without_rowid"] and schema["wallets"]["without_rowid"]
    assert schema["index ix_messages_held"][3] == "billing_status = 'HELD'"


def test_no_drift_from_the_tables_module(engine):
    """Alembic's own comparison, on SQLite and PostgreSQL (it does not see predicates or
    WITHOUT ROWID: the test above and the next one do)."""
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_partial_indexes_have_their_predicates(engine):
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            rows = conn.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql LIKE '%WHERE%'"))
        else:
            rows = conn.execute(text("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
                                     "AND indexdef LIKE '%WHERE%'"))
        partial = {name for name, _sql in rows}
    assert partial == {"ix_ledger_customer", "ix_grants_customer_kind_status", "ix_grants_deposit_beneficiary",
                       "ix_messages_unassigned", "ix_messages_held"}


@pytest.mark.parametrize("statement, index", [
    ("repositories.grants:_LIVE_DEPOSIT", "ix_grants_deposit_beneficiary"),
    ("repositories.grants:_USABLE:ADVANCE", "ix_grants_customer_kind_status"),
    ("repositories.grants:_USABLE:DEPOSIT", "ix_grants_customer_kind_status"),
    ("repositories.messages:_HELD_TOTAL", "ix_messages_held"),
    ("repositories.messages:_ASSIGN_GRANT", "ix_messages_unassigned"),
])
def test_sqlite_uses_the_partial_indexes(sqlite_database, statement, index):
    """SQLite takes a partial index only when the query implies its predicate: ``col = ?``
    implies ``col IS NOT NULL``, but a value must be the same literal, not a parameter."""
    import importlib

    module, name, *key = statement.split(":")
    prepared = getattr(importlib.import_module(f"mts_service.persistence.{module}"), name)
    if key:   # one statement per constant, in a dict
        prepared = prepared[key[0]]
    engine = make_engine(sqlite_database)
    sql = prepared.compiled(engine.dialect).sql
    engine.dispose()
    with closing(sqlite3.connect(sqlite_database.removeprefix("sqlite+pysqlite:///"))) as db:
        plan = " ".join(row[3] for row in db.execute("EXPLAIN QUERY PLAN " + sql, [None] * sql.count("?")))
    assert index in plan, plan


def test_ledger_pages_of_a_customer_use_the_partial_index(sqlite_database):
    from mts_service.persistence.fastsql import Db
    from mts_service.persistence.fastsql import observing
    from mts_service.persistence.repositories.ledger import LedgerRepository

    engine = make_engine(sqlite_database)
    seen = []
    pooled = engine.raw_connection()
    try:
        with observing(lambda sql, args: seen.append((sql, args))):
            LedgerRepository(Db(pooled.driver_connection, engine.dialect)).page(customer_id=7)
        sql, args = seen[0]
        plan = " ".join(row[3] for row in pooled.driver_connection.execute("EXPLAIN QUERY PLAN " + sql, args))
    finally:
        pooled.close()
        engine.dispose()
    assert "ix_ledger_customer" in plan, plan


def test_revision_0003_downgrades_and_upgrades_with_data(tmp_path):
    from alembic import command

    from mts_service.persistence.migrate import alembic_config

    path = tmp_path / "m.db"
    engine = make_engine(sqlite_url(str(path)))
    upgrade(engine)
    rows = {
        "replay_cache": "INSERT INTO replay_cache (key, expires_at) VALUES ('k', '2030-01-01 00:00:00.000000')",
        "wallets": "INSERT INTO wallets (beneficiary, kind, sms_count, amount_minor, currency, updated_at) "
                   "VALUES ('s:+212661000001', 'ADVANCE', 1, 500, 'MAD', '2026-01-15 09:00:00.000000')",
    }
    with engine.begin() as conn:
        for sql in rows.values():
            conn.execute(text(sql))

    def migrate(revision: str, up: bool) -> None:
        config = alembic_config()
        with engine.connect() as conn:
            config.attributes["connection"] = conn
            (command.upgrade if up else command.downgrade)(config, revision)

    migrate("0002", up=False)
    engine.dispose()
    before = _sqlite_schema(path)
    assert not before["wallets"]["without_rowid"] and "index ix_ledger_grant" in before
    migrate("head", up=True)
    engine.dispose()
    after = _sqlite_schema(path)
    assert after["wallets"]["without_rowid"] and "index ix_ledger_grant" not in after
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM replay_cache")).scalar_one() == 1
        assert conn.execute(text("SELECT sms_count FROM wallets")).scalar_one() == 1
    engine.dispose()
