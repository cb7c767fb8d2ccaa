"""SMS text encoding and segment counting (3GPP TS 23.038 / 23.040).

A text goes out in the GSM 7-bit default alphabet ("GSM7") when every character is in
it or in its extension table, else in UCS-2 ("UCS2"). What the customer pays for, and
what the operator bills, is the number of *segments*:

==========  ==============  ===============================
encoding    one SMS         each part of a concatenated SMS
==========  ==============  ===============================
GSM7        160 septets     153 septets (7 go to the UDH)
UCS2        70 code units   67 code units
==========  ==============  ===============================

Units are not characters: an extension character (``€ [ ] { } ^ ~ \\ |`` and form feed)
is an escape septet plus one, so it costs 2 septets; a character outside the Basic
Multilingual Plane (most emoji) is a UTF-16 surrogate pair, so it costs 2 UCS-2 units.
Neither pair may be split across two parts, so a part can hold one unit less than its
limit; counting is therefore done by packing whole characters, as a sender does.

The GSM table itself comes from the ``gsm0338`` codec (3GPP TS 23.038 Rel-15 mapping),
not from a hand-copied table. Single/locking national shift tables (Turkish, Spanish,
Portuguese, Indian languages) are not used: many operators and handsets do not support
them, so a text needing them is sent as UCS-2.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from functools import lru_cache

import gsm0338  # noqa: F401  (importing it registers the "gsm03.38" codec)

GSM7_SINGLE = 160
GSM7_PART = 153
UCS2_SINGLE = 70
UCS2_PART = 67

_GSM_CODEC = "gsm03.38"
_ESCAPE = "\x1b"


class Encoding(str, enum.Enum):
    GSM7 = "GSM7"
    UCS2 = "UCS2"

    @property
    def single_limit(self) -> int:
        return GSM7_SINGLE if self is Encoding.GSM7 else UCS2_SINGLE

    @property
    def part_limit(self) -> int:
        return GSM7_PART if self is Encoding.GSM7 else UCS2_PART


@dataclass(frozen=True, slots=True)
class SegmentInfo:
    """How a text goes over the air: its encoding, size in units, and SMS count.

    ``units`` are septets for GSM7 and UTF-16 code units for UCS2. An empty text is
    still one (empty) SMS.
    """

    encoding: Encoding
    units: int
    segments: int


@lru_cache(maxsize=4096)
def _gsm_septets(char: str) -> int | None:
    """Septets of one character in GSM 03.38 (1 or 2), or None if it has none."""
    # A bare ESC is the escape prefix itself, not a sendable character: a handset
    # would read the next septet from the extension table.
    if char == _ESCAPE:
        return None
    try:
        return len(char.encode(_GSM_CODEC))
    except UnicodeEncodeError:
        return None


def _ucs2_units(char: str) -> int:
    return 2 if ord(char) > 0xFFFF else 1


def needs_ucs2(text: str) -> bool:
    """True when some character of ``text`` has no GSM 7-bit representation."""
    return any(_gsm_septets(char) is None for char in text)


def encoding_of(text: str) -> Encoding:
    return Encoding.UCS2 if needs_ucs2(text) else Encoding.GSM7


def _weights(text: str, encoding: Encoding) -> list[int]:
    if encoding is Encoding.GSM7:
        return [_gsm_septets(char) or 0 for char in text]
    return [_ucs2_units(char) for char in text]


def _pack(weights: list[int], limit: int) -> list[int]:
    """Greedy packing of whole characters into parts; returns each part's length in chars."""
    parts: list[int] = []
    chars = used = 0
    for weight in weights:
        if used + weight > limit:
            parts.append(chars)
            chars = used = 0
        chars += 1
        used += weight
    parts.append(chars)
    return parts


def segment_count(text: str) -> SegmentInfo:
    """Encoding, units and number of SMS segments needed to send ``text``."""
    encoding = encoding_of(text)
    weights = _weights(text, encoding)
    units = sum(weights)
    if units <= encoding.single_limit:
        return SegmentInfo(encoding, units, 1)
    return SegmentInfo(encoding, units, len(_pack(weights, encoding.part_limit)))


def split_parts(text: str) -> list[str]:
    """The texts of each part, as a concatenating sender would cut them.

    Never cuts inside an escape pair or a surrogate pair (whole characters only).
    ``"".join(split_parts(t)) == t`` and ``len(split_parts(t)) == segment_count(t).segments``.
    """
    encoding = encoding_of(text)
    weights = _weights(text, encoding)
    if sum(weights) <= encoding.single_limit:
        return [text]
    parts: list[str] = []
    start = 0
    for length in _pack(weights, encoding.part_limit):
        parts.append(text[start:start + length])
        start += length
    return parts
