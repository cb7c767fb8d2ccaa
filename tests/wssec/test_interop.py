"""Interoperability: zeep + python-xmlsec signing for us, xmlsec1 verifying us and signing for us."""

from __future__ import annotations

import base64
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree

from wssec_helpers import ECHO_BODY, START, echo_text
from mts_service.errors import ErrorCode, SecurityError
from mts_service.pki import private_key_pem
from mts_service.wssec import ns
from mts_service.wssec.timestamps import format_timestamp
from mts_service.wssec.verify import verify_envelope

xmlsec = pytest.importorskip("xmlsec")
from zeep.wsse.signature import BinarySignature  # noqa: E402
from zeep.wsse.utils import WSU, get_security_header  # noqa: E402

XMLSEC1 = shutil.which("xmlsec1")
needs_xmlsec1 = pytest.mark.skipif(XMLSEC1 is None, reason="Debian's xmlsec1 binary is not installed (apt-get install xmlsec1)")


def write_pair(tmp: Path, pki, name: str) -> tuple[Path, Path]:
    key_file, cert_file = tmp / f"{name}.key", tmp / f"{name}.pem"
    key_file.write_bytes(private_key_pem(pki.key(name)))
    cert_file.write_bytes(pki.cert(name).public_bytes(Encoding.PEM))
    return key_file, cert_file


def zeep_signed(pki, tmp_path, *, strong: bool = True) -> bytes:
    """A request as zeep's BinarySignature signs it, with a Timestamp we add (zeep has none)."""
    envelope = etree.fromstring(ECHO_BODY)
    security = get_security_header(envelope)
    security.set(ns.MUST_UNDERSTAND, "1")
    security.append(WSU.Timestamp(WSU.Created(format_timestamp(START)), WSU.Expires(format_timestamp(START + timedelta(minutes=5)))))
    key_file, cert_file = write_pair(tmp_path, pki, "shop")
    options = {}
    if strong:
        method = xmlsec.Transform.RSA_SHA256 if pki.key_type == "rsa" else xmlsec.Transform.ECDSA_SHA256
        options = dict(signature_method=method, digest_method=xmlsec.Transform.SHA256)
    BinarySignature(str(key_file), str(cert_file), **options).apply(envelope, {})
    return etree.tostring(envelope)


@pytest.fixture
def ctx(trust, clock, replay, profile):
    return dict(trust=trust, clock=clock, replay=replay, profile=profile)


def test_zeep_binary_signature_is_accepted(pki, tmp_path, ctx):
    raw = zeep_signed(pki, tmp_path)
    root = etree.fromstring(raw)
    # zeep's layout: Signature before the token it names, unprefixed ds namespace.
    security = root.find(f"{ns.HEADER}/{ns.SECURITY}")
    assert [child.tag for child in security][:2] == [ns.SIGNATURE, ns.BST]
    message = verify_envelope(raw, expected_role="shop", **ctx)
    assert echo_text(message.body) == "bonjour"


def test_zeep_default_sha1_signature_is_refused(rsa_pki, tmp_path, clock, replay, profile):
    from mts_service.wssec.trust import TrustStore

    raw = zeep_signed(rsa_pki, tmp_path, strong=False)
    with pytest.raises(SecurityError) as info:
        verify_envelope(raw, trust=TrustStore([rsa_pki.ca]), clock=clock, replay=replay, profile=profile)
    assert info.value.code is ErrorCode.SECURITY_ALGORITHM


def test_zeep_stock_verify_accepts_our_signature(pki, tmp_path, sign):
    """zeep's own verifier (python-xmlsec) checks a message signed by sign_envelope."""
    from zeep.wsse.signature import _make_verify_key, _verify_envelope_with_key

    _, cert_file = write_pair(tmp_path, pki, "shop")
    envelope = etree.fromstring(sign("shop"))
    _verify_envelope_with_key(envelope, _make_verify_key(cert_file.read_bytes()))


ID_ATTRS = [
    f"--id-attr:Id {ns.SOAP11}:Body",
    f"--id-attr:Id {ns.WSU}:Timestamp",
    f"--id-attr:Id {ns.WSSE}:BinarySecurityToken",
]


def run_xmlsec1(*args: str) -> subprocess.CompletedProcess:
    flat: list[str] = []
    for arg in args:
        flat.extend(arg.split(" ", 1) if arg.startswith("--id-attr") else [arg])
    return subprocess.run([XMLSEC1, *flat], capture_output=True, text=True, timeout=60)


@needs_xmlsec1
def test_xmlsec1_verifies_our_signed_response(pki, tmp_path, sign):
    signed = tmp_path / "response.xml"
    signed.write_bytes(sign("server"))
    _, cert_file = write_pair(tmp_path, pki, "server")
    result = run_xmlsec1("--verify", "--pubkey-cert-pem", str(cert_file), *ID_ATTRS, str(signed))
    assert result.returncode == 0, result.stderr
    # ... and notices tampering, so the check above means something.
    signed.write_bytes(sign("server").replace(b"bonjour", b"bonsoir"))
    assert run_xmlsec1("--verify", "--pubkey-cert-pem", str(cert_file), *ID_ATTRS, str(signed)).returncode != 0


TEMPLATE = """<soap:Envelope xmlns:soap="{soap}" xmlns:wsse="{wsse}" xmlns:wsu="{wsu}" xmlns:ds="{ds}">
<soap:Header><wsse:Security soap:mustUnderstand="1">
<wsu:Timestamp wsu:Id="TS-1"><wsu:Created>{created}</wsu:Created><wsu:Expires>{expires}</wsu:Expires></wsu:Timestamp>
<wsse:BinarySecurityToken wsu:Id="X509-1" ValueType="{x509}" EncodingType="{b64}">{token}</wsse:BinarySecurityToken>
<ds:Signature><ds:SignedInfo>
<ds:CanonicalizationMethod Algorithm="{c14n}"/><ds:SignatureMethod Algorithm="{method}"/>
<ds:Reference URI="#id-body"><ds:Transforms><ds:Transform Algorithm="{c14n}"/></ds:Transforms>
<ds:DigestMethod Algorithm="{sha256}"/><ds:DigestValue/></ds:Reference>
<ds:Reference URI="#TS-1"><ds:Transforms><ds:Transform Algorithm="{c14n}"/></ds:Transforms>
<ds:DigestMethod Algorithm="{sha256}"/><ds:DigestValue/></ds:Reference>
</ds:SignedInfo><ds:SignatureValue/>
<ds:KeyInfo><wsse:SecurityTokenReference><wsse:Reference URI="#X509-1" ValueType="{x509}"/></wsse:SecurityTokenReference></ds:KeyInfo>
</ds:Signature></wsse:Security></soap:Header>
<soap:Body wsu:Id="id-body"><e:Echo xmlns:e="urn:mts:test:echo"><e:text>bonjour</e:text></e:Echo></soap:Body>
</soap:Envelope>"""


@needs_xmlsec1
def test_xmlsec1_signed_request_is_accepted(pki, tmp_path, ctx):
    key_file, _ = write_pair(tmp_path, pki, "shop")
    template = tmp_path / "template.xml"
    template.write_text(
        TEMPLATE.format(
            soap=ns.SOAP11, wsse=ns.WSSE, wsu=ns.WSU, ds=ns.DS, x509=ns.X509V3, b64=ns.BASE64_BINARY,
            c14n=ns.EXC_C14N, sha256=ns.SHA256,
            method=ns.RSA_SHA256 if pki.key_type == "rsa" else ns.ECDSA_SHA256,
            created=format_timestamp(START), expires=format_timestamp(START + timedelta(minutes=5)),
            token=base64.b64encode(pki.cert("shop").public_bytes(Encoding.DER)).decode(),
        )
    )
    out = tmp_path / "signed.xml"
    result = run_xmlsec1("--sign", "--privkey-pem", str(key_file), *ID_ATTRS, "--output", str(out), str(template))
    assert result.returncode == 0, result.stderr
    message = verify_envelope(out.read_bytes(), expected_role="shop", **ctx)
    assert echo_text(message.body) == "bonjour"
