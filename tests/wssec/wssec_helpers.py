"""Helpers to take signed messages apart and put them together again, as an attacker would."""

from __future__ import annotations

import base64
from typing import Callable

from cryptography.hazmat.primitives.asymmetric import ec
from lxml import etree
from signxml import CanonicalizationMethod, DigestAlgorithm, SignatureMethod, XMLSigner
from signxml.algorithms import SignatureConstructionMethod
from signxml.signer import SignatureReference

from mts_service.clock import FixedClock
from mts_service.wssec import ns

# Shared by conftest.py and the test modules. Test modules import them from here, not from
# ``conftest``: with tests/soap (or tests/e2e) in the same run, ``import conftest`` may
# resolve to another directory's conftest.
START = FixedClock().now()

ECHO_BODY = (
    b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">'
    b'<soap:Body><e:Echo xmlns:e="urn:mts:test:echo"><e:text>bonjour</e:text></e:Echo></soap:Body>'
    b"</soap:Envelope>"
)


def echo_text(body: etree._Element) -> str:
    return body.findtext("{urn:mts:test:echo}Echo/{urn:mts:test:echo}text") or ""


N = {
    "soap": ns.SOAP11,
    "wsse": ns.WSSE,
    "wsu": ns.WSU,
    "ds": ns.DS,
}


def parse(raw: bytes) -> etree._Element:
    return etree.fromstring(raw)


def dump(root: etree._Element) -> bytes:
    return etree.tostring(root)


def find(root: etree._Element, path: str) -> etree._Element:
    node = root.find(path, namespaces=N)
    assert node is not None, path
    return node


def mutate(raw: bytes, change: Callable[[etree._Element], object]) -> bytes:
    root = parse(raw)
    change(root)
    return dump(root)


def resign(root: etree._Element, key, uris: list[str], *, signature_method=None) -> etree._Element:  # type: ignore[no-untyped-def]
    """Replace the ds:Signature with a fresh one by ``key`` over ``uris`` (keeping KeyInfo)."""
    security = find(root, "soap:Header/wsse:Security")
    old = find(security, "ds:Signature")
    key_info = find(old, "ds:KeyInfo")
    security.remove(old)
    method = signature_method or (
        SignatureMethod.ECDSA_SHA256 if isinstance(key, ec.EllipticCurvePrivateKey) else SignatureMethod.RSA_SHA256
    )
    signer = XMLSigner(
        method=SignatureConstructionMethod.detached,
        signature_algorithm=method,
        digest_algorithm=DigestAlgorithm.SHA256,
        c14n_algorithm=CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0,
    )
    signature = signer.sign(
        root, key=key, reference_uri=[SignatureReference(URI=u) for u in uris], key_info=key_info, id_attribute="Id"
    )
    security.append(signature)
    return root


def body_id(root: etree._Element) -> str:
    return find(root, "soap:Body").get(ns.WSU_ID)


def timestamp_id(root: etree._Element) -> str:
    return find(root, "soap:Header/wsse:Security/wsu:Timestamp").get(ns.WSU_ID)


def rewrap_base64(text: str, width: int = 64, newline: str = "\n") -> str:
    flat = "".join(text.split())
    return newline.join(flat[i : i + width] for i in range(0, len(flat), width))


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _exc_c14n(node: etree._Element, prefixes: list[str] | None = None) -> bytes:
    return etree.tostring(node, method="c14n", exclusive=True, with_comments=False, inclusive_ns_prefixes=prefixes)


def raw_signature(key, data: bytes) -> bytes:  # type: ignore[no-untyped-def]
    """XML-DSig SignatureValue bytes by ``key`` over ``data``: PKCS#1 v1.5 SHA-256, or ECDSA raw r‖s."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
    size = (key.curve.key_size + 7) // 8
    return r.to_bytes(size, "big") + s.to_bytes(size, "big")


def resign_signed_info(root: etree._Element, key) -> etree._Element:  # type: ignore[no-untyped-def]
    """Re-sign the (possibly edited) ds:SignedInfo as it now stands, digests untouched:
    the SignatureValue becomes valid again, so only the edit itself can be refused."""
    signed_info = find(root, "soap:Header/wsse:Security/ds:Signature/ds:SignedInfo")
    method = find(signed_info, "ds:CanonicalizationMethod")
    inclusive = method.find(f"{{{ns.EC}}}InclusiveNamespaces")
    prefixes = inclusive.get("PrefixList").split() if inclusive is not None else None
    value = find(root, "soap:Header/wsse:Security/ds:Signature/ds:SignatureValue")
    value.text = b64(raw_signature(key, _exc_c14n(signed_info, prefixes)))
    return root


def redigest(root: etree._Element, uri: str, digest: Callable[[bytes], bytes]) -> None:
    """Recompute the DigestValue of Reference ``uri`` with ``digest`` over its exc-c14n target."""
    target = root.xpath("//*[@wsu:Id=$v]", namespaces=N, v=uri[1:])[0]
    for ref in find(root, "soap:Header/wsse:Security/ds:Signature/ds:SignedInfo").findall("ds:Reference", N):
        if ref.get("URI") == uri:
            find(ref, "ds:DigestValue").text = b64(digest(_exc_c14n(target)))
