"""Helpers to take signed messages apart and put them together again, as an attacker would."""

from __future__ import annotations

import base64
from typing import Callable

from cryptography.hazmat.primitives.asymmetric import ec
from lxml import etree
from signxml import CanonicalizationMethod, DigestAlgorithm, SignatureMethod, XMLSigner
from signxml.algorithms import SignatureConstructionMethod
from signxml.signer import SignatureReference

from mts_service.wssec import ns

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
