"""sign_envelope_bytes, the server's signer: the document it writes from templates must be
what sign_envelope would have signed, for our verifier, zeep (python-xmlsec) and xmlsec1."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from lxml import etree

from wssec_helpers import ECHO_BODY, echo_text
from mts_service.errors import ErrorCode, SecurityError
from mts_service.wssec import ns
from mts_service.wssec.sign import _layout, sign_envelope, sign_envelope_bytes
from mts_service.wssec.verify import verify_envelope

XMLSEC1 = shutil.which("xmlsec1")
ID_ATTRS = [
    "--id-attr:Id", f"{ns.SOAP11}:Body",
    "--id-attr:Id", f"{ns.WSU}:Timestamp",
    "--id-attr:Id", f"{ns.WSSE}:BinarySecurityToken",
]


@pytest.fixture
def sign_bytes(pki, clock):
    def _sign(body: bytes = ECHO_BODY, role: str = "shop") -> bytes:
        return sign_envelope_bytes(etree.fromstring(body), key=pki.key(role), cert=pki.cert(role), clock=clock)

    return _sign


@pytest.fixture
def ctx(trust, clock, replay, profile):
    return dict(trust=trust, clock=clock, replay=replay, profile=profile)


def c14n(node: etree._Element) -> bytes:
    return etree.tostring(node, method="c14n", exclusive=True, with_comments=False)


def test_our_verifier_accepts_it_and_reads_the_same_body(sign_bytes, ctx):
    signed = sign_bytes()
    assert signed.startswith(b"<?xml version='1.0' encoding='utf-8'?>\n<soap:Envelope")
    message = verify_envelope(signed, expected_role="shop", **ctx)
    assert echo_text(message.body) == "bonjour"
    # One Header with one Security header block, then the Body: the profile's shape.
    root = etree.fromstring(signed)
    assert [child.tag for child in root] == [ns.HEADER, ns.BODY]
    assert [block.tag for block in root[0]] == [ns.SECURITY]
    assert root[0][0].get(ns.MUST_UNDERSTAND) == "1"


def test_the_templates_are_the_canonical_forms_a_verifier_computes(sign_bytes, pki, clock):
    """The digested Timestamp and the signed SignedInfo are lxml's own c14n of the document's elements."""
    root = etree.fromstring(sign_bytes())
    security = root[0][0]
    timestamp, signed_info = security.find(ns.TIMESTAMP), security.find(f"{ns.SIGNATURE}/{ns.SIGNED_INFO}")
    layout = _layout(signed_info[1].get("Algorithm"), security.find(ns.BST).text, (("soap", ns.SOAP11),))
    unique = timestamp.get(ns.WSU_ID).removeprefix("TS-")
    values = {
        "ts_id": f"TS-{unique}", "created": timestamp[0].text, "expires": timestamp[1].text,
        "body_uri": f"#id-{unique}", "ts_uri": f"#TS-{unique}",
        "body_digest": signed_info[2][2].text, "ts_digest": signed_info[3][2].text,
    }
    assert layout.timestamp.format_map(values).encode() == c14n(timestamp)
    assert layout.signed_info.format_map(values).encode() == c14n(signed_info)


def test_the_body_is_written_as_its_canonical_form(sign_bytes):
    root = etree.fromstring(sign_bytes())
    body = root[1]
    assert body.get(ns.WSU_ID, "").startswith("id-")
    original = etree.fromstring(ECHO_BODY)[0]
    original.set(ns.WSU_ID, body.get(ns.WSU_ID))
    assert c14n(body) == c14n(original)


def test_tampering_with_the_body_is_noticed(sign_bytes, ctx):
    with pytest.raises(SecurityError) as info:
        verify_envelope(sign_bytes().replace(b"bonjour", b"bonsoir"), **ctx)
    assert info.value.code is ErrorCode.SECURITY_BAD_SIGNATURE


@pytest.mark.parametrize("body", [
    # A Header of the application's own: signed by sign_envelope, in place.
    b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Header><h xmlns="urn:x"/></soap:Header>'
    b'<soap:Body><e:Echo xmlns:e="urn:mts:test:echo"><e:text>bonjour</e:text></e:Echo></soap:Body></soap:Envelope>',
    # A Body id that would need escaping in a template.
    b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:wsu="' + ns.WSU.encode() + b'">'
    b'<soap:Body wsu:Id="a&amp;b"><e:Echo xmlns:e="urn:mts:test:echo"><e:text>bonjour</e:text></e:Echo></soap:Body>'
    b"</soap:Envelope>",
    # Attributes on the Envelope (xml:lang is inherited by the Body's content).
    b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xml:lang="fr">'
    b'<soap:Body><e:Echo xmlns:e="urn:mts:test:echo"><e:text>bonjour</e:text></e:Echo></soap:Body></soap:Envelope>',
    # A default namespace in scope: declared on the Envelope of a template it would capture
    # the unqualified children of the Body, for which exclusive c14n writes no xmlns="".
    b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns="urn:app"><s:Body>'
    b'<e:Echo xmlns:e="urn:mts:test:echo"><e:text>bonjour</e:text><note xmlns="">x</note></e:Echo></s:Body>'
    b"</s:Envelope>",
])
def test_other_envelopes_are_signed_in_place_as_before(body, pki, clock, ctx):
    key, cert = pki.key("shop"), pki.cert("shop")
    signed = sign_envelope_bytes(etree.fromstring(body), key=key, cert=cert, clock=clock)
    assert echo_text(verify_envelope(signed, **ctx).body) == "bonjour"
    tree = etree.fromstring(body)
    sign_envelope(tree, key=key, cert=cert, clock=clock)
    # The same shape as sign_envelope's (ids and signature values differ per call).
    answered = etree.fromstring(signed)
    assert [e.tag for e in answered.iter()] == [e.tag for e in tree.iter()]
    assert answered.attrib == tree.attrib


def test_a_body_id_of_our_own_kind_is_kept(pki, clock, ctx):
    tree = etree.fromstring(ECHO_BODY)
    tree[0].set(ns.WSU_ID, "id-given.1")
    signed = sign_envelope_bytes(tree, key=pki.key("shop"), cert=pki.cert("shop"), clock=clock)
    assert etree.fromstring(signed)[1].get(ns.WSU_ID) == "id-given.1"
    verify_envelope(signed, **ctx)


def test_not_an_envelope_is_refused(pki, clock):
    with pytest.raises(ValueError):
        sign_envelope_bytes(etree.fromstring(b"<x/>"), key=pki.key("shop"), cert=pki.cert("shop"), clock=clock)


texts = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=40)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=texts, attribute=texts)
def test_any_body_content_verifies(text, attribute, pki, clock, trust, profile):
    """Markup characters, quotes, non-ASCII: the Body's c14n escapes what it must, and the
    signed document still verifies and reads back the same text."""
    from mts_service.wssec.replay import InMemoryReplayCache

    envelope = etree.fromstring(ECHO_BODY)
    node = envelope[0][0][0]
    node.text = text
    node.set("note", attribute)
    signed = sign_envelope_bytes(envelope, key=pki.key("shop"), cert=pki.cert("shop"), clock=clock)
    message = verify_envelope(signed, trust=trust, clock=clock, replay=InMemoryReplayCache(clock=clock), profile=profile)
    assert echo_text(message.body) == text
    assert message.body[0][0].get("note") == attribute


def test_zeep_stock_verify_accepts_it(sign_bytes, pki):
    pytest.importorskip("xmlsec")  # zeep's verifier is python-xmlsec
    from cryptography.hazmat.primitives.serialization import Encoding
    from zeep.wsse.signature import _make_verify_key, _verify_envelope_with_key

    cert_pem = pki.cert("shop").public_bytes(Encoding.PEM)
    _verify_envelope_with_key(etree.fromstring(sign_bytes()), _make_verify_key(cert_pem))


@pytest.mark.skipif(XMLSEC1 is None, reason="Debian's xmlsec1 binary is not installed (apt-get install xmlsec1)")
def test_xmlsec1_verifies_it_and_notices_tampering(sign_bytes, pki, tmp_path):
    from cryptography.hazmat.primitives.serialization import Encoding

    cert_file = tmp_path / "server.pem"
    cert_file.write_bytes(pki.cert("server").public_bytes(Encoding.PEM))
    signed = sign_bytes(role="server")
    document = tmp_path / "response.xml"
    for content, ok in ((signed, True), (signed.replace(b"bonjour", b"bonsoir"), False)):
        document.write_bytes(content)
        result = subprocess.run([XMLSEC1, "--verify", "--pubkey-cert-pem", str(cert_file), *ID_ATTRS, str(document)],
                                capture_output=True, text=True, timeout=60)
        assert (result.returncode == 0) is ok, result.stderr


@pytest.mark.parametrize("body", [
    # A QName in text whose prefix only the Envelope declares (a fault code, say).
    b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:q="urn:codes">'
    b"<s:Body><s:Fault><faultcode>q:Client</faultcode><faultstring>no</faultstring></s:Fault></s:Body></s:Envelope>",
    # A QName in an attribute value (xsi:type) whose prefix only the Envelope declares.
    b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:t="urn:types" '
    b'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
    b'<s:Body><e:Echo xmlns:e="urn:mts:test:echo"><e:text xsi:type="t:Text">bonjour</e:text></e:Echo></s:Body>'
    b"</s:Envelope>",
    # The SOAP namespace as the Body's own default namespace.
    b'<Envelope xmlns="http://schemas.xmlsoap.org/soap/envelope/"><Body>'
    b'<e:Echo xmlns:e="urn:mts:test:echo"><e:text>bonjour</e:text></e:Echo></Body></Envelope>',
])
def test_prefixes_in_scope_at_the_body_stay_in_scope(body, pki, clock, ctx):
    signed = sign_envelope_bytes(etree.fromstring(body), key=pki.key("shop"), cert=pki.cert("shop"), clock=clock)
    verify_envelope(signed, **ctx)
    original, answered = etree.fromstring(body)[-1], etree.fromstring(signed)[-1]
    for before, after in zip(original.iter(), answered.iter()):
        assert after.tag == before.tag
        assert {p: u for p, u in after.nsmap.items() if p in before.nsmap} == before.nsmap
