"""MtsSignature: the MTS profile as a zeep wsse plugin (``apply(envelope, headers)`` / ``verify(envelope)``).

Use it as ``zeep.Client(wsdl, wsse=MtsSignature(key, cert, trust=TrustStore(..., purpose="server")))``
— a single object, not a list (zeep skips response verification for lists, WSSEC-NOTES 21).

Unlike zeep's own ``BinarySignature.verify()``, which checks the response against the
client's own certificate, responses are verified against the trust store and must come
from a certificate of ``expected_role`` (``server``).
"""

from __future__ import annotations

from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from lxml import etree

from mts_service.clock import Clock, SystemClock
from mts_service.errors import SecurityError
from mts_service.wssec.profile import DEFAULT_PROFILE, SecurityProfile
from mts_service.wssec.replay import InMemoryReplayCache, ReplayCache
from mts_service.wssec.sign import SigningKey, sign_envelope
from mts_service.wssec.trust import TrustStore
from mts_service.wssec.verify import VerifiedMessage, verify_envelope


class MtsSignatureVerificationFailed(SecurityError):
    """A response failed verification. Also a zeep SignatureVerificationFailed when zeep is importable."""


try:  # two parents, so callers may catch zeep's error or ours (STYLE habit 6)
    from zeep.exceptions import SignatureVerificationFailed as _ZeepFailed

    class ResponseSignatureError(MtsSignatureVerificationFailed, _ZeepFailed):  # type: ignore[misc]
        pass

except ImportError:  # pragma: no cover - zeep is a dependency, but wssec must not need it
    ResponseSignatureError = MtsSignatureVerificationFailed  # type: ignore[misc,assignment]


def _load_key(key: SigningKey | bytes) -> SigningKey:
    if isinstance(key, bytes):
        return serialization.load_pem_private_key(key, password=None)  # type: ignore[return-value]
    return key


def _load_cert(cert: x509.Certificate | bytes) -> x509.Certificate:
    if isinstance(cert, bytes):
        return x509.load_pem_x509_certificate(cert)
    return cert


class MtsSignature:
    def __init__(
        self,
        key: SigningKey | bytes,
        cert: x509.Certificate | bytes,
        *,
        trust: TrustStore,
        clock: Clock | None = None,
        profile: SecurityProfile | None = None,
        replay: ReplayCache | None = None,
        expected_role: str | None = "server",
    ) -> None:
        self.key = _load_key(key)
        self.cert = _load_cert(cert)
        self.trust = trust
        self.clock = clock or SystemClock()
        self.profile = profile or DEFAULT_PROFILE
        self.replay = replay or InMemoryReplayCache(clock=self.clock)
        self.expected_role = expected_role
        self.last_verified: VerifiedMessage | None = None

    def apply(self, envelope: etree._Element, headers: dict[str, Any]) -> tuple[etree._Element, dict[str, Any]]:
        sign_envelope(envelope, key=self.key, cert=self.cert, clock=self.clock, profile=self.profile)
        return envelope, headers

    def verify(self, envelope: etree._Element) -> etree._Element:
        """Verify a response; raise ResponseSignatureError (a zeep SignatureVerificationFailed) if it fails.

        zeep goes on reading the envelope it passed in; the checks made here (one Body, ids
        unique, Body among the signed references) ensure that Body is the signed one.
        """
        raw = etree.tostring(envelope)
        try:
            self.last_verified = verify_envelope(
                raw, trust=self.trust, profile=self.profile, clock=self.clock, replay=self.replay,
                expected_role=self.expected_role,
            )
        except SecurityError as exc:
            raise ResponseSignatureError(exc.message, code=exc.code) from None
        return envelope
