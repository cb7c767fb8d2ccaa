"""One SQLite connection per thread, kept open between transactions instead of pooled.

A checkout from SQLAlchemy's QueuePool and its return (with the reset-on-return rollback)
cost about 30 us a transaction here, more than most of our statements. For a SQLite file
none of what the pool adds pays: there is no server to pre-ping, no connection to recycle,
and a connection is only a file handle (it is never "lost" the way a socket is). So each
thread keeps the connection it first took from the engine's pool, detached from it (made
by the same ``connect`` event, so with the same PRAGMAs), and reuses it.

What the pool guaranteed still holds:

- One transaction at a time per connection: a thread that opens a second transaction while
  its own connection is in use (a nested unit of work) gets a pooled one, as before.
- A connection is never handed on inside a transaction: one given back in a transaction is
  rolled back (the pool's reset-on-return), and one whose rollback fails, or that its user
  invalidates, is closed and replaced.
- A forked child never uses its parent's connection (SQLite forbids carrying one across
  fork): the pid is checked and the child opens its own. It does not close the inherited
  one either, since closing could checkpoint or unlink the parent's WAL; it is kept,
  unused, for the life of the child.
- ``engine.dispose()`` closes the connections not in use (and those in use when they come
  back), as the pool closes its idle ones: the last connection to close checkpoints the
  WAL and removes it, which copying or deleting a database file relies on.

In-memory databases keep SQLAlchemy's pool (its SingletonThreadPool already does this).
"""

from __future__ import annotations

import os
import sqlite3
import threading
import weakref
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

_inherited: list[Any] = []   # a forked child's copies of its parent's connections: never closed


class _Held:
    """A thread's connection, and the handle the unit of work holds while using it (the
    part of SQLAlchemy's pooled-connection interface it uses: ``driver_connection``,
    ``close()``, ``invalidate()``)."""

    __slots__ = ("home", "driver_connection", "pid", "busy", "stale", "__weakref__")

    def __init__(self, home: ThreadConnections, connection: sqlite3.Connection) -> None:
        self.home = home
        self.driver_connection = connection
        self.pid = os.getpid()
        self.busy = False
        self.stale = False   # disposed while in use: close when given back

    def close(self) -> None:
        """Give the connection back to its thread (not closed: reused by the next checkout)."""
        connection = self.driver_connection
        if connection is None:
            return
        if connection.in_transaction:   # the pool's reset-on-return
            try:
                connection.rollback()
            except Exception:
                self.invalidate()
                return
        with self.home.lock:
            self.busy = False
            if self.stale:
                self._close_now()

    def invalidate(self) -> None:
        """Close the connection; the thread's next checkout opens another."""
        with self.home.lock:
            self.busy = False
            self._close_now()

    def _close_now(self) -> None:
        connection, self.driver_connection = self.driver_connection, None
        if connection is not None:
            try:
                connection.close()
            except Exception:  # closing is best effort: the handle is dropped either way
                pass


class ThreadConnections:
    def __init__(self, engine: Engine) -> None:
        # Weak: this object is the value of a WeakKeyDictionary keyed on the engine.
        self._engine = weakref.ref(engine)
        self._local = threading.local()
        self.lock = threading.Lock()
        self._all: weakref.WeakSet[_Held] = weakref.WeakSet()

    def checkout(self) -> Any:
        """This thread's connection, marked in use until ``close()``; a pooled connection
        if it is in use already."""
        held = getattr(self._local, "held", None)
        if held is None or held.driver_connection is None or held.pid != os.getpid():
            if held is not None and held.pid != os.getpid():
                _inherited.append(held.driver_connection)   # the parent's: never touch it
            held = self._local.held = self._open()
        with self.lock:
            # Checked again under the lock: dispose() on another thread may have closed it
            # since (then this transaction takes a pooled one, the next reopens the thread's).
            if not held.busy and held.driver_connection is not None:
                held.busy = True
                return held
        return self._engine_().raw_connection()

    def _engine_(self) -> Engine:
        engine = self._engine()
        assert engine is not None, "the engine is gone"
        return engine

    def _open(self) -> _Held:
        pooled = self._engine_().raw_connection()   # runs the engine's connect event (PRAGMAs)
        connection = pooled.driver_connection
        pooled.detach()   # ours now: the pool neither counts it nor closes it
        held = _Held(self, connection)
        with self.lock:
            self._all.add(held)
        return held

    def checked_out(self) -> int:
        """How many of this process's thread connections are in use (like the pool's
        ``checkedout()``, which no longer counts them)."""
        with self.lock:
            return sum(1 for held in self._all if held.busy and held.pid == os.getpid())

    def dispose(self) -> None:
        with self.lock:
            for held in list(self._all):
                if held.pid != os.getpid():
                    continue
                if held.busy:
                    held.stale = True
                else:
                    held._close_now()


_by_engine: weakref.WeakKeyDictionary[Engine, ThreadConnections | None] = weakref.WeakKeyDictionary()
_by_engine_lock = threading.Lock()


def _file_database(engine: Engine) -> bool:
    if engine.dialect.name != "sqlite":
        return False
    database = engine.url.database
    return bool(database) and database != ":memory:" and not database.startswith("file:")


def connections_of(engine: Engine) -> ThreadConnections | None:
    """The per-thread connections of a SQLite file engine; None for anything else."""
    try:
        return _by_engine[engine]
    except KeyError:
        pass
    with _by_engine_lock:
        if engine not in _by_engine:
            connections = ThreadConnections(engine) if _file_database(engine) else None
            if connections is not None:
                event.listen(engine, "engine_disposed", lambda _engine: connections.dispose())
            _by_engine[engine] = connections
        return _by_engine[engine]


def checkout(engine: Engine) -> Any:
    """A connection for one transaction: ``driver_connection``, then ``close()`` (or
    ``invalidate()`` if it is broken). Per thread for SQLite files, pooled otherwise."""
    connections = connections_of(engine)
    return connections.checkout() if connections is not None else engine.raw_connection()
