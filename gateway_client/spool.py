"""The bridge's durable spool: every MO is written here before anything else happens.

One SQLite file (stdlib sqlite3, WAL, ``synchronous=FULL``) holds one row per Kannel
message id. A row moves through two small state machines:

submission: ``pending`` --submit ok--> ``done``
            ``pending`` --Server fault / unreachable--> ``pending`` (attempts+1, next_at later)
            ``pending`` --Client fault--> ``failed`` (never retried: the answer will not change)
reply:      ``none`` --answered in the HTTP response--> ``reply_sent``
            ``none`` --the HTTP call was answered 202--> ``reply_pending`` --sendsms--> ``reply_sent``

Submissions are serialised per message id by a lease (``claim``/``release``): a Kannel
retry that arrives while the first call is still submitting cannot submit a second time,
and neither can the retry worker. Every transition is one conditional UPDATE, so the
outcome of a race is decided by SQLite, not by timing.

The retry schedule is durable (``next_at`` is stored), so ``next_delay`` is a pure
function of the attempt number and an injected random source rather than a sleep loop.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Iterator, Protocol

from mts_service.clock import UTC, Clock, ensure_utc

from .models import Channel, InboundMessage, ReceiptOutcome, SmsReceipt

PENDING = "pending"
DONE = "done"
FAILED = "failed"

REPLY_NONE = "none"
REPLY_PENDING = "reply_pending"
REPLY_SENT = "reply_sent"


class Jitter(Protocol):
    """What backoff needs of a random source: ``secrets.SystemRandom()`` in production, a
    seeded generator in tests."""

    def uniform(self, a: float, b: float) -> float: ...


def next_delay(attempt: int, rng: Jitter, *, base: float = 2.0, cap: float = 300.0) -> float:
    """Seconds to wait before retry number ``attempt`` (1 = first retry): full jitter.

    The ceiling doubles per attempt from ``base`` up to ``cap``; the delay is uniform in
    [0, ceiling] so that a hundred messages spooled during one outage do not all hit the
    MTS again in the same second when it comes back. Bounded by ``cap`` for any attempt.
    Pass ``secrets.SystemRandom()`` in production, a seeded ``random.Random`` in tests.
    """
    if attempt < 1:
        raise ValueError("attempt starts at 1")
    ceiling = min(cap, base * (2 ** min(attempt - 1, 62)))
    return rng.uniform(0.0, ceiling)


@dataclass(frozen=True)
class SpoolEntry:
    message: InboundMessage
    state: str
    attempts: int
    next_at: datetime
    last_error: str | None
    receipt: SmsReceipt | None
    reply_state: str
    reply_attempts: int
    reply_next_at: datetime | None


_SCHEMA = """
CREATE TABLE IF NOT EXISTS spool (
    message_id     TEXT PRIMARY KEY,
    sender         TEXT NOT NULL,
    service_number TEXT NOT NULL,
    text           TEXT NOT NULL,
    received_at    TEXT NOT NULL,
    channel        TEXT NOT NULL,
    operator       TEXT,
    state          TEXT NOT NULL DEFAULT 'pending',
    attempts       INTEGER NOT NULL DEFAULT 0,
    next_at        REAL NOT NULL,
    lease_until    REAL,
    last_error     TEXT,
    outcome        TEXT,
    reply_text     TEXT,
    duplicate      INTEGER,
    language       TEXT,
    refusal_code   TEXT,
    reply_state    TEXT NOT NULL DEFAULT 'none',
    reply_attempts INTEGER NOT NULL DEFAULT 0,
    reply_next_at  REAL,
    reply_via      TEXT,
    stored_at      REAL NOT NULL,
    updated_at     REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS spool_due ON spool (state, next_at);
CREATE INDEX IF NOT EXISTS spool_reply_due ON spool (reply_state, reply_next_at);
"""


def _ts(value: datetime) -> float:
    return ensure_utc(value).timestamp()


def _dt(value: float) -> datetime:
    return datetime.fromtimestamp(value, UTC)


class Spool:
    """Durable store of inbound messages and of their pending replies."""

    def __init__(self, path: str | Path, *, clock: Clock) -> None:
        self.path = str(path)
        self._clock = clock
        self._lock = threading.Lock()
        # One connection shared under a lock: the bridge's writes are tiny, and SQLite
        # serialises writers anyway. isolation_level=None: we issue BEGIN IMMEDIATE ourselves.
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30.0)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        # FULL: a message acknowledged to Kannel must survive a power cut, not only a crash.
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA busy_timeout=30000")
        with self._tx() as db:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- plumbing -------------------------------------------------------------------------
    class _Tx:
        def __init__(self, spool: Spool) -> None:
            self.spool = spool

        def __enter__(self) -> sqlite3.Connection:
            self.spool._lock.acquire()
            try:
                self.spool._db.execute("BEGIN IMMEDIATE")
            except BaseException:
                self.spool._lock.release()
                raise
            return self.spool._db

        def __exit__(self, exc_type: object, *rest: object) -> None:
            try:
                self.spool._db.execute("COMMIT" if exc_type is None else "ROLLBACK")
            finally:
                self.spool._lock.release()

    def _tx(self) -> Spool._Tx:
        return Spool._Tx(self)

    def _now(self) -> float:
        return _ts(self._clock.now())

    # -- intake ---------------------------------------------------------------------------
    def store(self, msg: InboundMessage) -> bool:
        """Record ``msg``; True if new, False if this message id was already spooled.

        The first write wins: a retry carrying the same id changes nothing here (the MTS
        itself refuses the same id with different content).
        """
        now = self._now()
        with self._tx() as db:
            cursor = db.execute(
                "INSERT OR IGNORE INTO spool (message_id, sender, service_number, text, received_at,"
                " channel, operator, next_at, stored_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (msg.message_id, msg.sender, msg.service_number, msg.text,
                 ensure_utc(msg.received_at).isoformat(), msg.channel.value, msg.operator,
                 now, now, now),
            )
            return cursor.rowcount == 1

    def get(self, message_id: str) -> SpoolEntry | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM spool WHERE message_id = ?", (message_id,)).fetchone()
        return _entry(row) if row else None

    # -- submission -----------------------------------------------------------------------
    def claim(self, message_id: str, *, lease: timedelta) -> bool:
        """Take the right to submit ``message_id`` for ``lease``; False if someone holds it
        or the message is no longer pending."""
        now = self._now()
        with self._tx() as db:
            cursor = db.execute(
                "UPDATE spool SET lease_until = ?, updated_at = ? WHERE message_id = ? AND state = ?"
                " AND (lease_until IS NULL OR lease_until <= ?)",
                (now + lease.total_seconds(), now, message_id, PENDING, now),
            )
            return cursor.rowcount == 1

    def release_all(self) -> int:
        """Drop every lease: called when the (single) bridge owning this spool starts, since
        leases left by a killed process would otherwise delay its messages."""
        with self._tx() as db:
            return db.execute("UPDATE spool SET lease_until = NULL WHERE lease_until IS NOT NULL").rowcount

    def due(self, now: datetime, limit: int = 100) -> list[SpoolEntry]:
        """Pending messages whose retry time has come and that nobody is submitting."""
        t = _ts(now)
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM spool WHERE state = ? AND next_at <= ?"
                " AND (lease_until IS NULL OR lease_until <= ?) ORDER BY next_at LIMIT ?",
                (PENDING, t, t, limit),
            ).fetchall()
        return [_entry(r) for r in rows]

    def mark_done(self, message_id: str, receipt: SmsReceipt) -> None:
        """Record the MTS receipt and end the submission (and its lease)."""
        with self._tx() as db:
            db.execute(
                "UPDATE spool SET state = ?, outcome = ?, reply_text = ?, duplicate = ?, language = ?,"
                " refusal_code = ?, lease_until = NULL, last_error = NULL, updated_at = ?"
                " WHERE message_id = ? AND state = ?",
                (DONE, receipt.outcome.value, receipt.reply_text, int(receipt.duplicate),
                 receipt.language, receipt.refusal_code, self._now(), message_id, PENDING),
            )

    def mark_retry(self, message_id: str, attempt: int, next_at: datetime, error: str) -> None:
        """Schedule the next submission of a still-pending message and drop the lease."""
        with self._tx() as db:
            db.execute(
                "UPDATE spool SET attempts = ?, next_at = ?, last_error = ?, lease_until = NULL,"
                " updated_at = ? WHERE message_id = ? AND state = ?",
                (attempt, _ts(next_at), error[:500], self._now(), message_id, PENDING),
            )

    def mark_failed(self, message_id: str, error: str) -> None:
        """A Client fault: retrying the same message cannot succeed; keep it for review."""
        with self._tx() as db:
            db.execute(
                "UPDATE spool SET state = ?, last_error = ?, lease_until = NULL, updated_at = ?"
                " WHERE message_id = ? AND state = ?",
                (FAILED, error[:500], self._now(), message_id, PENDING),
            )

    # -- replies --------------------------------------------------------------------------
    def take_http_reply(self, message_id: str) -> str | None:
        """The reply text to put in the HTTP answer to Kannel, or None.

        None when the message is not done yet, has an empty reply, or its reply already went
        (or is going) out by sendsms: the phone must get it exactly once by that route.
        A second HTTP call for the same id (a Kannel retry, sent only because the first
        answer did not reach Kannel) gets the reply again.
        """
        with self._tx() as db:
            row = db.execute(
                "SELECT state, reply_text, reply_state, reply_via FROM spool WHERE message_id = ?",
                (message_id,),
            ).fetchone()
            if row is None or row["state"] != DONE or not row["reply_text"]:
                return None
            via_http = row["reply_state"] == REPLY_NONE or (
                row["reply_state"] == REPLY_SENT and row["reply_via"] == "http"
            )
            if not via_http:
                return None
            db.execute(
                "UPDATE spool SET reply_state = ?, reply_via = 'http', updated_at = ? WHERE message_id = ?",
                (REPLY_SENT, self._now(), message_id),
            )
            return str(row["reply_text"])

    def defer_reply(self, message_id: str) -> bool:
        """Hand the reply to the sendsms route (the HTTP call was answered 202). True if
        this call made the decision; False if the reply was already answered over HTTP."""
        now = self._now()
        with self._tx() as db:
            cursor = db.execute(
                "UPDATE spool SET reply_state = ?, reply_next_at = ?, updated_at = ?"
                " WHERE message_id = ? AND reply_state = ? AND state != ?",
                (REPLY_PENDING, now, now, message_id, REPLY_NONE, FAILED),
            )
            return cursor.rowcount == 1

    def defer_orphan_replies(self) -> int:
        """At start-up: a message done but never answered (the process died between the
        receipt and the HTTP answer) gets its reply by sendsms."""
        now = self._now()
        with self._tx() as db:
            return db.execute(
                "UPDATE spool SET reply_state = ?, reply_next_at = ? WHERE state = ? AND reply_state = ?",
                (REPLY_PENDING, now, DONE, REPLY_NONE),
            ).rowcount

    def replies_due(self, now: datetime, limit: int = 100) -> list[SpoolEntry]:
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM spool WHERE state = ? AND reply_state = ? AND reply_next_at <= ?"
                " ORDER BY reply_next_at LIMIT ?",
                (DONE, REPLY_PENDING, _ts(now), limit),
            ).fetchall()
        return [_entry(r) for r in rows]

    def mark_reply_sent(self, message_id: str) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE spool SET reply_state = ?, reply_via = 'sendsms', reply_attempts = reply_attempts + 1,"
                " updated_at = ?"
                " WHERE message_id = ? AND reply_state = ?",
                (REPLY_SENT, self._now(), message_id, REPLY_PENDING),
            )

    def mark_reply_retry(self, message_id: str, attempt: int, next_at: datetime, error: str) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE spool SET reply_attempts = ?, reply_next_at = ?, last_error = ?, updated_at = ?"
                " WHERE message_id = ? AND reply_state = ?",
                (attempt, _ts(next_at), error[:500], self._now(), message_id, REPLY_PENDING),
            )

    # -- listing --------------------------------------------------------------------------
    def pending(self) -> list[SpoolEntry]:
        """Everything still owed: submissions pending and replies pending, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM spool WHERE state = ? OR reply_state = ? ORDER BY stored_at",
                (PENDING, REPLY_PENDING),
            ).fetchall()
        return [_entry(r) for r in rows]

    def entries(self, *, state: str | None = None) -> Iterator[SpoolEntry]:
        query, args = "SELECT * FROM spool", ()
        if state is not None:
            query, args = query + " WHERE state = ?", (state,)
        with self._lock:
            rows = self._db.execute(query + " ORDER BY stored_at", args).fetchall()
        return iter([_entry(r) for r in rows])

    def counts(self) -> dict[str, int]:
        """Rows per submission state and per reply state, for the CLI and metrics."""
        with self._lock:
            by_state = self._db.execute("SELECT state, COUNT(*) FROM spool GROUP BY state").fetchall()
            by_reply = self._db.execute("SELECT reply_state, COUNT(*) FROM spool GROUP BY reply_state").fetchall()
        result = {PENDING: 0, DONE: 0, FAILED: 0, REPLY_PENDING: 0, REPLY_SENT: 0}
        result.update({r[0]: r[1] for r in by_state})
        result.update({r[0]: r[1] for r in by_reply if r[0] != REPLY_NONE})
        return result


def _entry(row: sqlite3.Row) -> SpoolEntry:
    message = InboundMessage(
        message_id=row["message_id"],
        sender=row["sender"],
        service_number=row["service_number"],
        text=row["text"],
        received_at=datetime.fromisoformat(row["received_at"]),
        channel=Channel(row["channel"]),
        operator=row["operator"],
    )
    receipt = None
    if row["outcome"] is not None:
        receipt = SmsReceipt(
            message_id=row["message_id"],
            outcome=ReceiptOutcome(row["outcome"]),
            reply_text=row["reply_text"] or "",
            duplicate=bool(row["duplicate"]),
            language=row["language"],
            refusal_code=row["refusal_code"],
        )
    return SpoolEntry(
        message=message,
        state=row["state"],
        attempts=row["attempts"],
        next_at=_dt(row["next_at"]),
        last_error=row["last_error"],
        receipt=receipt,
        reply_state=row["reply_state"],
        reply_attempts=row["reply_attempts"],
        reply_next_at=_dt(row["reply_next_at"]) if row["reply_next_at"] is not None else None,
    )
