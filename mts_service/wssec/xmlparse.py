"""The hardened XML parser every inbound message goes through, once.

lxml is told not to resolve entities, load DTDs or touch the network, and not to lift
libxml2's size limits (``huge_tree=False``). On top of that MTS refuses any DOCTYPE (the
vehicle of XXE and entity-expansion bombs), any processing instruction, and documents
deeper or larger than the profile allows. See https://lxml.de/FAQ.html (web service
endpoints) and WSSEC-NOTES 8.
"""

from __future__ import annotations

import threading

from lxml import etree

from mts_service.errors import ErrorCode, SecurityError
from mts_service.wssec.profile import DEFAULT_PROFILE, SecurityProfile

_local = threading.local()


def hardened_parser() -> etree.XMLParser:
    """This thread's hardened parser (lxml parsers must not be shared between threads)."""
    parser = getattr(_local, "parser", None)
    if parser is None:
        parser = etree.XMLParser(
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            dtd_validation=False,
            huge_tree=False,
            remove_pis=False,  # keep them so that we can refuse them
            collect_ids=False,
        )
        _local.parser = parser
    return parser


def parse_xml(raw: bytes, *, profile: SecurityProfile = DEFAULT_PROFILE) -> etree._Element:
    """Parse ``raw`` into its root element or raise SecurityError.

    REQUEST_TOO_LARGE over ``profile.max_body_bytes``; XML_FORBIDDEN for a DOCTYPE,
    entity, processing instruction, or a document over the depth/element caps;
    XML_MALFORMED for anything libxml2 cannot parse.
    """
    if not isinstance(raw, (bytes, bytearray)):
        raise TypeError("parse_xml takes bytes: the wire form, with its own encoding declaration")
    if len(raw) > profile.max_body_bytes:
        raise SecurityError(
            f"message of {len(raw)} bytes exceeds {profile.max_body_bytes}", code=ErrorCode.REQUEST_TOO_LARGE
        )
    # Cheap early refusal of the usual attack shape, before libxml2 builds any DTD.
    # (Not relied upon: a UTF-16 document escapes a bytes search; the docinfo check below does not.)
    if b"<!DOCTYPE" in raw or b"<!ENTITY" in raw:
        raise SecurityError("DOCTYPE declarations are not allowed", code=ErrorCode.XML_FORBIDDEN)
    try:
        root = etree.fromstring(bytes(raw), parser=hardened_parser())
    except etree.XMLSyntaxError as exc:
        raise SecurityError(f"malformed XML: {exc.msg}", code=ErrorCode.XML_MALFORMED) from None
    check_tree(root, profile=profile)
    return root


_COUNT_ELEMENTS = etree.XPath("count(//*)")
_HAS_PI = etree.XPath("boolean(//processing-instruction())")
_DEEPER_THAN: dict[int, etree.XPath] = {}


def _deeper_than(depth: int) -> etree.XPath:
    """True when an element sits deeper than ``depth`` (the root element is at depth 1)."""
    found = _DEEPER_THAN.get(depth)
    if found is None:
        found = _DEEPER_THAN[depth] = etree.XPath("boolean(/*" + "/*" * depth + ")")
    return found


def check_tree(root: etree._Element, *, profile: SecurityProfile = DEFAULT_PROFILE) -> None:
    """Refuse DTDs, entities, processing instructions and over-deep or over-large trees.

    The walks are compiled XPath (libxml2 in C), not a Python loop over every node: the
    same checks at about a third of the cost on a signed request.
    """
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise SecurityError("DOCTYPE declarations are not allowed", code=ErrorCode.XML_FORBIDDEN)
    # From the document node: PIs inside the root element and beside it (before and after).
    if _HAS_PI(root):
        raise SecurityError("processing instructions are not allowed", code=ErrorCode.XML_FORBIDDEN)
    if _deeper_than(profile.max_depth)(root):
        raise SecurityError(f"XML nested deeper than {profile.max_depth}", code=ErrorCode.XML_FORBIDDEN)
    if _COUNT_ELEMENTS(root) > profile.max_elements:
        raise SecurityError(f"XML has more than {profile.max_elements} elements", code=ErrorCode.XML_FORBIDDEN)
    for _ in root.iter(etree.Entity):
        raise SecurityError("entity references are not allowed", code=ErrorCode.XML_FORBIDDEN)
