"""GSM-7 / UCS-2 encoding choice and segment counting."""

from __future__ import annotations

import gsm0338  # noqa: F401  (registers the codec the oracle below uses)
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mts_service.domain.sms_text import (
    Encoding,
    SegmentInfo,
    needs_ucs2,
    segment_count,
    split_parts,
)

EMOJI = "\U0001F600"  # outside the BMP: a surrogate pair in UTF-16


# --- encoding choice -------------------------------------------------------------------


@pytest.mark.parametrize("char", list("éèàùìòÉÇÑÜÖÄßñüöäå@£$¥_!?\"'#%&()*+,-./:;<=>") + ["\n", "\r"])
def test_gsm_basic_characters_stay_gsm7(char: str) -> None:
    assert not needs_ucs2(char)
    assert segment_count(char) == SegmentInfo(Encoding.GSM7, 1, 1)


@pytest.mark.parametrize("char", list("€[]{}^~\\|") + ["\f"])
def test_extension_characters_cost_two_septets(char: str) -> None:
    assert segment_count(char) == SegmentInfo(Encoding.GSM7, 2, 1)


@pytest.mark.parametrize(
    "char",
    # ç: GSM 03.38 only has the capital Ç; ô ê â î û ï ë œ are not in it either.
    ["ç", "ô", "ê", "â", "î", "û", "ï", "ë", "œ", "`", "\t", "\xa0", "\u202f", "\x1b", "م", "٣"],
)
def test_characters_outside_gsm_force_ucs2(char: str) -> None:
    assert needs_ucs2(char)
    assert segment_count("abc" + char) == SegmentInfo(Encoding.UCS2, 4, 1)


def test_encoding_value_is_the_wire_string() -> None:
    assert segment_count("x").encoding == "GSM7"
    assert segment_count("é ô").encoding == "UCS2"


def test_emoji_counts_two_ucs2_units() -> None:
    assert segment_count(EMOJI) == SegmentInfo(Encoding.UCS2, 2, 1)
    assert segment_count("ok " + EMOJI * 2) == SegmentInfo(Encoding.UCS2, 7, 1)


def test_arabic_text_is_ucs2_one_unit_per_letter() -> None:
    text = "رمزك ABC123"
    assert segment_count(text) == SegmentInfo(Encoding.UCS2, len(text), 1)


def test_empty_text_is_one_empty_sms() -> None:
    assert segment_count("") == SegmentInfo(Encoding.GSM7, 0, 1)
    assert split_parts("") == [""]


# --- boundaries ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a" * 160, SegmentInfo(Encoding.GSM7, 160, 1)),
        ("a" * 161, SegmentInfo(Encoding.GSM7, 161, 2)),
        ("a" * 158 + "€", SegmentInfo(Encoding.GSM7, 160, 1)),
        ("a" * 159 + "€", SegmentInfo(Encoding.GSM7, 161, 2)),
        ("a" * 306, SegmentInfo(Encoding.GSM7, 306, 2)),
        ("a" * 307, SegmentInfo(Encoding.GSM7, 307, 3)),
        ("é" * 160, SegmentInfo(Encoding.GSM7, 160, 1)),
        ("ô" * 70, SegmentInfo(Encoding.UCS2, 70, 1)),
        ("ô" * 71, SegmentInfo(Encoding.UCS2, 71, 2)),
        ("م" * 134, SegmentInfo(Encoding.UCS2, 134, 2)),
        ("م" * 135, SegmentInfo(Encoding.UCS2, 135, 3)),
        (EMOJI * 35, SegmentInfo(Encoding.UCS2, 70, 1)),
        (EMOJI * 36, SegmentInfo(Encoding.UCS2, 72, 2)),
    ],
)
def test_single_and_concatenated_limits(text: str, expected: SegmentInfo) -> None:
    assert segment_count(text) == expected


def test_extension_pair_is_not_split_at_a_part_boundary() -> None:
    # 152 + 2 = 154 > 153: the € cannot straddle parts, so it opens part 2.
    text = "a" * 152 + "€" + "b" * 152
    # 306 septets would fit two full parts, but the pair moved: 152 | 2 + 152 = 154 > 153.
    info = segment_count(text)
    assert info == SegmentInfo(Encoding.GSM7, 306, 3)
    parts = split_parts(text)
    assert parts[0] == "a" * 152
    assert parts[1].startswith("€")
    assert "".join(parts) == text


def test_surrogate_pair_is_not_split_at_a_part_boundary() -> None:
    text = "م" * 66 + EMOJI + "م" * 66  # 66 + 2 + 66 = 134 units, but 66 | 2 + 66 = 68 > 67
    assert segment_count(text) == SegmentInfo(Encoding.UCS2, 134, 3)
    parts = split_parts(text)
    assert parts[0] == "م" * 66
    assert parts[1].startswith(EMOJI)


def test_exact_part_sizes_when_nothing_straddles() -> None:
    text = "a" * 151 + "€" + "b" * 153  # 153 | 153
    assert segment_count(text).segments == 2
    assert [len(p) for p in split_parts(text)] == [152, 153]


# --- property: counting agrees with cutting the encoded bytes ----------------------------


def _cut_encoded(text: str) -> list[str]:
    """An independent oracle: cut the *encoded* bytes into parts, as a PDU builder would.

    GSM7: one octet per septet (the codec's output), parts of 153 octets, and an escape
    octet (0x1B) never ends a part. UCS2: UTF-16BE, parts of 134 octets (67 units), and a
    high surrogate never ends a part. Each part must decode on its own.
    """
    try:
        encoded = text.encode("gsm03.38")
        gsm = "\x1b" not in text
    except UnicodeEncodeError:
        gsm = False
    if gsm:
        if len(encoded) <= 160:
            return [text]
        chunks, rest = [], encoded
        while rest:
            chunk = rest[:153]
            if chunk[-1] == 0x1B:  # an escape prefix: its character goes whole to the next part
                chunk = chunk[:-1]
            chunks.append(chunk)
            rest = rest[len(chunk):]
        return [chunk.decode("gsm03.38") for chunk in chunks]
    encoded = text.encode("utf-16-be")
    if len(encoded) <= 140:
        return [text]
    chunks, rest = [], encoded
    while rest:
        chunk = rest[:134]
        if 0xD8 <= chunk[-2] <= 0xDB:  # high surrogate: keep the pair together
            chunk = chunk[:-2]
        chunks.append(chunk)
        rest = rest[len(chunk):]
    return [chunk.decode("utf-16-be") for chunk in chunks]


_GSM_CHARS = st.sampled_from(list("aZ09 .,@£éÇÑ\n") + list("€[]{}^~\\|"))
_ANY_CHARS = st.one_of(
    _GSM_CHARS,
    st.sampled_from(["ô", "ç", "م", "ش", "٣", EMOJI, "\U0001F44D"]),
    st.characters(exclude_categories=("Cs",)),
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(alphabet=_GSM_CHARS, max_size=200), st.text(alphabet=_GSM_CHARS, min_size=140, max_size=500)))
def test_gsm_counting_matches_cutting_encoded_bytes(text: str) -> None:
    _assert_agrees(text)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(alphabet=_ANY_CHARS, max_size=100), st.text(alphabet=_ANY_CHARS, min_size=60, max_size=250)))
def test_any_counting_matches_cutting_encoded_bytes(text: str) -> None:
    _assert_agrees(text)


def _assert_agrees(text: str) -> None:
    oracle = _cut_encoded(text)
    info = segment_count(text)
    assert info.segments == len(oracle)
    assert split_parts(text) == oracle
    assert "".join(oracle) == text
    limit = 160 if info.encoding is Encoding.GSM7 else 70
    assert (info.units <= limit) == (info.segments == 1)
