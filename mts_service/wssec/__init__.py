"""WS-Security for MTS: the signing and verification profile shared by the service and its clients.

Imports lxml, signxml and cryptography only (no Spyne, no database), so that client
packages can use it. See ``sign.py`` for the message shape and ``verify.py`` for the checks.
"""

from mts_service.wssec.profile import DEFAULT_PROFILE, SecurityProfile
from mts_service.wssec.replay import InMemoryReplayCache, ReplayCache
from mts_service.wssec.sign import sign_envelope
from mts_service.wssec.trust import TrustedCertificate, TrustStore
from mts_service.wssec.verify import VerifiedMessage, build_envelope_from_body, verify_envelope
from mts_service.wssec.xmlparse import parse_xml

__all__ = [
    "DEFAULT_PROFILE",
    "InMemoryReplayCache",
    "ReplayCache",
    "SecurityProfile",
    "TrustStore",
    "TrustedCertificate",
    "VerifiedMessage",
    "build_envelope_from_body",
    "parse_xml",
    "sign_envelope",
    "verify_envelope",
]
