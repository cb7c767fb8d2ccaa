"""Replay protection: remember each accepted signature until its timestamp could no longer pass.

The key is the SHA-256 of the canonical ``ds:SignedInfo`` (see ``verify.py``): whitespace,
comments, base64 wrapping and ECDSA's (r, n−s) malleability change the bytes of a message
or of its SignatureValue but not its SignedInfo, which holds the digests of the signed Body
and Timestamp.

``ReplayCache`` is the port; ``InMemoryReplayCache`` serves one process and the tests. The
cross-node implementation lives in ``mts_service.persistence.replay_cache``: a table
``replay_cache(key TEXT PRIMARY KEY, expires_at TIMESTAMPTZ)`` and one ``INSERT`` whose
unique-violation means "seen" — atomic across nodes without a lock.
"""

from __future__ import annotations

import heapq
import threading
from datetime import datetime
from typing import Protocol

from mts_service.clock import Clock, SystemClock, ensure_utc


class ReplayCache(Protocol):
    def remember(self, key: str, expires_at: datetime) -> bool:
        """Record ``key`` until ``expires_at``; return False if it was already recorded.

        Implementations must make check-and-insert atomic (two racing callers with the same
        key: exactly one gets True). Expired entries may be purged at any time.
        """


class InMemoryReplayCache:
    """A process-local ReplayCache: a dict plus a heap of expiry times, under a lock."""

    def __init__(self, *, clock: Clock | None = None, max_entries: int = 1_000_000) -> None:
        self._clock = clock or SystemClock()
        self._max_entries = max_entries
        self._expiry: dict[str, datetime] = {}
        self._heap: list[tuple[datetime, str]] = []
        self._lock = threading.Lock()

    def remember(self, key: str, expires_at: datetime) -> bool:
        expires_at = ensure_utc(expires_at)
        now = self._clock.now()
        with self._lock:
            self._purge(now)
            if key in self._expiry:
                return False
            if len(self._expiry) >= self._max_entries:
                # Refuse rather than forget: forgetting a live key would re-open a replay window.
                raise OverflowError("replay cache full")
            self._expiry[key] = expires_at
            heapq.heappush(self._heap, (expires_at, key))
            return True

    def __len__(self) -> int:
        with self._lock:
            return len(self._expiry)

    def _purge(self, now: datetime) -> None:
        while self._heap and self._heap[0][0] < now:
            _, key = heapq.heappop(self._heap)
            self._expiry.pop(key, None)
