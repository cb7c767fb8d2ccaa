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
signxml's XMLSigner (detached method) computes the digests and the signature.
"""

from __future__ import annotations

import base64
import secrets
from typing import Union

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree
from signxml import CanonicalizationMethod, DigestAlgorithm, SignatureMethod, XMLSigner
from signxml.algorithms import SignatureConstructionMethod
from signxml.signer import SignatureReference

from mts_service.clock import Clock
from mts_service.wssec import ns
from mts_service.wssec.profile import DEFAULT_PROFILE, SecurityProfile
from mts_service.wssec.timestamps import format_timestamp

SigningKey = Union[rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey]


def new_id(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(16)}"


def _signature_method(key: SigningKey) -> SignatureMethod:
    if isinstance(key, rsa.RSAPrivateKey):
        return SignatureMethod.RSA_SHA256
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return SignatureMethod.ECDSA_SHA256
    raise TypeError("signing key must be an RSA or EC private key")


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
    body = envelope.find(ns.BODY)
    if body is None:
        raise ValueError("envelope has no soap:Body")
    header = envelope.find(ns.HEADER)
    if header is None:
        header = etree.Element(ns.HEADER)
        envelope.insert(list(envelope).index(body), header)
    if header.find(ns.SECURITY) is not None:
        raise ValueError("envelope already has a wsse:Security header")

    now = clock.now()
    security = etree.SubElement(header, ns.SECURITY, nsmap={"wsse": ns.WSSE, "wsu": ns.WSU})
    security.set(ns.MUST_UNDERSTAND, "1")

    ts_id = new_id("TS")
    timestamp = etree.SubElement(security, ns.TIMESTAMP, {ns.WSU_ID: ts_id})
    etree.SubElement(timestamp, ns.CREATED).text = format_timestamp(now)
    etree.SubElement(timestamp, ns.EXPIRES).text = format_timestamp(now + profile.response_timestamp_ttl)

    bst_id = new_id("X509")
    bst = etree.SubElement(
        security,
        ns.BST,
        {ns.WSU_ID: bst_id, "ValueType": ns.X509V3, "EncodingType": ns.BASE64_BINARY},
    )
    bst.text = base64.b64encode(cert.public_bytes(Encoding.DER)).decode("ascii")

    body_id = body.get(ns.WSU_ID)
    if not body_id:
        body_id = new_id("id")
        body.set(ns.WSU_ID, body_id)

    key_info = etree.Element(ns.qn(ns.DS, "KeyInfo"), nsmap={"ds": ns.DS})
    token_ref = etree.SubElement(key_info, ns.STR, nsmap={"wsse": ns.WSSE})
    etree.SubElement(token_ref, ns.WSSE_REFERENCE, {"URI": f"#{bst_id}", "ValueType": ns.X509V3})

    # A signer per call: XMLSigner keeps per-call state (id attributes) on the instance.
    signer = XMLSigner(
        method=SignatureConstructionMethod.detached,
        signature_algorithm=_signature_method(key),
        digest_algorithm=DigestAlgorithm.SHA256,
        c14n_algorithm=CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0,
    )
    signature = signer.sign(
        envelope,
        key=key,
        reference_uri=[SignatureReference(URI=f"#{body_id}"), SignatureReference(URI=f"#{ts_id}")],
        key_info=key_info,
        id_attribute="Id",
    )
    security.append(signature)
    return envelope
