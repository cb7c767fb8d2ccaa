"""Attack corpus: malicious variants of one valid signed request, each refused with its code.

Every case starts from a request that verifies (checked by ``test_the_original_verifies``),
changes it the way an attacker would, and expects one ErrorCode.
"""

from __future__ import annotations

import copy

import pytest
from lxml import etree

from mts_service.errors import ErrorCode, SecurityError
from mts_service.wssec import ns
from mts_service.wssec.verify import verify_envelope
from wssec_helpers import N, body_id, dump, find, parse

ECHO = "{urn:mts:test:echo}"
SEC = "soap:Header/wsse:Security"
SIG = SEC + "/ds:Signature"


def evil_body(original: etree._Element) -> etree._Element:
    evil = etree.Element(ns.BODY)
    e = etree.SubElement(evil, ECHO + "Echo")
    etree.SubElement(e, ECHO + "text").text = "transfer everything"
    return evil


# Each mutator changes the parsed signed request in place.


def remove_security(root):
    find(root, "soap:Header").remove(find(root, SEC))


def remove_header(root):
    root.remove(find(root, "soap:Header"))


def remove_signature(root):
    find(root, SEC).remove(find(root, SIG))


def unsign_body(root):
    signed_info = find(root, SIG + "/ds:SignedInfo")
    for ref in signed_info.findall("ds:Reference", N):
        if ref.get("URI") == "#" + body_id(root):
            signed_info.remove(ref)


def unsign_timestamp(root):
    signed_info = find(root, SIG + "/ds:SignedInfo")
    ts = find(root, SEC + "/wsu:Timestamp").get(ns.WSU_ID)
    for ref in signed_info.findall("ds:Reference", N):
        if ref.get("URI") == "#" + ts:
            signed_info.remove(ref)


def tamper_body(root):
    find(root, "soap:Body").find(f"{ECHO}Echo/{ECHO}text").text = "transfer everything"


def add_to_body(root):
    etree.SubElement(find(root, "soap:Body"), ECHO + "Extra").text = "more"


def tamper_timestamp(root):
    find(root, SEC + "/wsu:Timestamp/wsu:Expires").text = "2026-01-15T09:04:00.000Z"


def corrupt_signature_value(root):
    value = find(root, SIG + "/ds:SignatureValue")
    value.text = ("A" if value.text[0] != "A" else "B") + value.text[1:]


def wrap_body_in_header_without_id(root):
    # Classic XSW: signed Body hidden in a header, unsigned Body (no id) for the application.
    body = find(root, "soap:Body")
    wrapper = etree.SubElement(find(root, "soap:Header"), "{urn:evil}Wrapper")
    root.replace(body, evil_body(body))
    wrapper.append(body)


def wrap_body_in_header_same_id(root):
    body = find(root, "soap:Body")
    evil = evil_body(body)
    evil.set(ns.WSU_ID, body.get(ns.WSU_ID))
    wrapper = etree.SubElement(find(root, "soap:Header"), "{urn:evil}Wrapper")
    root.replace(body, evil)
    wrapper.append(body)


def wrap_body_in_security(root):
    body = find(root, "soap:Body")
    evil = evil_body(body)
    evil.set(ns.WSU_ID, "id-evil")
    root.replace(body, evil)
    find(root, SEC).append(body)


def duplicate_body(root):
    body = find(root, "soap:Body")
    root.append(copy.deepcopy(body))


def duplicate_body_evil_first(root):
    body = find(root, "soap:Body")
    evil = evil_body(body)
    body.addprevious(evil)


def _evil_with_id(attribute):
    def mutate(root):
        body = find(root, "soap:Body")
        evil = evil_body(body)
        wrapper = etree.SubElement(find(root, "soap:Header"), "{urn:evil}Wrapper")
        wrapper.append(evil)
        evil.set(attribute, body.get(ns.WSU_ID))

    return mutate


def swap_body_id_spelling(root):
    # Body keeps the id under a plain Id, so signxml would still find it; we require wsu:Id.
    body = find(root, "soap:Body")
    value = body.get(ns.WSU_ID)
    del body.attrib[ns.WSU_ID]
    body.set("Id", value)


def body_in_ds_object(root):
    body = find(root, "soap:Body")
    obj = etree.SubElement(find(root, SIG), ns.qn(ns.DS, "Object"))
    obj.append(copy.deepcopy(body))
    body.set(ns.WSU_ID, "id-other")


def extra_ds_object(root):
    etree.SubElement(find(root, SIG), ns.qn(ns.DS, "Object")).text = "x"


def extra_bst(root):
    bst = find(root, SEC + "/wsse:BinarySecurityToken")
    extra = copy.deepcopy(bst)
    extra.set(ns.WSU_ID, "X509-extra")
    bst.addnext(extra)


def extra_security_child(root):
    etree.SubElement(find(root, SEC), "{urn:evil}Anything").text = "x"


def two_security_headers(root):
    header = find(root, "soap:Header")
    second = etree.SubElement(header, ns.SECURITY)
    etree.SubElement(second, "{urn:evil}Anything")


def security_for_other_actor(root):
    find(root, SEC).set(ns.ACTOR, "http://example.org/other-node")


def xslt_transform(root):
    transforms = find(root, SIG + "/ds:SignedInfo/ds:Reference/ds:Transforms")
    xslt = etree.SubElement(transforms, ns.qn(ns.DS, "Transform"), Algorithm="http://www.w3.org/TR/1999/REC-xslt-19991116")
    etree.SubElement(xslt, "{http://www.w3.org/1999/XSL/Transform}stylesheet", version="1.0")


def xpath_transform_only(root):
    transform = find(root, SIG + "/ds:SignedInfo/ds:Reference/ds:Transforms/ds:Transform")
    transform.set("Algorithm", "http://www.w3.org/TR/1999/REC-xpath-19991116")


def enveloped_transform(root):
    transforms = find(root, SIG + "/ds:SignedInfo/ds:Reference/ds:Transforms")
    transforms.insert(0, etree.Element(ns.qn(ns.DS, "Transform"), Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"))


def third_reference(root):
    signed_info = find(root, SIG + "/ds:SignedInfo")
    ref = copy.deepcopy(signed_info.find("ds:Reference", N))
    ref.set("URI", "#" + find(root, SEC + "/wsse:BinarySecurityToken").get(ns.WSU_ID))
    signed_info.append(ref)


def external_reference(root):
    signed_info = find(root, SIG + "/ds:SignedInfo")
    signed_info.find("ds:Reference", N).set("URI", "http://evil.example/body.xml")


def key_info_x509_data(root):
    key_info = find(root, SIG + "/ds:KeyInfo")
    bst = find(root, SEC + "/wsse:BinarySecurityToken")
    for child in list(key_info):
        key_info.remove(child)
    data = etree.SubElement(key_info, ns.qn(ns.DS, "X509Data"))
    etree.SubElement(data, ns.qn(ns.DS, "X509Certificate")).text = bst.text


def str_external_uri(root):
    find(root, SIG + "/ds:KeyInfo/wsse:SecurityTokenReference/wsse:Reference").set("URI", "http://evil.example/cert")


def bst_garbage(root):
    find(root, SEC + "/wsse:BinarySecurityToken").text = "bm90IGEgY2VydGlmaWNhdGU="


def bst_oversized(root):
    find(root, SEC + "/wsse:BinarySecurityToken").text = "A" * 20000


def must_understand_header(root):
    block = etree.SubElement(find(root, "soap:Header"), "{urn:unknown}Routing")
    block.set(ns.MUST_UNDERSTAND, "1")


def element_after_body(root):
    etree.SubElement(root, "{urn:evil}Trailer")


def soap12(root):
    # Same content under the SOAP 1.2 namespace.
    for node in root.iter():
        if isinstance(node.tag, str) and node.tag.startswith("{" + ns.SOAP11):
            node.tag = node.tag.replace(ns.SOAP11, ns.SOAP12)


MUTATIONS = [
    ("no-security-header", remove_security, ErrorCode.SECURITY_UNSIGNED),
    ("no-header", remove_header, ErrorCode.SECURITY_UNSIGNED),
    ("no-signature", remove_signature, ErrorCode.SECURITY_UNSIGNED),
    ("body-not-signed", unsign_body, ErrorCode.SECURITY_UNSIGNED),
    ("timestamp-not-signed", unsign_timestamp, ErrorCode.SECURITY_UNSIGNED),
    ("tampered-body", tamper_body, ErrorCode.SECURITY_BAD_SIGNATURE),
    ("element-added-to-body", add_to_body, ErrorCode.SECURITY_BAD_SIGNATURE),
    ("tampered-timestamp", tamper_timestamp, ErrorCode.SECURITY_BAD_SIGNATURE),
    ("corrupt-signature-value", corrupt_signature_value, ErrorCode.SECURITY_BAD_SIGNATURE),
    ("xsw-body-in-header-no-id", wrap_body_in_header_without_id, ErrorCode.SECURITY_UNSIGNED),
    ("xsw-body-in-header-same-id", wrap_body_in_header_same_id, ErrorCode.SECURITY_BAD_SIGNATURE),
    ("xsw-body-in-security", wrap_body_in_security, ErrorCode.SECURITY_BAD_SIGNATURE),
    ("duplicate-body", duplicate_body, ErrorCode.XML_MALFORMED),
    ("evil-body-before-signed-body", duplicate_body_evil_first, ErrorCode.XML_MALFORMED),
    ("dup-id-plain-Id", _evil_with_id("Id"), ErrorCode.SECURITY_BAD_SIGNATURE),
    ("dup-id-ID", _evil_with_id("ID"), ErrorCode.SECURITY_BAD_SIGNATURE),
    ("dup-id-lower-id", _evil_with_id("id"), ErrorCode.SECURITY_BAD_SIGNATURE),
    ("dup-id-xml-id", _evil_with_id(ns.XML_ID), ErrorCode.SECURITY_BAD_SIGNATURE),
    ("dup-id-other-namespace-Id", _evil_with_id("{urn:evil}Id"), ErrorCode.SECURITY_BAD_SIGNATURE),
    ("dup-id-wsu-Id", _evil_with_id(ns.WSU_ID), ErrorCode.SECURITY_BAD_SIGNATURE),
    ("body-id-not-wsu", swap_body_id_spelling, ErrorCode.SECURITY_UNSIGNED),
    ("signed-body-in-ds-object", body_in_ds_object, ErrorCode.SECURITY_BAD_SIGNATURE),
    ("ds-object", extra_ds_object, ErrorCode.SECURITY_BAD_SIGNATURE),
    ("extra-bst", extra_bst, ErrorCode.SECURITY_UNTRUSTED_CERT),
    ("extra-element-in-security", extra_security_child, ErrorCode.SECURITY_BAD_SIGNATURE),
    ("two-security-headers", two_security_headers, ErrorCode.SECURITY_BAD_SIGNATURE),
    ("security-for-other-actor", security_for_other_actor, ErrorCode.SECURITY_UNSIGNED),
    ("xslt-transform", xslt_transform, ErrorCode.SECURITY_ALGORITHM),
    ("xpath-transform", xpath_transform_only, ErrorCode.SECURITY_ALGORITHM),
    ("enveloped-transform", enveloped_transform, ErrorCode.SECURITY_ALGORITHM),
    ("third-reference", third_reference, ErrorCode.SECURITY_BAD_SIGNATURE),
    ("external-reference", external_reference, ErrorCode.SECURITY_BAD_SIGNATURE),
    ("keyinfo-x509data", key_info_x509_data, ErrorCode.SECURITY_UNTRUSTED_CERT),
    ("str-external-uri", str_external_uri, ErrorCode.SECURITY_UNTRUSTED_CERT),
    ("bst-garbage", bst_garbage, ErrorCode.SECURITY_UNTRUSTED_CERT),
    ("bst-oversized", bst_oversized, ErrorCode.SECURITY_UNTRUSTED_CERT),
    ("unknown-must-understand", must_understand_header, ErrorCode.SOAP_MUST_UNDERSTAND),
    ("element-after-body", element_after_body, ErrorCode.XML_MALFORMED),
    ("soap12-envelope", soap12, ErrorCode.SOAP_VERSION_MISMATCH),
]


@pytest.fixture
def ctx(trust, clock, replay, profile):
    return dict(trust=trust, clock=clock, replay=replay, profile=profile)


def test_the_original_verifies(sign, ctx):
    verify_envelope(sign("shop"), expected_role="shop", **ctx)


@pytest.mark.parametrize("mutation, code", [(m, c) for _, m, c in MUTATIONS], ids=[n for n, _, _ in MUTATIONS])
def test_structural_attack_is_refused(sign, ctx, replay, mutation, code):
    root = parse(sign("shop"))
    mutation(root)
    with pytest.raises(SecurityError) as info:
        verify_envelope(dump(root), expected_role="shop", **ctx)
    assert info.value.code is code, info.value.message
    assert len(replay) == 0


# --- attacks on the parser (raw bytes) ----------------------------------------------------

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE e [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>&xxe;</soap:Body></soap:Envelope>"""

LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>&lol3;</soap:Body></soap:Envelope>"""

PLAIN_DOCTYPE = b"""<!DOCTYPE soap:Envelope SYSTEM "http://evil.example/soap.dtd">
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body/></soap:Envelope>"""


def _in_signed(transform):
    def build(signed: bytes) -> bytes:
        return transform(signed)

    return build


def utf16_doctype(signed: bytes) -> bytes:
    text = '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE x [<!ENTITY a "b">]>' + signed.decode()
    return text.encode("utf-16")


def processing_instruction(signed: bytes) -> bytes:
    return signed.replace(b"<soap:Body", b"<?evil run?><soap:Body", 1)


def pi_before_root(signed: bytes) -> bytes:
    return b"<?xml-stylesheet href='http://evil.example/x.xsl'?>" + signed


def oversized(signed: bytes) -> bytes:
    return signed.replace(b"bonjour", b"x" * (300 * 1024))


def deep(signed: bytes) -> bytes:
    return signed.replace(b"bonjour", b"<a>" * 100 + b"x" + b"</a>" * 100)


def wide(signed: bytes) -> bytes:
    return signed.replace(b"bonjour", b"<a/>" * 6000)


def truncated(signed: bytes) -> bytes:
    return signed[: len(signed) // 2]


def not_xml(signed: bytes) -> bytes:
    return b"GET / HTTP/1.1"


RAW_ATTACKS = [
    ("xxe", lambda s: XXE, ErrorCode.XML_FORBIDDEN),
    ("billion-laughs", lambda s: LAUGHS, ErrorCode.XML_FORBIDDEN),
    ("doctype", lambda s: PLAIN_DOCTYPE, ErrorCode.XML_FORBIDDEN),
    ("utf16-doctype", utf16_doctype, ErrorCode.XML_FORBIDDEN),
    ("processing-instruction", processing_instruction, ErrorCode.XML_FORBIDDEN),
    ("pi-before-root", pi_before_root, ErrorCode.XML_FORBIDDEN),
    ("oversized", oversized, ErrorCode.REQUEST_TOO_LARGE),
    ("deep-nesting", deep, ErrorCode.XML_FORBIDDEN),
    ("too-many-elements", wide, ErrorCode.XML_FORBIDDEN),
    ("truncated", truncated, ErrorCode.XML_MALFORMED),
    ("not-xml", not_xml, ErrorCode.XML_MALFORMED),
]


@pytest.mark.parametrize("build, code", [(b, c) for _, b, c in RAW_ATTACKS], ids=[n for n, _, _ in RAW_ATTACKS])
def test_parser_attack_is_refused(sign, ctx, build, code):
    with pytest.raises(SecurityError) as info:
        verify_envelope(build(sign("shop")), **ctx)
    assert info.value.code is code, info.value.message


def test_comment_inside_signed_text_does_not_reach_the_application(sign, ctx):
    # Exclusive c14n drops comments, so this still verifies; what the app gets is the signed text.
    raw = sign("shop").replace(b"bonjour", b"bon<!-- injected -->jour")
    message = verify_envelope(raw, **ctx)
    assert message.body.findtext(f"{ECHO}Echo/{ECHO}text") == "bonjour"
