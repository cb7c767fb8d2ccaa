"""TrustStore: which certificates MTS believes, and in which role.

A certificate is trusted when it chains, by ``cryptography.x509.verification``, to one of
the configured CA certificates (and only those: no system store, no intermediates taken
from the message), every certificate of the chain being valid at the injected clock's time.
Its role is the subject OU (``gateway``, ``shop``, ``admin``, ``server``) unless a
fingerprint→role map pins it.

Path validation uses ``webpki_defaults_ca()`` for the CA side, so an issuer without
basicConstraints CA:TRUE is refused. For the leaf we require digitalSignature and the
EKU of the purpose (clientAuth for requests, serverAuth for responses) but do not
demand a subjectAltName, which certificates of other stacks often lack.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Iterable, Literal, Mapping

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import verification
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from mts_service.clock import ensure_utc
from mts_service.errors import ErrorCode, SecurityError

Purpose = Literal["client", "server", "any"]

KNOWN_ROLES = frozenset({"gateway", "shop", "admin", "server"})


@dataclass(frozen=True)
class TrustedCertificate:
    certificate: x509.Certificate
    role: str | None
    fingerprint: str
    """SHA-256 of the DER certificate, lowercase hex."""


def fingerprint(cert: x509.Certificate) -> str:
    return hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest()


def _untrusted(message: str) -> SecurityError:
    return SecurityError(message, code=ErrorCode.SECURITY_UNTRUSTED_CERT)


class TrustStore:
    """Trust anchors plus the role mapping. Immutable after construction; thread-safe.

    ``purpose`` picks the EKU a leaf must carry: ``"client"`` (the server verifying
    requests: clientAuth), ``"server"`` (clients verifying responses: serverAuth), or
    ``"any"`` (either). Verified chains are cached by certificate fingerprint together
    with their validity window, so a known certificate costs one dict lookup and a time
    comparison.
    """

    def __init__(
        self,
        anchors: Iterable[x509.Certificate],
        *,
        purpose: Purpose = "client",
        roles_by_fingerprint: Mapping[str, str] | None = None,
        cache_size: int = 1024,
    ) -> None:
        roots = list(anchors)
        if not roots:
            raise ValueError("a TrustStore needs at least one CA certificate")
        self._store = verification.Store(roots)
        self._purpose = purpose
        self._roles_by_fingerprint = {k.lower().replace(":", ""): v for k, v in (roles_by_fingerprint or {}).items()}
        ekus = {
            "client": {ExtendedKeyUsageOID.CLIENT_AUTH},
            "server": {ExtendedKeyUsageOID.SERVER_AUTH},
            "any": {ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH},
        }[purpose]
        self._ee_policy = (
            verification.ExtensionPolicy.permit_all()
            .require_present(x509.KeyUsage, verification.Criticality.AGNOSTIC, _require_digital_signature)
            .require_present(x509.ExtendedKeyUsage, verification.Criticality.AGNOSTIC, _require_eku(ekus))
        )
        self._ca_policy = verification.ExtensionPolicy.webpki_defaults_ca()
        self._cache: OrderedDict[str, tuple[datetime, datetime]] = OrderedDict()
        # id(certificate) -> (that certificate, fingerprint, role): verify.load_token hands
        # out the same object for the same token, so a known one costs no DER serialisation.
        self._identities: OrderedDict[int, tuple[x509.Certificate, str, str | None]] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    @classmethod
    def from_pem_files(cls, *paths: str | Path, **kwargs: object) -> "TrustStore":
        anchors: list[x509.Certificate] = []
        for path in paths:
            anchors.extend(x509.load_pem_x509_certificates(Path(path).read_bytes()))
        return cls(anchors, **kwargs)  # type: ignore[arg-type]

    def verify(self, cert: x509.Certificate, *, at: datetime) -> TrustedCertificate:
        """Return the trusted certificate and its role, or raise SECURITY_UNTRUSTED_CERT."""
        at = ensure_utc(at)
        fp, role = self._identify(cert)
        with self._lock:
            window = self._cache.get(fp)
            if window is not None:
                self._cache.move_to_end(fp)
        if window is None:
            window = self._validate_chain(cert, at)
            with self._lock:
                self._cache[fp] = window
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        not_before, not_after = window
        if not (not_before <= at <= not_after):
            raise _untrusted(f"certificate chain not valid at {at.isoformat()}")
        return TrustedCertificate(cert, role, fp)

    def _identify(self, cert: x509.Certificate) -> tuple[str, str | None]:
        """(fingerprint, role) of ``cert``, computed once per certificate object."""
        key = id(cert)
        with self._lock:
            found = self._identities.get(key)
            if found is not None and found[0] is cert:  # the entry holds cert, so its id is not reused
                self._identities.move_to_end(key)
                return found[1], found[2]
        fp = fingerprint(cert)
        role = self.role_of(cert, fp)
        with self._lock:
            self._identities[key] = (cert, fp, role)
            while len(self._identities) > self._cache_size:
                self._identities.popitem(last=False)
        return fp, role

    def _validate_chain(self, cert: x509.Certificate, at: datetime) -> tuple[datetime, datetime]:
        builder = (
            verification.PolicyBuilder()
            .store(self._store)
            .time(at)
            .extension_policies(ee_policy=self._ee_policy, ca_policy=self._ca_policy)
        )
        try:
            chain = builder.build_client_verifier().verify(cert, []).chain
        except verification.VerificationError as exc:
            raise _untrusted(f"certificate does not chain to a trust anchor: {exc}") from None
        # Cache the window in which the whole chain is valid, so later checks at other times stay exact.
        not_before = max(c.not_valid_before_utc for c in chain)
        not_after = min(c.not_valid_after_utc for c in chain)
        return not_before, not_after

    def role_of(self, cert: x509.Certificate, fp: str | None = None) -> str | None:
        """The pinned role of this fingerprint, else the subject OU if it names a known role."""
        pinned = self._roles_by_fingerprint.get(fp or fingerprint(cert))
        if pinned is not None:
            return pinned
        ous = [a.value for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)]
        roles = {str(ou).strip().lower() for ou in ous} & KNOWN_ROLES
        if len(roles) == 1:
            return roles.pop()
        return None  # none or ambiguous: no role, so every role check fails


def _require_digital_signature(policy: object, cert: x509.Certificate, key_usage: x509.KeyUsage | None) -> None:
    if key_usage is None or not key_usage.digital_signature:
        raise ValueError("KeyUsage does not allow digitalSignature")


def _require_eku(allowed: set[x509.ObjectIdentifier]):  # type: ignore[no-untyped-def]
    def check(policy: object, cert: x509.Certificate, eku: x509.ExtendedKeyUsage | None) -> None:
        if eku is None or not (set(eku) & allowed):
            raise ValueError("ExtendedKeyUsage does not allow this purpose")

    return check
