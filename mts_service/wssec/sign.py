"""sign_envelope: add a WS-Security header signed per the MTS profile.

Before::

    <soap:Envelope><soap:Header/>?<soap:Body>…</soap:Body></soap:Envelope>

After (prefixes illustrative)::

    <soap:Envelope>
      <soap:Header>
        <wsse:Security soap:mustUnderstand="1">
          <wsu:Timestamp wsu:Id="TS-…"><wsu:Created>…Z</wsu:Created><wsu:Expires>…Z</wsu:Expires></wsu:Timestamp>
          <wsse:BinarySecurityToken wsu:Id="X509-…" ValueType="…#X509v3" EncodingType="…#Base64Binary">MII…</wsse:BinarySecurityToken>
          <ds:Signature>
            <ds:SignedInfo>
              <ds:CanonicalizationMethod Algorithm="…xml-exc-c14n#"/>
              <ds:SignatureMethod Algorithm="…#rsa-sha256 | …#ecdsa-sha256"/>
              <ds:Reference URI="#id-…"> exc-c14n Transform, SHA-256 </ds:Reference>   (Body)
              <ds:Reference URI="#TS-…"> exc-c14n Transform, SHA-256 </ds:Reference>   (Timestamp)
            </ds:SignedInfo>
            <ds:SignatureValue>…</ds:SignatureValue>
            <ds:KeyInfo><wsse:SecurityTokenReference><wsse:Reference URI="#X509-…" ValueType="…#X509v3"/></…></ds:KeyInfo>
          </ds:Signature>
        </wsse:Security>
      </soap:Header>
      <soap:Body wsu:Id="id-…">…</soap:Body>
    </soap:Envelope>

This is what WSS4J, xmlsec1 and zeep (python-xmlsec) understand (WSSEC-NOTES 14).

Two entry points. ``sign_envelope`` signs a tree in place (the clients: zeep's plugin hands
a tree and wants it back). ``sign_envelope_bytes`` answers the signed document's bytes (the
server: the response is serialised right after): it serialises the Body once, as its
exclusive c14n (the digest's input and the Body's text in the document alike), and writes the
header from text templates that lxml produced once, filling in values that never need
escaping (ids, times, base64). See ``_Layout``.

The digests and the signature are computed here, on the envelope being signed: each
Reference digest is SHA-256 over lxml's exclusive c14n of the Body and the Timestamp in
place, SignedInfo is canonicalised the same way and signed with ``cryptography`` (RSA
PKCS#1 v1.5, or ECDSA turned into XML-DSig's raw r‖s). signxml's detached signer did the
same work with a new signer object per call, a copy of the document and several
serialise/re-parse round trips (about 2 ms of Python per response beside a 0.7 ms RSA
private-key operation). Interop is checked by the tests: xmlsec1 and zeep + python-xmlsec
verify what this module signs.
"""

from __future__ import annotations

import base64
import copy
import functools
import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Union

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree

from mts_service.clock import Clock
from mts_service.wssec import ns
from mts_service.wssec.profile import DEFAULT_PROFILE, SecurityProfile
from mts_service.wssec.timestamps import format_timestamp

SigningKey = Union[rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey]


def id_token() -> str:
    """The random part of a response's wsu:Id values (one per response)."""
    return secrets.token_hex(16)


# The signature method of a key class (an isinstance against cryptography's abstract
# classes costs a few microseconds a call; the server signs with one key).
_METHODS: dict[type, str] = {}
_ECDSA_SHA256 = ec.ECDSA(hashes.SHA256())   # immutable parameters, shared by every signature


def _signature_method(key: SigningKey) -> str:
    method = _METHODS.get(type(key))
    if method is not None:
        return method
    if isinstance(key, rsa.RSAPrivateKey):
        method = ns.RSA_SHA256
    elif isinstance(key, ec.EllipticCurvePrivateKey):
        method = ns.ECDSA_SHA256
    else:
        raise TypeError("signing key must be an RSA or EC private key")
    _METHODS[type(key)] = method
    return method


def _c14n(node: etree._Element) -> bytes:
    return etree.tostring(node, method="c14n", exclusive=True, with_comments=False)


def _b64_digest(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode("ascii")


def _digest(node: etree._Element) -> str:
    return _b64_digest(_c14n(node))


def _signature_value(key: SigningKey, method: str, data: bytes) -> bytes:
    """The SignatureValue of ``data`` by ``key``, for its ``_signature_method``."""
    if method == ns.RSA_SHA256:
        return key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    der = key.sign(data, _ECDSA_SHA256)
    r, s = decode_dss_signature(der)
    size = (key.curve.key_size + 7) // 8
    return r.to_bytes(size, "big") + s.to_bytes(size, "big")  # XML-DSig: raw r‖s


# DER and base64 of our own certificate, once per certificate object (the server signs
# every response with the same one).
_TOKEN_TEXT: dict[int, tuple[x509.Certificate, str]] = {}


def _token_text(cert: x509.Certificate) -> str:
    found = _TOKEN_TEXT.get(id(cert))
    if found is None or found[0] is not cert:
        found = (cert, base64.b64encode(cert.public_bytes(Encoding.DER)).decode("ascii"))
        if len(_TOKEN_TEXT) > 64:
            _TOKEN_TEXT.clear()
        _TOKEN_TEXT[id(cert)] = found
    return found[1]


@functools.lru_cache(maxsize=16)
def _security_template(method: str, token_text: str) -> etree._Element:
    """wsse:Security as every response carries it: Timestamp, the BinarySecurityToken (our
    certificate) and the ds:Signature skeleton with its KeyInfo. Ids, times, digests and the
    signature value are left empty. Built once per signature method and certificate, then
    deep-copied per response: building the ~20 elements one by one cost about 100 us."""
    security = etree.Element(ns.SECURITY, nsmap={"wsse": ns.WSSE, "wsu": ns.WSU})
    timestamp = etree.SubElement(security, ns.TIMESTAMP, {ns.WSU_ID: ""})
    etree.SubElement(timestamp, ns.CREATED)
    etree.SubElement(timestamp, ns.EXPIRES)
    bst = etree.SubElement(security, ns.BST, {ns.WSU_ID: "", "ValueType": ns.X509V3, "EncodingType": ns.BASE64_BINARY})
    bst.text = token_text
    # ds:Signature: SignedInfo with the Body and Timestamp References (exc-c14n, SHA-256; URI
    # and DigestValue empty), an empty SignatureValue, and KeyInfo pointing at the token.
    signature = etree.Element(ns.SIGNATURE, nsmap={"ds": ns.DS})
    signed_info = etree.SubElement(signature, ns.SIGNED_INFO)
    etree.SubElement(signed_info, ns.CANONICALIZATION_METHOD, Algorithm=ns.EXC_C14N)
    etree.SubElement(signed_info, ns.SIGNATURE_METHOD, Algorithm=method)
    for _ in ("Body", "Timestamp"):
        reference = etree.SubElement(signed_info, ns.DS_REFERENCE, URI="")
        transforms = etree.SubElement(reference, ns.TRANSFORMS)
        etree.SubElement(transforms, ns.TRANSFORM, Algorithm=ns.EXC_C14N)
        etree.SubElement(reference, ns.DIGEST_METHOD, Algorithm=ns.SHA256)
        etree.SubElement(reference, ns.DIGEST_VALUE)
    etree.SubElement(signature, ns.SIGNATURE_VALUE)
    key_info = etree.Element(ns.KEY_INFO, nsmap={"ds": ns.DS})
    token_ref = etree.SubElement(key_info, ns.STR, nsmap={"wsse": ns.WSSE})
    etree.SubElement(token_ref, ns.WSSE_REFERENCE, {"URI": "", "ValueType": ns.X509V3})
    signature.append(key_info)
    security.append(signature)
    return security


def _attach_security(
    header: etree._Element, method: str, token_text: str, *, ts_id: str, bst_id: str, created: str, expires: str
) -> tuple[etree._Element, etree._Element, etree._Element]:
    """A copy of the Security template appended to ``header``, mustUnderstand, with its ids
    and times set; returns its Timestamp, SignedInfo and SignatureValue, still to be filled.
    ``id_token()`` gives the random part of a response's ids: one value, the prefixes (TS-,
    X509-, id-) keep the three apart (one system call, not three)."""
    security = copy.deepcopy(_security_template(method, token_text))
    header.append(security)
    # After the append: the soap prefix of the Envelope is in scope (no declaration of its own).
    security.set(ns.MUST_UNDERSTAND, "1")
    timestamp, bst, signature = security
    signed_info, value, key_info = signature
    timestamp.set(ns.WSU_ID, ts_id)
    timestamp[0].text = created
    timestamp[1].text = expires
    bst.set(ns.WSU_ID, bst_id)
    key_info[0][0].set("URI", f"#{bst_id}")
    return timestamp, signed_info, value


def sign_envelope(
    envelope: etree._Element,
    *,
    key: SigningKey,
    cert: x509.Certificate,
    clock: Clock,
    profile: SecurityProfile = DEFAULT_PROFILE,
) -> etree._Element:
    """Sign a SOAP 1.1 envelope in place and return it.

    Adds (creating soap:Header if needed) one wsse:Security with mustUnderstand="1",
    a wsu:Timestamp valid for ``profile.response_timestamp_ttl``, the certificate as a
    BinarySecurityToken, and a ds:Signature over Body and Timestamp. The envelope must not
    already carry a wsse:Security header.
    """
    if envelope.tag != ns.ENVELOPE:
        raise ValueError(f"not a SOAP 1.1 Envelope: {envelope.tag}")
    # The first Body and Header children, as find() would give them (without its path machinery).
    body = header = None
    for position, child in enumerate(envelope):
        tag = child.tag
        if tag == ns.BODY and body is None:
            body, body_at = child, position
        elif tag == ns.HEADER and header is None:
            header = child
    if body is None:
        raise ValueError("envelope has no soap:Body")
    if header is None:
        header = etree.Element(ns.HEADER)
        envelope.insert(body_at, header)
    elif header.find(ns.SECURITY) is not None:
        raise ValueError("envelope already has a wsse:Security header")

    now = clock.now()
    method = _signature_method(key)
    unique = id_token()
    ts_id, bst_id = f"TS-{unique}", f"X509-{unique}"
    timestamp, signed_info, value = _attach_security(
        header, method, _token_text(cert), ts_id=ts_id, bst_id=bst_id,
        created=format_timestamp(now), expires=format_timestamp(now + profile.response_timestamp_ttl),
    )

    body_id = body.get(ns.WSU_ID)
    if not body_id:
        body_id = f"id-{unique}"
        body.set(ns.WSU_ID, body_id)

    # Digests over the Body and the Timestamp where they stand (exclusive c14n depends only
    # on the namespaces they use), then the signature over the canonical SignedInfo.
    for reference, (uri, node) in zip(signed_info[2:], ((f"#{body_id}", body), (f"#{ts_id}", timestamp))):
        reference.set("URI", uri)
        reference[2].text = _digest(node)
    value.text = base64.b64encode(_signature_value(key, method, _c14n(signed_info))).decode("ascii")
    return envelope


# -- the server's path: the signed document as bytes -----------------------------------

# A Body id that is not ours is put into templates only if it needs no escaping anywhere.
_PLAIN_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")
_FIELDS = ("ts_id", "created", "expires", "bst_id", "body_uri", "ts_uri", "body_digest", "ts_digest", "signature")


@dataclass(frozen=True)
class _Layout:
    """The text of a signed response around the values that change per response.

    Made once per signature method, certificate and set of namespaces in scope at the
    Body, by lxml itself: the Security header is built as ``sign_envelope`` builds it, with
    a marker in place of each value, then serialised (``head``: the XML declaration, the
    Envelope's start tag and the whole soap:Header) and canonicalised (``timestamp``,
    ``signed_info``: exactly the bytes a verifier digests and checks, since exclusive c14n
    of an element depends only on its own subtree and the namespaces it uses). Each marker
    becomes a ``str.format`` field. Every value filled in is hex, a timestamp or base64:
    text that neither serialisation nor c14n escapes, so filling a template gives the bytes
    lxml would have produced.
    """

    head: str
    timestamp: str
    signed_info: str
    tail: bytes


def _marker(name: str) -> str:
    return f"@@{name}@@"


def _as_format(text: str) -> str:
    text = text.replace("{", "{{").replace("}", "}}")
    for name in _FIELDS:
        text = text.replace(_marker(name), "{" + name + "}")
    return text


@functools.lru_cache(maxsize=64)
def _layout(method: str, token_text: str, in_scope: tuple[tuple[str, str], ...]) -> _Layout:
    """``in_scope``: the namespace declarations in scope at the Body, which the Envelope
    declares again. The Body's c14n declares only the prefixes its element and attribute
    names use; a QName in text or in an attribute value (``<faultcode>soap:Client``,
    ``xsi:type="tns:T"``) may use one that only an ancestor declared, and must still
    resolve."""
    envelope = etree.Element(ns.ENVELOPE, nsmap=dict(in_scope))
    timestamp, signed_info, value = _attach_security(
        etree.SubElement(envelope, ns.HEADER), method, token_text, ts_id=_marker("ts_id"),
        bst_id=_marker("bst_id"), created=_marker("created"), expires=_marker("expires"),
    )
    for reference, part in zip(signed_info[2:], ("body", "ts")):
        reference.set("URI", _marker(f"{part}_uri"))
        reference[2].text = _marker(f"{part}_digest")
    value.text = _marker("signature")
    document = etree.tostring(envelope, xml_declaration=True, encoding="utf-8").decode("utf-8")
    end = document[document.rindex("</"):]
    if not end.endswith(":Envelope>"):
        raise AssertionError(f"unexpected serialisation of the response template: {document[-80:]!r}")
    return _Layout(
        head=_as_format(document[: -len(end)]),
        timestamp=_as_format(_c14n(timestamp).decode("utf-8")),
        signed_info=_as_format(_c14n(signed_info).decode("utf-8")),
        tail=end.encode("ascii"),
    )


def sign_envelope_bytes(
    envelope: etree._Element,
    *,
    key: SigningKey,
    cert: x509.Certificate,
    clock: Clock,
    profile: SecurityProfile = DEFAULT_PROFILE,
) -> bytes:
    """The signed document of a SOAP 1.1 envelope, as bytes (UTF-8, with an XML declaration).

    The same profile as ``sign_envelope``: one wsse:Security header, mustUnderstand, a
    Timestamp, our token, a signature over Body and Timestamp. The Body is written as its
    exclusive c14n, the very bytes its digest covers (an equivalent serialisation: the
    namespaces it uses are declared on it, empty elements are written as start and end
    tags). The envelope's Body may get a wsu:Id; nothing else in the tree changes. Signed
    by ``sign_envelope`` and serialised as before, because a template could not say the
    same: an envelope that holds anything but one soap:Body (a Header of its own, say) or
    carries attributes (``xml:lang`` is inherited by the Body's content), a default
    namespace in scope at the Body (declared again on the Envelope it would capture the
    Body's unqualified children, for which exclusive c14n writes no ``xmlns=""``), a Body
    id that is not plain text.
    """
    if envelope.tag != ns.ENVELOPE:
        raise ValueError(f"not a SOAP 1.1 Envelope: {envelope.tag}")
    body = envelope[0] if len(envelope) == 1 and not envelope.attrib else None
    body_id = body.get(ns.WSU_ID) if body is not None else None
    in_scope = body.nsmap if body is not None else {}
    if (
        body is None or body.tag != ns.BODY or None in in_scope
        or (body_id is not None and not _PLAIN_ID.fullmatch(body_id))
    ):
        sign_envelope(envelope, key=key, cert=cert, clock=clock, profile=profile)
        return etree.tostring(envelope, xml_declaration=True, encoding="utf-8")

    now = clock.now()
    method = _signature_method(key)
    layout = _layout(method, _token_text(cert), tuple(sorted(in_scope.items())))
    unique = id_token()
    ts_id = f"TS-{unique}"
    if body_id is None:
        body_id = f"id-{unique}"
        body.set(ns.WSU_ID, body_id)
    body_c14n = _c14n(body)
    values = {
        "ts_id": ts_id,
        "created": format_timestamp(now),
        "expires": format_timestamp(now + profile.response_timestamp_ttl),
        "bst_id": f"X509-{unique}",
        "body_uri": f"#{body_id}",
        "ts_uri": f"#{ts_id}",
        "body_digest": _b64_digest(body_c14n),
    }
    values["ts_digest"] = _b64_digest(layout.timestamp.format_map(values).encode("ascii"))
    signed_info = layout.signed_info.format_map(values).encode("ascii")
    values["signature"] = base64.b64encode(_signature_value(key, method, signed_info)).decode("ascii")
    return b"".join((layout.head.format_map(values).encode("utf-8"), body_c14n, layout.tail))
