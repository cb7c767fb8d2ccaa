"""An oversized request is read (bounded) and discarded before it is refused, so the
client reads the fault instead of a connection reset (see mts_service.soap.request_body)."""

from __future__ import annotations

import io

from mts_service.soap.request_body import DRAIN_LIMIT_FACTOR, drain


class CountingStream(io.BytesIO):
    def __init__(self, size: int) -> None:
        super().__init__(b"x" * size)

    @property
    def consumed(self) -> int:
        return self.tell()


def test_the_announced_body_is_read_to_its_end():
    stream = CountingStream(300_000)
    drain(stream, announced=300_000, limit=100_000)
    assert stream.consumed == 300_000


def test_reading_stops_at_the_drain_limit_however_much_is_sent():
    stream = CountingStream(DRAIN_LIMIT_FACTOR * 1000 + 5000)
    drain(stream, announced=None, limit=1000)
    assert stream.consumed == DRAIN_LIMIT_FACTOR * 1000
    stream = CountingStream(10**6)
    drain(stream, announced=10**6, limit=1000)
    assert stream.consumed == DRAIN_LIMIT_FACTOR * 1000


def test_a_client_that_went_away_is_not_an_error():
    class Broken(io.RawIOBase):
        def read(self, size: int = -1) -> bytes:
            raise ConnectionResetError("peer gone")

    drain(Broken(), announced=None, limit=1000)   # returns quietly
