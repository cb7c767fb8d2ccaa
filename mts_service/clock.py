"""The injectable clock. Nothing else in MTS calls ``datetime.now()``.

All times are timezone-aware UTC.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from typing import Protocol

UTC = timezone.utc


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock for tests: it stands still until moved."""

    def __init__(self, at: datetime | None = None) -> None:
        self._at = ensure_utc(at or datetime(2026, 1, 15, 9, 0, tzinfo=UTC))
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._at

    def advance(self, delta: timedelta) -> datetime:
        with self._lock:
            self._at = self._at + delta
            return self._at

    def set(self, at: datetime) -> None:
        with self._lock:
            self._at = ensure_utc(at)


def ensure_utc(value: datetime) -> datetime:
    """Refuse naive datetimes; convert aware ones to UTC."""
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise ValueError("naive datetime: MTS only handles timezone-aware UTC times")
    return value.astimezone(UTC)
