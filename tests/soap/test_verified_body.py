"""MtsSoap11.create_in_document on a verified Body: the xml:id map Spyne's href resolution
reads is what a walk of the tree finds, whether or not the canonical bytes are searched."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

from lxml import etree

from mts_service.soap.base import VERIFIED_BODY_KEY, VERIFIED_MESSAGE_KEY, MtsSoap11
from mts_service.wssec import ns

WITH_ID = (f'<soap:Body xmlns:soap="{ns.SOAP11}"><g:Op xmlns:g="urn:t"><g:a xml:id="one">x</g:a>'
           '<g:b>xml:id in text only</g:b></g:Op></soap:Body>').encode()
WITHOUT_ID = f'<soap:Body xmlns:soap="{ns.SOAP11}"><g:Op xmlns:g="urn:t"><g:a>x</g:a></g:Op></soap:Body>'.encode()
TEXT_ONLY = (f'<soap:Body xmlns:soap="{ns.SOAP11}"><g:Op xmlns:g="urn:t"><g:a>xml:id="x"</g:a></g:Op>'
             '</soap:Body>').encode()


@dataclass
class _Verified:
    body: etree._Element
    body_c14n: bytes


class _Ctx(SimpleNamespace):
    pass


def ids_of(canonical: bytes, *, own_message: bool = True) -> dict:
    body = etree.fromstring(canonical)
    message = _Verified(body if own_message else etree.fromstring(canonical), canonical)
    environ = {VERIFIED_BODY_KEY: body, VERIFIED_MESSAGE_KEY: message}
    ctx = _Ctx(transport=SimpleNamespace(req_env=environ))
    MtsSoap11().create_in_document(ctx)
    envelope, ids = ctx.in_document
    assert envelope[0] is body
    return {key: node.tag for key, node in ids.items()}


def test_xml_ids_are_collected_when_the_canonical_bytes_hold_one():
    assert ids_of(WITH_ID) == {"one": "{urn:t}a"}


def test_no_xml_id_in_the_canonical_bytes_means_an_empty_map():
    assert ids_of(WITHOUT_ID) == {}
    assert ids_of(TEXT_ONLY) == {}   # searched, walked, none found


def test_a_body_that_is_not_the_messages_own_is_walked():
    assert ids_of(WITH_ID, own_message=False) == {"one": "{urn:t}a"}
