"""Development PKI: one CA and the role certificates MTS and its peers sign with.

``create_dev_pki(directory)`` writes::

    ca.pem / ca.key            the trust anchor (CA:TRUE, pathlen 0)
    server.pem / server.key    the MTS service (OU=server, EKU serverAuth, SAN = hosts)
    gateway.pem / gateway.key  the SMS gateway  (OU=gateway, EKU clientAuth)
    shop.pem / shop.key        the shop         (OU=shop, EKU clientAuth)
    admin.pem / admin.key      the administrator (OU=admin, EKU clientAuth)

The role of a certificate is its subject OU (see ``mts_service.wssec.trust``). Every
end-entity certificate carries a subjectAltName, because ``cryptography``'s
path validation refuses leaves without one. Keys are unencrypted PKCS#8 PEM written with
mode 0600; they are development keys and must never be committed (``certs/*.key`` is
git-ignored).

``make_cert`` is the one building block, also used by tests to forge foreign-CA, expired,
self-signed and wrong-role certificates.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Iterable, Literal, Union

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from mts_service.clock import Clock, SystemClock

KeyType = Literal["rsa", "ec"]
PrivateKey = Union[rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey]

ROLES = ("gateway", "shop", "admin")
"""Client roles; each gets a clientAuth certificate whose subject OU is the role."""

SERVER_ROLE = "server"

CA_VALIDITY = timedelta(days=3650)
EE_VALIDITY = timedelta(days=730)
BACKDATE = timedelta(minutes=5)
"""Certificates start slightly in the past so that a peer whose clock lags still accepts them."""


def generate_key(key_type: KeyType = "rsa") -> PrivateKey:
    """A fresh RSA-2048 or ECDSA P-256 private key."""
    if key_type == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if key_type == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    raise ValueError(f"unknown key type {key_type!r}: expected 'rsa' or 'ec'")


def _name(common_name: str, ou: str | None) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, "MTS dev")]
    if ou is not None:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, ou))
    attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attributes)


def _san(names: Iterable[str]) -> x509.SubjectAlternativeName:
    entries: list[x509.GeneralName] = []
    for name in names:
        try:
            entries.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            entries.append(x509.DNSName(name))
    return x509.SubjectAlternativeName(entries)


def make_cert(
    common_name: str,
    *,
    ou: str | None = None,
    key: PrivateKey | None = None,
    key_type: KeyType = "rsa",
    issuer_cert: x509.Certificate | None = None,
    issuer_key: PrivateKey | None = None,
    is_ca: bool = False,
    path_length: int | None = 0,
    san: Iterable[str] | None = None,
    eku: Iterable[x509.ObjectIdentifier] = (),
    not_before: datetime | None = None,
    not_after: datetime | None = None,
    clock: Clock | None = None,
    validity: timedelta | None = None,
) -> tuple[x509.Certificate, PrivateKey]:
    """Build one certificate and return it with its private key.

    Without ``issuer_cert``/``issuer_key`` the certificate is self-signed. ``is_ca`` sets
    basicConstraints CA:TRUE and keyCertSign; otherwise the certificate is an end-entity
    with digitalSignature and, when ``san`` is given, a subjectAltName. Dates default to
    ``clock.now() - 5 min`` and ``validity`` after it (10 years for a CA, 2 for others);
    pass explicit dates to forge expired or not-yet-valid certificates.
    """
    now = (clock or SystemClock()).now()
    key = key or generate_key(key_type)
    if (issuer_cert is None) != (issuer_key is None):
        raise ValueError("issuer_cert and issuer_key go together")
    subject = _name(common_name, ou)
    issuer_name = issuer_cert.subject if issuer_cert is not None else subject
    signing_key = issuer_key if issuer_key is not None else key
    start = not_before or now - BACKDATE
    end = not_after or start + (validity or (CA_VALIDITY if is_ca else EE_VALIDITY))

    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        # Serial numbers are random (RFC 5280 allows 20 octets; 159 bits stay positive).
        .serial_number(secrets.randbits(159) | 1)
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=path_length if is_ca else None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if issuer_cert is not None:
        ski = issuer_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
        )
    else:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False
        )
    builder = builder.add_extension(
        x509.KeyUsage(
            digital_signature=not is_ca,
            content_commitment=False,
            key_encipherment=False,
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=is_ca,
            crl_sign=is_ca,
            encipher_only=False,
            decipher_only=False,
        ),
        critical=True,
    )
    eku = list(eku)
    if eku:
        builder = builder.add_extension(x509.ExtendedKeyUsage(eku), critical=False)
    if san is not None:
        builder = builder.add_extension(_san(san), critical=False)
    cert = builder.sign(signing_key, hashes.SHA256())
    return cert, key


@dataclass(frozen=True)
class DevPki:
    """Paths of the files ``create_dev_pki`` wrote (or found)."""

    directory: Path

    @property
    def ca_cert(self) -> Path:
        return self.directory / "ca.pem"

    def cert(self, name: str) -> Path:
        return self.directory / f"{name}.pem"

    def key(self, name: str) -> Path:
        return self.directory / f"{name}.key"


def create_dev_pki(
    directory: str | os.PathLike[str],
    *,
    key_type: KeyType = "rsa",
    clock: Clock | None = None,
    hosts: Iterable[str] = ("localhost", "127.0.0.1"),
    force: bool = False,
) -> DevPki:
    """Create (or complete) the development PKI under ``directory``.

    Idempotent: existing files are kept unless ``force=True``. A missing role certificate
    is issued by the existing CA; if the CA itself is missing (or forced), everything is
    reissued, since old leaves would no longer chain.
    """
    clock = clock or SystemClock()
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    pki = DevPki(root)
    hosts = tuple(hosts)

    ca_present = pki.ca_cert.exists() and pki.key("ca").exists()
    if force or not ca_present:
        ca_cert, ca_key = make_cert("MTS dev CA", is_ca=True, key_type=key_type, clock=clock)
        _write_pair(pki, "ca", ca_cert, ca_key)
        force = True  # new CA: old leaves would not chain any more
    else:
        ca_cert = load_certificate(pki.ca_cert)
        ca_key = load_private_key(pki.key("ca"))

    leaves: list[tuple[str, str, list[str], x509.ObjectIdentifier]] = [
        ("server", SERVER_ROLE, list(hosts), ExtendedKeyUsageOID.SERVER_AUTH),
    ]
    leaves += [(role, role, [f"{role}.mts.invalid"], ExtendedKeyUsageOID.CLIENT_AUTH) for role in ROLES]
    for name, ou, san, eku_oid in leaves:
        if not force and pki.cert(name).exists() and pki.key(name).exists():
            continue
        cert, key = make_cert(
            f"MTS dev {name}",
            ou=ou,
            key_type=key_type,
            issuer_cert=ca_cert,
            issuer_key=ca_key,
            san=san,
            eku=[eku_oid],
            clock=clock,
        )
        _write_pair(pki, name, cert, key)
    return pki


def _write_pair(pki: DevPki, name: str, cert: x509.Certificate, key: PrivateKey) -> None:
    _write_private(pki.key(name), private_key_pem(key))
    pki.cert(name).write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _write_private(path: Path, data: bytes) -> None:
    # Created with 0600 from the start: no window where the key is world-readable.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, data)
    finally:
        os.close(fd)


def private_key_pem(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def load_certificate(path: str | os.PathLike[str]) -> x509.Certificate:
    return x509.load_pem_x509_certificate(Path(path).read_bytes())


def load_certificates(path: str | os.PathLike[str]) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(Path(path).read_bytes())


def load_private_key(path: str | os.PathLike[str]) -> PrivateKey:
    key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    if not isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
        raise ValueError(f"{path}: only RSA and EC keys are supported")
    return key
