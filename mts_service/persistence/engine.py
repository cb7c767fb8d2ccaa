"""Engines for SQLite (default, zero set-up) and PostgreSQL (several nodes).

SQLite: WAL so readers never block the writer, a busy timeout so concurrent processes wait
instead of failing, and ``BEGIN IMMEDIATE`` for write transactions: taking the write lock
up front is what makes read-then-write use cases safe across processes (a deferred
transaction that later upgrades to a writer would fail with SQLITE_BUSY instead of waiting).
Transactions do not check a SQLite file's connection out of the pool each time: each thread
keeps one (``sqlite_connections``), made by the pool and its connect event below.

PostgreSQL: READ COMMITTED; every race is closed by conditional updates, unique constraints
and row locks, so no serialisable retries are needed on the hot path. The pool pre-pings so
a restarted server costs one failed check, not a failed request.
"""

from __future__ import annotations

import sqlite3

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError

from mts_service.config import SQLITE_SYNCHRONOUS

SQLITE_BUSY_TIMEOUT_MS = 30_000
# SQLite's own checkpoint runs inside a COMMIT, so inside the writers' queue: MTS checkpoints
# passively outside it instead (sqlite_writers). This threshold (a per-connection setting,
# about 40 MB of WAL) is the fallback for when those cannot keep up, e.g. while a long read
# pins the WAL; other programs' connections keep SQLite's default of 1000 pages.
SQLITE_AUTOCHECKPOINT_PAGES = 10_000

# PostgreSQL: unique_violation, serialization_failure, deadlock_detected (a lost race, not a
# lost connection, although psycopg raises the last two as OperationalError subclasses).
RETRYABLE_SQLSTATES = frozenset({"23505", "40001", "40P01"})


def lost_connection(exc: BaseException) -> bool:
    """Whether ``exc`` means the connection is unusable (the pool must drop it)."""
    if isinstance(exc, DBAPIError):
        return exc.orig is not None and lost_connection(exc.orig)
    try:
        import psycopg
    except ImportError:  # pragma: no cover - psycopg is a dependency
        return False
    return isinstance(exc, psycopg.OperationalError) and getattr(exc, "sqlstate", None) not in RETRYABLE_SQLSTATES


def sqlite_url(path: str) -> str:
    return f"sqlite+pysqlite:///{path}"


def make_engine(url: str, *, pool_size: int = 5, echo: bool = False, sqlite_synchronous: str = "normal") -> Engine:
    """``sqlite_synchronous``: SQLite's durability level (``config.Settings.sqlite_synchronous``)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url, echo=echo, synchronous=sqlite_synchronous)
    if parsed.get_backend_name() == "postgresql":
        if parsed.drivername in ("postgresql", "postgres"):
            parsed = parsed.set(drivername="postgresql+psycopg")
        return create_engine(
            parsed,
            echo=echo,
            pool_size=pool_size,
            max_overflow=pool_size * 2,
            pool_pre_ping=True,
            pool_recycle=1800,
            isolation_level="READ COMMITTED",
        )
    raise ValueError(f"unsupported database URL {parsed.render_as_string(hide_password=True)}")


def _sqlite_engine(url: str, *, echo: bool, synchronous: str) -> Engine:
    if synchronous not in SQLITE_SYNCHRONOUS:   # it goes into a PRAGMA
        raise ValueError(f"unsupported SQLite synchronous level {synchronous!r}")
    engine = create_engine(
        url,
        echo=echo,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record) -> None:
        # Let SQLAlchemy's "begin" event, not pysqlite, decide how transactions start.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute(f"PRAGMA synchronous={synchronous.upper()}")
        cursor.execute(f"PRAGMA wal_autocheckpoint={SQLITE_AUTOCHECKPOINT_PAGES}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "IMMEDIATE")
        connection.exec_driver_sql(f"BEGIN {mode}")

    return engine
