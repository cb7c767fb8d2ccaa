"""wsu:Timestamp values: writing ours, reading and judging the peer's.

Wire form is ``YYYY-MM-DDThh:mm:ss[.f{1,9}]Z`` (UTC only; peers send milliseconds, we
write milliseconds). Digits past microseconds are dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from mts_service.clock import UTC, ensure_utc
from mts_service.errors import ErrorCode, SecurityError

_STAMP = re.compile(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?Z")


def format_timestamp(value: datetime) -> str:
    # isoformat is C code (strftime was two thirds of the cost) and pads the year to 4 digits.
    return ensure_utc(value).replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def parse_timestamp(text: str | None) -> datetime:
    """Parse a UTC ``…Z`` timestamp; anything else is SECURITY_EXPIRED (cannot be judged fresh)."""
    match = _STAMP.fullmatch((text or "").strip())
    if match is None:
        raise SecurityError(f"timestamp {text!r} is not UTC xsd:dateTime ending in Z", code=ErrorCode.SECURITY_EXPIRED)
    year, month, day, hour, minute, second, fraction = match.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    try:
        return datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), micro, tzinfo=UTC)
    except ValueError:
        raise SecurityError(f"timestamp {text!r} is not a valid date", code=ErrorCode.SECURITY_EXPIRED) from None


@dataclass(frozen=True)
class Freshness:
    created: datetime
    expires: datetime


def check_freshness(
    created_text: str | None,
    expires_text: str | None,
    *,
    now: datetime,
    ttl: timedelta,
    skew: timedelta,
) -> Freshness:
    """Judge a Created/Expires pair at ``now``; raise SECURITY_EXPIRED when stale or odd.

    The age cap counts from Created, whatever Expires claims, so a peer cannot extend its
    own message's life; Expires must follow Created and not be past.
    """
    if expires_text is None:
        raise SecurityError("timestamp has no Expires", code=ErrorCode.SECURITY_EXPIRED)
    created = parse_timestamp(created_text)
    expires = parse_timestamp(expires_text)
    if expires <= created:
        raise SecurityError("timestamp Expires is not after Created", code=ErrorCode.SECURITY_EXPIRED)
    if created > now + skew:
        raise SecurityError("timestamp Created is in the future", code=ErrorCode.SECURITY_EXPIRED)
    if now - created > ttl + skew:
        raise SecurityError("timestamp is older than the allowed age", code=ErrorCode.SECURITY_EXPIRED)
    if expires + skew < now:
        raise SecurityError("timestamp has expired", code=ErrorCode.SECURITY_EXPIRED)
    return Freshness(created, expires)
