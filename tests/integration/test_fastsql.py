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
