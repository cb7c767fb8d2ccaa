"""Refusing an oversized request so that the client can read the refusal.

A server that answers before reading a body and then closes the socket with that body still
unread makes the kernel reset the connection; the reset can overtake the answer, so the
client sees "connection reset" or, over TLS, an unexpected EOF instead of the
REQUEST_TOO_LARGE fault. So, like nginx's lingering close, the refusal first reads and
discards what the client is sending, up to ``DRAIN_LIMIT_FACTOR`` times the cap: an honest
client that sent too much gets its fault, and a client sending far more than that is cut
off without costing more than a bounded read.
"""

from __future__ import annotations

from typing import BinaryIO

DRAIN_LIMIT_FACTOR = 4
_CHUNK = 64 * 1024


def drain(stream: BinaryIO, *, announced: int | None, limit: int) -> None:
    """Read and discard up to ``DRAIN_LIMIT_FACTOR * limit`` bytes (or the announced length)."""
    budget = DRAIN_LIMIT_FACTOR * limit
    if announced is not None:
        budget = min(budget, announced)
    try:
        while budget > 0:
            chunk = stream.read(min(_CHUNK, budget))
            if not chunk:
                return
            budget -= len(chunk)
    except OSError:  # the client went away: nothing left to be polite to
        return
