"""The bare-driver fast path (persistence.fastsql) stores what SQLAlchemy would."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy.dialects import sqlite

from mts_service.persistence.fastsql import Db
from mts_service.persistence.types import UtcDateTime


@pytest.mark.parametrize("at", [
    datetime(2026, 1, 15, 9, 0, tzinfo=timezone.utc),
    datetime(2026, 11, 25, 23, 59, 59, 999_999, tzinfo=timezone(timedelta(hours=1))),
    datetime(999, 3, 4, 5, 6, 7, 8, tzinfo=timezone.utc),
])
def test_sqlite_times_are_bound_in_sqlalchemys_own_text_form(at):
    dialect = sqlite.dialect()
    expected = UtcDateTime().dialect_impl(dialect).bind_processor(dialect)(at)
    assert Db(None, dialect)._bind(at) == expected
    assert Db._time(expected) == at


def test_a_row_reads_by_attribute_and_by_name():
    from mts_service.persistence.fastsql import Row

    row = Row([("grant_id", "g-1"), ("kind", "ADVANCE"), ("expires_at", None)])
    assert (row.grant_id, row["kind"], row.expires_at) == ("g-1", "ADVANCE", None)
    assert list(row.values()) == ["g-1", "ADVANCE", None]   # column order: scalar() takes the first
    assert row == {"grant_id": "g-1", "kind": "ADVANCE", "expires_at": None} and row == Row(row.__dict__.items())
    with pytest.raises(AttributeError):
        row.missing
    with pytest.raises(KeyError):
        row["missing"]


@pytest.mark.parametrize("text, expected", [
    ("2026-01-15 09:00:00.000000", datetime(2026, 1, 15, 9, tzinfo=timezone.utc)),          # what MTS writes
    ("2026-01-15 11:00:00+02:00", datetime(2026, 1, 15, 9, tzinfo=timezone.utc)),            # another tool's text
    ("2026-01-15T09:00:00Z", datetime(2026, 1, 15, 9, tzinfo=timezone.utc)),
])
def test_stored_times_are_read_as_utc(text, expected):
    read = Db._time(text)
    assert read == expected and read.utcoffset() == timedelta(0)


# -- constants written into the SQL ---------------------------------------------------------

def _compiled(statement):
    from mts_service.persistence.fastsql import Prepared

    return Prepared(statement).compiled(sqlite.dialect())


def test_a_statements_own_constants_are_sqlite_literals_and_the_callers_values_stay_parameters():
    from sqlalchemy import bindparam, select

    from mts_service.persistence.tables import grants as t

    compiled = _compiled(
        select(t.c.grant_id).where(t.c.customer_id == bindparam("cid"), t.c.kind == "ADVANCE",
                                   t.c.sender == "it's", t.c.expires_at > bindparam("now")).limit(3))
    assert "grants.kind = 'ADVANCE'" in compiled.sql and "grants.sender = 'it''s'" in compiled.sql
    assert "LIMIT 3" in compiled.sql and compiled.sql.count("?") == len(compiled.names)
    assert compiled.names[:2] == ("cid", "now")   # a time has a bind processor: never inlined


def test_a_question_mark_inside_a_literal_is_not_a_placeholder():
    from sqlalchemy import bindparam, literal_column, select

    from mts_service.persistence.tables import grants as t

    compiled = _compiled(select(t.c.grant_id).where(t.c.revoke_reason == literal_column("'why?'"), t.c.kind == "DEPOSIT",
                                                    t.c.customer_id == bindparam("cid")))
    assert "'why?'" in compiled.sql and "grants.kind = 'DEPOSIT'" in compiled.sql and compiled.names == ("cid",)


def test_inlined_statements_run_against_sqlite(engine, database_url):
    """The rewritten SQL is valid and finds what the parameters found (both dialects run it)."""
    from mts_service.persistence.fastsql import Db, Prepared
    from sqlalchemy import bindparam, select

    from mts_service.persistence.tables import policies as t

    statement = Prepared(select(t.c.version).where(t.c.version > bindparam("v"), t.c.uid != "x'y").limit(1))
    with engine.connect() as conn:
        assert Db(conn.connection.driver_connection, engine.dialect).execute(statement, {"v": -1}).rows == []


def test_no_statement_binds_a_value_that_a_partial_index_compares_with_a_literal():
    """SQLite re-prepares such a statement on every execution (its plan depended on the
    value): each must name the value as a constant of its own (see fastsql.inline_constants)."""
    import importlib
    import pkgutil
    import re

    import mts_service.persistence.repositories as repositories
    from mts_service.persistence.fastsql import Prepared
    from mts_service.persistence.tables import metadata

    compared = []
    for table in metadata.tables.values():
        for index in table.indexes:
            where = index.dialect_options["sqlite"].get("where")
            match = re.fullmatch(r"(\w+) = '[^']*'", str(where)) if where is not None else None
            if match:
                compared.append((table.name, match.group(1)))
    assert ("grants", "kind") in compared and ("messages", "billing_status") in compared

    modules = [importlib.import_module(f"{repositories.__name__}.{m.name}") for m in pkgutil.iter_modules(repositories.__path__)]
    modules.append(importlib.import_module("mts_service.persistence.replay_cache"))
    statements = []
    for module in modules:
        for value in vars(module).values():
            found = value.values() if isinstance(value, dict) else [value]
            statements += [v for v in found if isinstance(v, Prepared)]
    assert len(statements) > 40
    for statement in statements:
        sql = statement.compiled(sqlite.dialect()).sql
        for table, column in compared:
            assert not re.search(rf"\b{table}\.{column}\s*(=|!=|<>|<=|>=|<|>|IS|IS NOT)\s*\?", sql), sql


def test_remembered_times_are_bound_by_instant():
    dialect = sqlite.dialect()
    db = Db(None, dialect)
    first = datetime(2026, 1, 15, 9, 0, tzinfo=timezone.utc)
    second = datetime(2026, 1, 15, 9, 0, 1, tzinfo=timezone.utc)
    equal_but_other = datetime(2026, 1, 15, 10, 0, tzinfo=timezone(timedelta(hours=1)))   # == first
    assert [db._bind_cached(t) for t in (first, second, first, equal_but_other)] == [
        "2026-01-15 09:00:00.000000", "2026-01-15 09:00:01.000000", "2026-01-15 09:00:00.000000",
        "2026-01-15 09:00:00.000000"]
    with pytest.raises(ValueError):
        db._bind_cached(datetime(2026, 1, 15, 9, 0))   # naive: refused, never remembered
    from sqlalchemy.dialects import postgresql

    pg = Db(None, postgresql.dialect())
    bound = [pg._bind_cached(t) for t in (equal_but_other, first)]
    assert bound == [first, first] and all(b.utcoffset() == timedelta(0) for b in bound)


def test_a_prepared_statement_is_compiled_per_dialect():
    from sqlalchemy import bindparam, select
    from sqlalchemy.dialects import postgresql

    from mts_service.persistence.fastsql import Prepared
    from mts_service.persistence.tables import grants as t

    prepared = Prepared(select(t.c.grant_id).where(t.c.kind == "ADVANCE", t.c.customer_id == bindparam("cid")))
    lite, pg = sqlite.dialect(), postgresql.dialect()
    assert "'ADVANCE'" in prepared.compiled(lite).sql
    assert "%(kind_1)s" in prepared.compiled(pg).sql     # constants inlined on SQLite only
    assert prepared.compiled(lite) is prepared.compiled(sqlite.dialect())   # by dialect name


def test_a_stray_question_mark_leaves_the_sql_as_it_is():
    from sqlalchemy import literal_column, select

    from mts_service.persistence.tables import grants as t

    compiled = _compiled(select(literal_column("1 /* ? */")).where(t.c.kind == "ADVANCE"))
    assert "/* ? */" in compiled.sql and compiled.sql.count("?") == 2 and compiled.names == ("kind_1",)


def test_statements_built_per_call_keep_their_values_as_parameters():
    """A ledger page or a report's dates are the caller's values: bound, so that the SQL text
    (and SQLite's statement cache) is the same from one call to the next."""
    from sqlalchemy import select

    from mts_service.persistence.fastsql import _Compiled
    from mts_service.persistence.tables import ledger as t

    compiled = _Compiled(select(t.c.entry_id).where(t.c.entry_id > 41).limit(50), sqlite.dialect())
    assert "41" not in compiled.sql and "50" not in compiled.sql and compiled.names == ("entry_id_1", "param_1", "param_2")
