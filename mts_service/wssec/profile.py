"""SecurityProfile: the frozen settings of the MTS WS-Security profile.

Defaults are the secure profile of DESIGN.md "Security profile". Weak algorithms (SHA-1,
HMAC, unknown URIs) are refused when the profile is built, not when the first message
arrives; SHA-1 can only be let in with ``allow_weak_algorithms=True`` (HMAC never: MTS has
no shared secrets, and a verifier given an HMAC method would need one).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from mts_service.wssec import ns

STRONG_SIGNATURE_METHODS = frozenset({ns.RSA_SHA256, ns.ECDSA_SHA256})
WEAK_SIGNATURE_METHODS = frozenset({ns.RSA_SHA1, ns.ECDSA_SHA1})
HMAC_SIGNATURE_METHODS = frozenset({ns.HMAC_SHA1, ns.HMAC_SHA256})
STRONG_DIGESTS = frozenset({ns.SHA256})
WEAK_DIGESTS = frozenset({ns.SHA1})
SUPPORTED_C14N = frozenset({ns.EXC_C14N})


@dataclass(frozen=True)
class SecurityProfile:
    signature_methods: frozenset[str] = STRONG_SIGNATURE_METHODS
    """ds:SignatureMethod URIs accepted on input (RSA-SHA256 and ECDSA-SHA256)."""

    digest_methods: frozenset[str] = STRONG_DIGESTS
    """ds:DigestMethod URIs accepted on every Reference (SHA-256)."""

    c14n_methods: frozenset[str] = SUPPORTED_C14N
    """CanonicalizationMethod and Reference Transform URIs accepted: exclusive c14n only.
    signxml skips Transforms it does not know (XSLT, XPath) without applying them, so any
    other URI is refused before signxml sees it."""

    timestamp_ttl: timedelta = timedelta(seconds=300)
    """Maximum age of a request, measured from the signed wsu:Created whatever wsu:Expires
    says. Also how long a SignedInfo stays in the replay cache (plus clock_skew)."""

    clock_skew: timedelta = timedelta(seconds=60)
    """Tolerated difference between the peer's clock and ours, both directions."""

    max_body_bytes: int = 256 * 1024
    """Largest request accepted, checked on Content-Length before reading and on the bytes read."""

    max_depth: int = 64
    """Deepest element nesting accepted (Envelope = 1). A SOAP message of MTS needs < 15."""

    max_elements: int = 5000
    """Most elements accepted in one message."""

    max_token_bytes: int = 16 * 1024
    """Longest BinarySecurityToken text accepted, checked before base64 decoding."""

    response_timestamp_ttl: timedelta = timedelta(seconds=300)
    """wsu:Expires − wsu:Created written on messages we sign (requests and responses)."""

    allow_weak_algorithms: bool = False
    """Let SHA-1 methods into the allow-lists. Never set in production."""

    _known: frozenset[str] = field(
        default=STRONG_SIGNATURE_METHODS | WEAK_SIGNATURE_METHODS | STRONG_DIGESTS | WEAK_DIGESTS,
        init=False,
        repr=False,
    )

    def __post_init__(self) -> None:
        for name in ("signature_methods", "digest_methods", "c14n_methods"):
            value = getattr(self, name)
            if not isinstance(value, frozenset) or not value:
                raise ValueError(f"SecurityProfile.{name} must be a non-empty frozenset")
        if self.signature_methods & HMAC_SIGNATURE_METHODS:
            raise ValueError("HMAC signature methods are never allowed: MTS trusts X.509 certificates only")
        unknown = (self.signature_methods | self.digest_methods) - self._known
        if unknown:
            raise ValueError(f"unsupported algorithm URI(s): {sorted(unknown)}")
        weak = (self.signature_methods & WEAK_SIGNATURE_METHODS) | (self.digest_methods & WEAK_DIGESTS)
        if weak and not self.allow_weak_algorithms:
            raise ValueError(f"weak algorithm(s) {sorted(weak)} refused; set allow_weak_algorithms=True to allow")
        if self.c14n_methods - SUPPORTED_C14N:
            raise ValueError("only exclusive c14n (without comments) is supported")
        for name in ("timestamp_ttl", "clock_skew", "response_timestamp_ttl"):
            if getattr(self, name) < timedelta(0):
                raise ValueError(f"SecurityProfile.{name} must not be negative")
        if self.timestamp_ttl <= timedelta(0) or self.response_timestamp_ttl <= timedelta(0):
            raise ValueError("timestamp TTLs must be positive")
        for name in ("max_body_bytes", "max_depth", "max_elements", "max_token_bytes"):
            if getattr(self, name) <= 0:
                raise ValueError(f"SecurityProfile.{name} must be positive")


DEFAULT_PROFILE = SecurityProfile()
