"""parse_xml / check_tree limits at their exact boundaries (the checks are compiled XPath)."""

from __future__ import annotations

import pytest

from mts_service.errors import ErrorCode, SecurityError
from mts_service.wssec.profile import SecurityProfile
from mts_service.wssec.timestamps import format_timestamp
from mts_service.wssec.xmlparse import parse_xml

PROFILE = SecurityProfile(max_depth=8, max_elements=20)


def nested(depth: int) -> bytes:
    return b"<a>" * depth + b"x" + b"</a>" * depth


def wide(elements: int) -> bytes:
    return b"<r>" + b"<e/>" * (elements - 1) + b"</r>"


def refused(raw: bytes) -> ErrorCode:
    with pytest.raises(SecurityError) as info:
        parse_xml(raw, profile=PROFILE)
    return info.value.code


def test_depth_limit_is_exact():
    parse_xml(nested(8), profile=PROFILE)
    assert refused(nested(9)) is ErrorCode.XML_FORBIDDEN


def test_depth_counts_the_deepest_branch_only():
    parse_xml(b"<r>" + nested(7) + b"<b/>" * 10 + b"</r>", profile=PROFILE)
    assert refused(b"<r><b/>" + nested(8) + b"</r>") is ErrorCode.XML_FORBIDDEN


def test_element_limit_is_exact():
    parse_xml(wide(20), profile=PROFILE)
    assert refused(wide(21)) is ErrorCode.XML_FORBIDDEN


@pytest.mark.parametrize(
    "raw",
    [b"<r><?pi x?></r>", b"<r><a><b><?pi?></b></a></r>", b"<?pi x?><r/>", b"<r/><?pi x?>"],
    ids=["child", "deep", "before-root", "after-root"],
)
def test_processing_instructions_anywhere_are_refused(raw):
    assert refused(raw) is ErrorCode.XML_FORBIDDEN


def test_comments_are_not_refused():
    parse_xml(b"<!-- c --><r><!-- c --><a>x<!-- c -->y</a></r><!-- c -->", profile=PROFILE)


def test_format_timestamp_milliseconds_utc():
    from datetime import datetime, timedelta, timezone

    assert format_timestamp(datetime(2026, 1, 15, 9, 0, tzinfo=timezone.utc)) == "2026-01-15T09:00:00.000Z"
    assert format_timestamp(datetime(2026, 1, 15, 11, 0, 0, 999999, tzinfo=timezone(timedelta(hours=2)))) == (
        "2026-01-15T09:00:00.999Z"
    )
