"""The request-size cap, shared by the security middleware and the bare SOAP application.

A body over the cap is refused unparsed with REQUEST_TOO_LARGE (XML_MALFORMED for a
Content-Length that is not a number). A server that answers before reading a body and then
closes the socket with that body still unread makes the kernel reset the connection; the
reset can overtake the answer, so the client sees "connection reset" or, over TLS, an
unexpected EOF instead of the fault. So, like nginx's lingering close, a refusal first reads
and discards what the client is sending, up to ``DRAIN_LIMIT_FACTOR`` times the cap: an
honest client that sent too much gets its fault, and a client sending far more than that is
cut off without costing more than a bounded read.
"""

from __future__ import annotations

from typing import BinaryIO

from mts_service.errors import ErrorCode

DRAIN_LIMIT_FACTOR = 4
_CHUNK = 64 * 1024


class BodyRefused(Exception):
    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def announced_length(environ: dict, limit: int) -> int | None:
    """The Content-Length if there is one and it is within ``limit``; None if there is none
    (chunked, or no body). Raises BodyRefused otherwise, after draining an oversized body."""
    raw = (environ.get("CONTENT_LENGTH") or "").strip()
    if not raw:
        return None
    try:
        length = int(raw)
    except ValueError:
        raise BodyRefused(ErrorCode.XML_MALFORMED, "invalid Content-Length") from None
    if length < 0:
        raise BodyRefused(ErrorCode.XML_MALFORMED, "invalid Content-Length")
    if length > limit:
        drain(environ["wsgi.input"], announced=length, limit=limit)
        raise BodyRefused(ErrorCode.REQUEST_TOO_LARGE, f"request of {length} bytes exceeds {limit}")
    return length


def read_unannounced(environ: dict, limit: int) -> bytes:
    """A body without Content-Length: chunked (read one byte past the cap to detect an
    oversized one, then drain it and raise BodyRefused), else empty."""
    if not environ.get("wsgi.input_terminated"):
        return b""
    stream = environ["wsgi.input"]
    body = stream.read(limit + 1)
    if len(body) > limit:
        drain(stream, announced=None, limit=limit)
        raise BodyRefused(ErrorCode.REQUEST_TOO_LARGE, f"request exceeds {limit} bytes")
    return body


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
