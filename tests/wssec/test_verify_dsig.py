"""The hand-written XML-DSig path of verify_envelope, edge by edge.

verify.py computes the Reference digests and checks the SignatureValue itself (lxml
exclusive c14n + ``cryptography``), so each check signxml used to make for us has a test
here that fails if the check breaks: signature value sizes and ranges, base64 as peers
wrap it, comments and processing instructions (exc-c14n is WITHOUT comments), WSS4J's
InclusiveNamespaces PrefixList, Reference URIs, algorithm swaps after signing, and key
type / SignatureMethod mismatches. Edits that change SignedInfo are re-signed with the
right key (``resign_signed_info``), so the edit itself is what must be refused.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree

from wssec_helpers import START, echo_text
from mts_service.errors import ErrorCode, SecurityError
from mts_service.pki import private_key_pem
from mts_service.wssec import ns
from mts_service.wssec.timestamps import format_timestamp
from mts_service.wssec.verify import verify_envelope
from wssec_helpers import N, b64, body_id, dump, find, parse, redigest, resign_signed_info, rewrap_base64

SEC = "soap:Header/wsse:Security"
SIG = SEC + "/ds:Signature"
SI = SIG + "/ds:SignedInfo"
P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


@pytest.fixture
def ctx(trust, clock, replay, profile):
    return dict(trust=trust, clock=clock, replay=replay, profile=profile)


def refused(raw: bytes, code: ErrorCode, ctx: dict) -> SecurityError:
    with pytest.raises(SecurityError) as info:
        verify_envelope(raw, expected_role="shop", **ctx)
    assert info.value.code is code, info.value.message
    assert len(ctx["replay"]) == 0, "a refused message must not enter the replay cache"
    return info.value


def accepted(raw: bytes, ctx: dict):  # type: ignore[no-untyped-def]
    message = verify_envelope(raw, expected_role="shop", **ctx)
    assert echo_text(message.body) == "bonjour"
    return message


def with_signature_value(raw: bytes, value: bytes | str) -> bytes:
    root = parse(raw)
    find(root, SIG + "/ds:SignatureValue").text = value if isinstance(value, str) else b64(value)
    return dump(root)


def signature_bytes(raw: bytes) -> bytes:
    return base64.b64decode(find(parse(raw), SIG + "/ds:SignatureValue").text)


def only(pki, key_type: str) -> None:  # type: ignore[no-untyped-def]
    if pki.key_type != key_type:
        pytest.skip(f"{key_type} keys only")


# --- SignatureValue sizes and ranges -------------------------------------------------------


@pytest.mark.parametrize(
    "change",
    [
        lambda v: v[:-1],
        lambda v: v + b"\x00",
        lambda v: b"\x00" + v,
        lambda v: v[:32],
        lambda v: b"",
        lambda v: v + v,
    ],
    ids=["one-short", "one-long-trailing", "one-long-leading-zero", "half", "empty", "doubled"],
)
def test_ecdsa_signature_of_the_wrong_length_is_refused(sign, ctx, pki, change):
    only(pki, "ec")
    raw = sign("shop")
    err = refused(with_signature_value(raw, change(signature_bytes(raw))), ErrorCode.SECURITY_BAD_SIGNATURE, ctx)
    assert "SignatureValue" in err.message


@pytest.mark.parametrize(
    "r, s",
    [
        (0, 1), (1, 0), (0, 0),
        (P256_N, 1), (1, P256_N),
        (P256_N + 1, 1), (2**256 - 1, 2**256 - 1),
    ],
    ids=["r-zero", "s-zero", "both-zero", "r-eq-n", "s-eq-n", "r-above-n", "all-ones"],
)
def test_ecdsa_r_or_s_out_of_range_is_refused(sign, ctx, pki, r, s):
    only(pki, "ec")
    value = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    refused(with_signature_value(sign("shop"), value), ErrorCode.SECURITY_BAD_SIGNATURE, ctx)


def test_ecdsa_r_and_s_swapped_or_r_plus_n_are_refused(sign, ctx, pki):
    only(pki, "ec")
    raw = sign("shop")
    value = signature_bytes(raw)
    r, s = int.from_bytes(value[:32], "big"), int.from_bytes(value[32:], "big")
    refused(with_signature_value(raw, value[32:] + value[:32]), ErrorCode.SECURITY_BAD_SIGNATURE, ctx)
    if r + P256_N < 2**256:  # r + n still fits in 32 bytes: a valid residue, an invalid encoding
        refused(
            with_signature_value(raw, (r + P256_N).to_bytes(32, "big") + s.to_bytes(32, "big")),
            ErrorCode.SECURITY_BAD_SIGNATURE, ctx,
        )


@pytest.mark.parametrize(
    "change",
    [
        lambda v: v[:-1],
        lambda v: v[1:],
        lambda v: v + b"\x00",
        lambda v: b"\x00" + v,
        lambda v: b"",
        lambda v: v[:64],
    ],
    ids=["one-short", "first-byte-dropped", "one-long-trailing", "one-long-leading-zero", "empty", "ecdsa-sized"],
)
def test_rsa_signature_of_the_wrong_length_is_refused(sign, ctx, pki, change):
    only(pki, "rsa")
    raw = sign("shop")
    assert len(signature_bytes(raw)) == 256
    refused(with_signature_value(raw, change(signature_bytes(raw))), ErrorCode.SECURITY_BAD_SIGNATURE, ctx)


# --- base64 as peers write it (WSSEC-NOTES 16) ---------------------------------------------

WRAPPINGS = [
    ("padded-spaces", lambda t: "  " + t + "  "),
    ("padded-newlines", lambda t: "\n" + t + "\n"),
    ("lf-64", lambda t: rewrap_base64(t, 64, "\n")),
    ("crlf-76", lambda t: rewrap_base64(t, 76, "\r\n")),
    ("tabs", lambda t: rewrap_base64(t, 20, "\t")),
]
NOT_BASE64 = [
    ("bang", lambda t: "!" + t[1:]),
    ("inner-garbage", lambda t: t[:10] + "*" + t[10:]),
    ("padding-dropped", lambda t: t.rstrip("=") if t.endswith("=") else t[:-1]),
    ("url-safe-alphabet", lambda t: t.replace("+", "-").replace("/", "_") if ("+" in t or "/" in t) else "-" + t[1:]),
    ("not-base64-at-all", lambda t: "this is not base64"),
    ("empty", lambda t: ""),
]


@pytest.mark.parametrize("wrap", [w for _, w in WRAPPINGS], ids=[n for n, _ in WRAPPINGS])
def test_wrapped_signature_value_is_accepted(sign, ctx, wrap):
    root = parse(sign("shop"))
    value = find(root, SIG + "/ds:SignatureValue")
    value.text = wrap(value.text)
    accepted(dump(root), ctx)


def test_crlf_wrapping_survives_the_wire_as_char_references(sign, ctx):
    root = parse(sign("shop"))
    value = find(root, SIG + "/ds:SignatureValue")
    value.text = rewrap_base64(value.text, 76, "\r\n")
    raw = dump(root)
    assert b"&#13;" in raw  # what WSS4J with the JDK provider sends
    accepted(raw, ctx)


@pytest.mark.parametrize("garble", [g for _, g in NOT_BASE64], ids=[n for n, _ in NOT_BASE64])
def test_signature_value_that_is_not_base64_is_refused(sign, ctx, garble):
    root = parse(sign("shop"))
    value = find(root, SIG + "/ds:SignatureValue")
    value.text = garble(value.text)
    refused(dump(root), ErrorCode.SECURITY_BAD_SIGNATURE, ctx)


@pytest.mark.parametrize("wrap", [w for _, w in WRAPPINGS], ids=[n for n, _ in WRAPPINGS])
def test_wrapped_digest_value_is_accepted(sign, ctx, pki, wrap):
    root = parse(sign("shop"))
    for digest in root.iterfind(SI + "/ds:Reference/ds:DigestValue", N):
        digest.text = wrap(digest.text)
    accepted(dump(resign_signed_info(root, pki.key("shop"))), ctx)


@pytest.mark.parametrize("garble", [g for _, g in NOT_BASE64], ids=[n for n, _ in NOT_BASE64])
def test_digest_value_that_is_not_base64_is_refused(sign, ctx, pki, garble):
    root = parse(sign("shop"))
    digest = find(root, SI + "/ds:Reference/ds:DigestValue")
    digest.text = garble(digest.text)
    refused(dump(resign_signed_info(root, pki.key("shop"))), ErrorCode.SECURITY_BAD_SIGNATURE, ctx)


# --- comments and processing instructions (exclusive c14n WITHOUT comments) ------------------


def test_digest_is_exc_c14n_without_comments(sign, pki, ctx):
    """A Body signed with a comment in it: the digest the signer wrote is over the
    comment-free canonical form, and the verifier computes the same one."""
    body = (
        b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
        b'<e:Echo xmlns:e="urn:mts:test:echo"><!-- a note --><e:text>bon<!-- x -->jour</e:text></e:Echo>'
        b"</soap:Body></soap:Envelope>"
    )
    raw = sign("shop", body)
    root = parse(raw)
    signed_body = find(root, "soap:Body")
    without = etree.tostring(signed_body, method="c14n", exclusive=True, with_comments=False)
    with_comments = etree.tostring(signed_body, method="c14n", exclusive=True, with_comments=True)
    assert without != with_comments
    ref = root.xpath("//ds:Reference[@URI=$u]/ds:DigestValue", namespaces=N, u="#" + body_id(root))[0]
    assert base64.b64decode(ref.text) == hashlib.sha256(without).digest()
    message = accepted(raw, ctx)
    assert message.body_c14n == without


@pytest.mark.parametrize(
    "where, old, new",
    [
        ("inside-created", b"Z</wsu:Created>", b"<!-- c -->Z</wsu:Created>"),
        ("splitting-created", b".000Z</wsu:Created>", b"<!-- c -->.000Z</wsu:Created>"),
        ("inside-expires", b"Z</wsu:Expires>", b"<!--c-->Z</wsu:Expires>"),
        ("inside-body-text", b"bonjour", b"bon<!-- injected -->jour"),
        ("between-body-elements", b"<e:text>", b"<!-- c --><e:text>"),
        ("before-operation", b"<e:Echo", b"<!-- c --><e:Echo"),
        ("inside-signature-value", b"</ds:SignatureValue>", b"<!-- c --></ds:SignatureValue>"),
        ("inside-digest-value", b"=</ds:DigestValue>", b"<!--c-->=</ds:DigestValue>"),
        ("inside-signed-info", b"<ds:SignatureMethod", b"<!-- c --><ds:SignatureMethod"),
    ],
)
def test_comment_inserted_after_signing_neither_breaks_nor_bypasses(sign, ctx, where, old, new):
    raw = sign("shop")
    assert old in raw, where
    message = accepted(raw.replace(old, new, 1), ctx)
    # What the application and the freshness check see is the signed, comment-free content.
    assert message.created == START
    assert b"<!--" not in message.body_c14n
    assert b"<!--" not in etree.tostring(message.body)


def test_comment_cannot_smuggle_a_different_timestamp(sign, ctx, clock):
    """Text hidden in a comment is not part of what was signed, and is not read either."""
    raw = sign("shop").replace(
        b"Z</wsu:Created>", b"Z<!--" + format_timestamp(START + timedelta(days=1)).encode() + b"--></wsu:Created>", 1
    )
    assert accepted(raw, ctx).created == START


@pytest.mark.parametrize(
    "old, new",
    [
        (b"Z</wsu:Created>", b"<?evil x?>Z</wsu:Created>"),
        (b"bonjour", b"bon<?evil x?>jour"),
        (b"<e:text>", b"<?evil x?><e:text>"),
        (b"</ds:SignatureValue>", b"<?evil x?></ds:SignatureValue>"),
    ],
    ids=["in-created", "in-body-text", "in-body", "in-signature-value"],
)
def test_processing_instruction_anywhere_is_refused(sign, ctx, old, new):
    raw = sign("shop")
    assert old in raw
    refused(raw.replace(old, new, 1), ErrorCode.XML_FORBIDDEN, ctx)


def test_with_comments_transform_is_refused(sign, ctx, pki):
    root = parse(sign("shop"))
    for transform in root.iterfind(SI + "/ds:Reference/ds:Transforms/ds:Transform", N):
        transform.set("Algorithm", ns.EXC_C14N_WITH_COMMENTS)
    refused(dump(resign_signed_info(root, pki.key("shop"))), ErrorCode.SECURITY_ALGORITHM, ctx)


# --- InclusiveNamespaces PrefixList (WSS4J) ------------------------------------------------

xmlsec = pytest.importorskip("xmlsec")

WSS4J_TEMPLATE = """<soapenv:Envelope xmlns:soapenv="{soap}" xmlns:tns="urn:mts:test:echo" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:extra="urn:extra"><soapenv:Header><wsse:Security xmlns:wsse="{wsse}" xmlns:wsu="{wsu}" soapenv:mustUnderstand="1"><wsu:Timestamp wsu:Id="TS-{hex}"><wsu:Created>{created}</wsu:Created><wsu:Expires>{expires}</wsu:Expires></wsu:Timestamp><wsse:BinarySecurityToken EncodingType="{b64}" ValueType="{x509}" wsu:Id="X509-{hex}">{token}</wsse:BinarySecurityToken><ds:Signature xmlns:ds="{ds}" Id="SIG-{hex}"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="{c14n}"><ec:InclusiveNamespaces xmlns:ec="{c14n}" PrefixList="{si_prefixes}"/></ds:CanonicalizationMethod><ds:SignatureMethod Algorithm="{method}"/><ds:Reference URI="#id-{hex}"><ds:Transforms><ds:Transform Algorithm="{c14n}"><ec:InclusiveNamespaces xmlns:ec="{c14n}" PrefixList="{body_prefixes}"/></ds:Transform></ds:Transforms><ds:DigestMethod Algorithm="{sha256}"/><ds:DigestValue/></ds:Reference><ds:Reference URI="#TS-{hex}"><ds:Transforms><ds:Transform Algorithm="{c14n}"><ec:InclusiveNamespaces xmlns:ec="{c14n}" PrefixList="wsse soapenv tns"/></ds:Transform></ds:Transforms><ds:DigestMethod Algorithm="{sha256}"/><ds:DigestValue/></ds:Reference></ds:SignedInfo><ds:SignatureValue/><ds:KeyInfo Id="KI-{hex}"><wsse:SecurityTokenReference wsu:Id="STR-{hex}"><wsse:Reference URI="#X509-{hex}" ValueType="{x509}"/></wsse:SecurityTokenReference></ds:KeyInfo></ds:Signature></wsse:Security></soapenv:Header><soapenv:Body xmlns:wsu="{wsu}" wsu:Id="id-{hex}"><tns:Echo><tns:text xsi:type="extra:Greeting">bonjour</tns:text></tns:Echo></soapenv:Body></soapenv:Envelope>"""


def xmlsec_signed(pki, *, si_prefixes: str = "soapenv tns", body_prefixes: str = "tns extra", hex_id: str = "a1") -> bytes:  # type: ignore[no-untyped-def]
    """A WSS4J-shaped request (PrefixLists on SignedInfo and every Reference, Id on Signature
    and KeyInfo, wsu declared on the Body) signed by python-xmlsec (libxmlsec1), not by us."""
    key = pki.key("shop")
    method = ns.RSA_SHA256 if isinstance(key, rsa.RSAPrivateKey) else ns.ECDSA_SHA256
    text = WSS4J_TEMPLATE.format(
        soap=ns.SOAP11, wsse=ns.WSSE, wsu=ns.WSU, ds=ns.DS, x509=ns.X509V3, b64=ns.BASE64_BINARY, c14n=ns.EXC_C14N,
        sha256=ns.SHA256, method=method, hex=hex_id, si_prefixes=si_prefixes, body_prefixes=body_prefixes,
        created=format_timestamp(START), expires=format_timestamp(START + timedelta(minutes=5)),
        token=base64.b64encode(pki.cert("shop").public_bytes(Encoding.DER)).decode(),
    )
    root = etree.fromstring(text.encode())
    context = xmlsec.SignatureContext()
    for node in root.xpath("//*[@wsu:Id]", namespaces=N):
        context.register_id(node, "Id", ns.WSU)
    context.key = xmlsec.Key.from_memory(private_key_pem(key), xmlsec.KeyFormat.PEM)
    context.sign(root.find(f".//{ns.SIGNATURE}"))
    return etree.tostring(root)


def test_wss4j_style_prefix_lists_are_honoured(pki, ctx):
    message = accepted(xmlsec_signed(pki), ctx)
    # The PrefixList "tns extra" put xmlns:extra (used only inside an attribute value) into
    # the signed canonical Body, so the QName xsi:type="extra:Greeting" still resolves.
    assert b'xmlns:extra="urn:extra"' in message.body_c14n


def test_prefix_list_really_changes_the_digest(pki, ctx):
    """Dropping the Body Transform's PrefixList (SignedInfo re-signed) must break the digest:
    the verifier canonicalises with the list the signer named, not without it."""
    root = parse(xmlsec_signed(pki))
    transform = root.xpath("//ds:Reference[1]/ds:Transforms/ds:Transform", namespaces=N)[0]
    transform.remove(transform[0])
    err = refused(dump(resign_signed_info(root, pki.key("shop"))), ErrorCode.SECURITY_BAD_SIGNATURE, ctx)
    assert "digest mismatch for reference 0" in err.message


def test_signed_info_prefix_list_is_used_for_the_signature(pki, ctx):
    """Re-declaring the SignedInfo PrefixList to another value without re-signing breaks it."""
    root = parse(xmlsec_signed(pki, si_prefixes="soapenv tns xsi"))
    inclusive = root.xpath("//ds:SignedInfo/ds:CanonicalizationMethod/*", namespaces=N)[0]
    inclusive.set("PrefixList", "soapenv tns")
    err = refused(dump(root), ErrorCode.SECURITY_BAD_SIGNATURE, ctx)
    assert "SignatureValue" in err.message


@pytest.mark.parametrize("si, body", [("", "tns extra"), ("#default soapenv", "#default tns extra"), ("soapenv", "")])
def test_prefix_list_variants_verify(pki, ctx, si, body):
    accepted(xmlsec_signed(pki, si_prefixes=si, body_prefixes=body), ctx)


def test_foreign_parameters_on_a_transform_are_refused(pki, ctx):
    root = parse(xmlsec_signed(pki))
    transform = root.xpath("//ds:Reference[1]/ds:Transforms/ds:Transform", namespaces=N)[0]
    etree.SubElement(transform, "{urn:evil}XPath").text = "/"
    refused(dump(resign_signed_info(root, pki.key("shop"))), ErrorCode.SECURITY_ALGORITHM, ctx)


# --- Reference URIs ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "change, code",
    [
        (lambda u: u.upper(), ErrorCode.SECURITY_UNSIGNED),
        (lambda u: "#" + u[1:].swapcase(), ErrorCode.SECURITY_UNSIGNED),
        (lambda u: " " + u, ErrorCode.SECURITY_BAD_SIGNATURE),
        (lambda u: u + " ", ErrorCode.SECURITY_UNSIGNED),
        (lambda u: u + "\n", ErrorCode.SECURITY_UNSIGNED),
        (lambda u: "#" + u, ErrorCode.SECURITY_UNSIGNED),
        (lambda u: "#xpointer(id('" + u[1:] + "'))", ErrorCode.SECURITY_UNSIGNED),
        (lambda u: "", ErrorCode.SECURITY_BAD_SIGNATURE),
    ],
    ids=["upper", "swapcase", "leading-space", "trailing-space", "trailing-newline", "double-hash", "xpointer", "empty"],
)
def test_body_reference_uri_must_match_exactly(sign, ctx, pki, change, code):
    root = parse(sign("shop"))
    uri = "#" + body_id(root)
    ref = root.xpath("//ds:Reference[@URI=$u]", namespaces=N, u=uri)[0]
    ref.set("URI", change(uri))
    refused(dump(resign_signed_info(root, pki.key("shop"))), code, ctx)


def test_body_id_with_extra_whitespace_does_not_match_its_reference(sign, ctx, pki):
    root = parse(sign("shop"))
    body = find(root, "soap:Body")
    body.set(ns.WSU_ID, body.get(ns.WSU_ID) + " ")
    refused(dump(root), ErrorCode.SECURITY_UNSIGNED, ctx)


# --- algorithms changed after signing ----------------------------------------------------


def test_signature_method_changed_after_signing_is_refused(sign, ctx, pki):
    other = ns.ECDSA_SHA256 if pki.key_type == "rsa" else ns.RSA_SHA256
    root = parse(sign("shop"))
    find(root, SI + "/ds:SignatureMethod").set("Algorithm", other)
    refused(dump(root), ErrorCode.SECURITY_BAD_SIGNATURE, ctx)


@pytest.mark.parametrize(
    "uri, digest, code",
    [
        (ns.SHA1, lambda b: hashlib.sha1(b).digest(), ErrorCode.SECURITY_ALGORITHM),
        ("http://www.w3.org/2001/04/xmlenc#sha512", lambda b: hashlib.sha512(b).digest(), ErrorCode.SECURITY_ALGORITHM),
        ("http://www.w3.org/2001/04/xmldsig-more#sha384", lambda b: hashlib.sha384(b).digest(), ErrorCode.SECURITY_ALGORITHM),
        ("http://www.w3.org/2000/09/xmldsig#md5", lambda b: hashlib.md5(b).digest(), ErrorCode.SECURITY_ALGORITHM),
        (ns.SHA256 + " ", lambda b: hashlib.sha256(b).digest(), ErrorCode.SECURITY_ALGORITHM),
    ],
    ids=["sha1", "sha512", "sha384", "md5", "sha256-trailing-space"],
)
@pytest.mark.parametrize("which", ["body", "timestamp"])
def test_other_digest_method_in_an_otherwise_valid_message_is_refused(sign, ctx, pki, uri, digest, code, which):
    root = parse(sign("shop"))
    refs = root.findall(SI + "/ds:Reference", N)
    ref = refs[0] if which == "body" else refs[1]
    find(ref, "ds:DigestMethod").set("Algorithm", uri)
    redigest(root, ref.get("URI"), digest)
    refused(dump(resign_signed_info(root, pki.key("shop"))), code, ctx)


# --- key type against SignatureMethod ----------------------------------------------------


def test_key_type_must_match_the_signature_method(sign, ctx, pki):
    """An EC token with rsa-sha256 (validly signed by the EC key), and vice versa."""
    root = parse(sign("shop"))
    wrong = ns.RSA_SHA256 if pki.key_type == "ec" else ns.ECDSA_SHA256
    find(root, SI + "/ds:SignatureMethod").set("Algorithm", wrong)
    err = refused(dump(resign_signed_info(root, pki.key("shop"))), ErrorCode.SECURITY_BAD_SIGNATURE, ctx)
    assert ("non-RSA key" if pki.key_type == "ec" else "non-EC key") in err.message


def test_ecdsa_value_under_rsa_method_with_the_rsa_token_is_refused(sign, ctx, pki, tmp_path):
    """A raw r‖s made by some EC key, named rsa-sha256, with the RSA token: refused."""
    only(pki, "rsa")
    root = parse(sign("shop"))
    other = ec.generate_private_key(ec.SECP256R1())
    from wssec_helpers import raw_signature

    signed_info = find(root, SI)
    value = raw_signature(other, etree.tostring(signed_info, method="c14n", exclusive=True))
    find(root, SIG + "/ds:SignatureValue").text = b64(value)
    refused(dump(root), ErrorCode.SECURITY_BAD_SIGNATURE, ctx)


def test_resigning_helper_is_faithful(sign, ctx, pki):
    """The tests above mean something only if re-signing an untouched SignedInfo verifies."""
    root = parse(sign("shop"))
    accepted(dump(resign_signed_info(root, pki.key("shop"))), ctx)
