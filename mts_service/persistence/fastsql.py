"""Run SQLAlchemy Core statements on the bare DBAPI connection.

SQLAlchemy builds and compiles our statements (one schema, both dialects), but its
per-execution machinery (parameter construction, execution context, result proxies) costs
more than the SQL itself on a small transaction: about 100 us a statement here against
10-20 us through sqlite3 or psycopg. The hot path therefore compiles each module-level
statement once per dialect (``Prepared``) and executes the SQL string on the DBAPI cursor,
converting only what the drivers need: UTC-aware datetimes in and out.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

from sqlalchemy import Table, bindparam, insert
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import ClauseElement

from mts_service.persistence.tables import metadata
from mts_service.persistence.types import UtcDateTime

UTC = timezone.utc

# Columns that hold times, by name: every UtcDateTime in the schema.
TIME_COLUMNS = frozenset(c.name for t in metadata.tables.values() for c in t.columns if isinstance(c.type, UtcDateTime))


# Benchmarks and diagnostics may watch the SQL that reaches the driver; empty in production.
_observers: list[Callable[[str, Any], None]] = []


@contextmanager
def observing(callback: Callable[[str, Any], None]) -> Iterator[None]:
    """Call ``callback(sql, driver_args)`` for every statement sent while the block runs."""
    _observers.append(callback)
    try:
        yield
    finally:
        _observers.remove(callback)


def notify(sql: str, args: Any = ()) -> None:
    for callback in _observers:
        callback(sql, args)


class Row:
    """A result row: by attribute (``row.x``) or by name (``row["x"]``).

    The columns are the instance's own attributes, so ``row.x`` is a plain attribute read.
    (A dict subclass answering through ``__getattr__`` cost about 0.5 us an access: 9 us
    of the 15 us it took to turn a grant's row into a Grant.)
    """

    def __init__(self, pairs: Iterable[tuple[str, Any]] = ()) -> None:
        self.__dict__.update(pairs)

    def __getitem__(self, name: str) -> Any:
        return self.__dict__[name]

    def values(self) -> Any:
        """The column values, in the order of the statement's columns."""
        return self.__dict__.values()

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Row):
            return self.__dict__ == other.__dict__
        return self.__dict__ == other if isinstance(other, dict) else NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable, like the dict it replaces

    def __repr__(self) -> str:
        return f"Row({self.__dict__!r})"


class Result:
    __slots__ = ("rows", "rowcount")

    def __init__(self, rows: list[Row], rowcount: int) -> None:
        self.rows = rows
        self.rowcount = rowcount

    def first(self) -> Row | None:
        return self.rows[0] if self.rows else None

    def one(self) -> Row:
        if len(self.rows) != 1:
            raise LookupError(f"expected one row, got {len(self.rows)}")
        return self.rows[0]

    def scalar(self) -> Any:
        return next(iter(self.rows[0].values())) if self.rows else None

    def scalar_one(self) -> Any:
        return next(iter(self.one().values()))

    def __iter__(self) -> Iterator[Row]:
        return iter(self.rows)


class _Compiled:
    __slots__ = ("sql", "names", "defaults", "every_param", "positional", "columns")

    def __init__(self, statement: ClauseElement, dialect: Dialect, *, inline: bool = False) -> None:
        compiled = statement.compile(dialect=dialect)
        if "POSTCOMPILE" in compiled.string:
            raise ValueError("expanding IN is not supported on the fast path; use explicit ORs")
        self.sql = compiled.string
        self.positional = bool(compiled.positional)
        self.names = tuple(compiled.positiontup or ()) if self.positional else ()
        if inline and self.positional and dialect.name == "sqlite":
            self.sql, self.names = inline_constants(compiled, dialect, self.sql, self.names)
        # Constants bound at build time (statuses, kinds) merged with the caller's values. A
        # parameter the caller leaves out is NULL: positional parameters are read with get(),
        # so only the non-NULL constants need merging; named ones must all be there.
        self.every_param = dict(compiled.construct_params(_check=False))
        # Positional: only the parameters still in the SQL (constants may have been inlined).
        self.defaults = {k: v for k, v in self.every_param.items()
                         if v is not None and (not self.positional or k in self.names)}
        # The result's column names and which of them hold times: one SQL text always has
        # the same columns, so this is worked out from the first cursor description only.
        self.columns: tuple[tuple[str, ...], tuple[int, ...]] | None = None

    def columns_of(self, description: Sequence[Sequence[Any]]) -> tuple[tuple[str, ...], tuple[int, ...]]:
        names = tuple(d[0] for d in description)
        self.columns = names, tuple(i for i, n in enumerate(names) if n in TIME_COLUMNS)
        return self.columns


def inline_constants(compiled: Any, dialect: Dialect, sql: str, names: tuple[str, ...]) -> tuple[str, tuple[str, ...]]:
    """The SQL with the statement's own string and integer constants (statuses, kinds,
    limits: SQLAlchemy binds them as anonymous parameters) written as SQL literals, and the
    names of the parameters left.

    Why: SQLite re-prepares a statement on every execution when its plan depended on the
    value of a bound parameter, which it does when a parameter is compared with a column
    that a partial index's WHERE compares with a literal (``grants.kind = ?`` against
    ``ix_grants_deposit_beneficiary ... WHERE kind = 'DEPOSIT'``): such a statement cost
    31 us instead of 7 us here, every time, whatever its rows. A literal also lets the
    planner see the value. Only ``Prepared`` (module-level) statements are rewritten: their
    anonymous parameters are constants of the statement itself, whereas a statement built per
    call (a ledger page, a report's dates) carries the caller's values as anonymous
    parameters too, and inlining those would make a new SQL text per call. Only values the
    driver would bind unchanged are inlined.
    """
    literals: dict[str, str] = {}
    for name in set(names):
        bind = compiled.binds.get(name)
        if bind is None or not bind.unique or bind.callable is not None:
            continue
        if bind.type._cached_bind_processor(dialect) is not None:
            continue
        value = bind.value
        if type(value) is str:
            literals[name] = "'" + value.replace("'", "''") + "'"
        elif type(value) is int:
            literals[name] = str(value)
    if not literals:
        return sql, names
    out: list[str] = []
    kept: list[str] = []
    position = 0
    quote: str | None = None
    for char in sql:
        if quote is not None:
            if char == quote:
                quote = None
        elif char in ("'", '"'):
            quote = char
        elif char == "?":
            if position >= len(names):   # a '?' SQLAlchemy did not bind (a comment, a literal column)
                return sql, names
            name = names[position]
            position += 1
            if name in literals:
                out.append(literals[name])
                continue
            kept.append(name)
        out.append(char)
    if position != len(names):   # the placeholders are not what SQLAlchemy said: leave the SQL alone
        return sql, names
    return "".join(out), tuple(kept)


class Prepared:
    """A statement built at import and compiled once per dialect."""

    __slots__ = ("statement", "_by_dialect", "_last")

    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement
        self._by_dialect: dict[str, _Compiled] = {}
        self._last: tuple[Dialect, _Compiled] | None = None   # a process serves one engine's dialect

    def compiled(self, dialect: Dialect) -> _Compiled:
        last = self._last
        if last is not None and last[0] is dialect:
            return last[1]
        found = self._by_dialect.get(dialect.name)
        if found is None:
            # A module-level statement: its constants are its own (statuses, kinds, limits).
            found = self._by_dialect[dialect.name] = _Compiled(self.statement, dialect, inline=True)
        self._last = (dialect, found)
        return found


def insert_row(table: Table):
    """INSERT of every column by name, except a database-generated primary key."""
    generated = {c.name for c in table.primary_key.columns if c.autoincrement is True}
    return insert(table).values({c.name: bindparam(c.name) for c in table.columns if c.name not in generated})


class Db:
    """One DBAPI connection inside a unit of work."""

    def __init__(self, dbapi_connection: Any, dialect: Dialect) -> None:
        self.raw = dbapi_connection
        self.dialect = dialect
        self.name = dialect.name
        self._sqlite = dialect.name == "sqlite"
        # One cursor for the unit of work's statements: every result is fetched in full
        # before the next statement, and making and closing a cursor per statement cost
        # about 1 us of the ~10 us of Python around each one.
        self._cursor: Any = None
        self._times: dict[datetime, Any] = {}

    def execute(self, statement: Prepared | ClauseElement, params: Mapping[str, Any] | None = None) -> Result:
        compiled = statement.compiled(self.dialect) if isinstance(statement, Prepared) else _Compiled(statement, self.dialect)
        args: Sequence[Any] | Mapping[str, Any]
        # Only datetimes need converting; checking the type inline keeps this loop cheap.
        bind = self._bind_cached
        if compiled.positional:
            defaults = compiled.defaults
            values = ({**defaults, **params} if defaults else params) if params else defaults
            args = [bind(v) if type(v) is datetime else v for v in map(values.get, compiled.names)]
        else:
            values = {**compiled.every_param, **params} if params else compiled.every_param
            args = {k: (bind(v) if type(v) is datetime else v) for k, v in values.items()}
        if _observers:
            notify(compiled.sql, args)
        cursor = self._cursor
        if cursor is None:
            cursor = self._cursor = self.raw.cursor()
        cursor.execute(compiled.sql, args)
        description = cursor.description
        if description is None:
            return Result([], cursor.rowcount)
        names, times = compiled.columns or compiled.columns_of(description)
        records = cursor.fetchall()
        if times:
            time = self._time
            for n, record in enumerate(records):
                record = records[n] = list(record)
                for i in times:
                    record[i] = time(record[i])
        return Result([Row(zip(names, record)) for record in records], cursor.rowcount)

    def _bind_cached(self, value: datetime) -> Any:
        """``_bind`` of a datetime, remembered for the unit of work: a use case binds the
        same instants (its ``now``) in several statements, and a conversion costs about
        4 us here. Equal instants bind alike (the bound form is the UTC instant); a naive
        datetime never equals an aware one, so it still reaches ``_bind`` and is refused."""
        bound = self._times.get(value)
        if bound is None:
            bound = self._times[value] = self._bind(value)
        return bound

    def _bind(self, value: Any) -> Any:
        if isinstance(value, datetime):
            if value.tzinfo is None:
                raise ValueError("naive datetime refused: MTS stores UTC-aware times only")
            if not self._sqlite:
                return value.astimezone(UTC)
            # What SQLAlchemy's SQLite DateTime writes ("2026-01-15 09:00:00.000000", year
            # zero-padded), by isoformat: several times faster than strftime. A UTC time
            # (the clock's) needs no conversion: its text is the first 26 characters of its
            # isoformat, before "+00:00".
            if value.tzinfo is UTC:
                return value.isoformat(" ", "microseconds")[:26]
            return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
        return value

    @staticmethod
    def _time(value: Any) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # SQLite's naive UTC text; parsed as UTC (replace() costs 5x)
            try:
                return datetime.fromisoformat(value + "+00:00")
            except ValueError:  # text with its own offset (written by another tool): honour it
                parsed = datetime.fromisoformat(value)
                return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
