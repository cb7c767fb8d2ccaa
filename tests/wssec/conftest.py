"""Fixtures for the WS-Security tests: a dev PKI per key type, clocks, trust, signed messages.

What would go in the shared tests/conftest.py (not created here): the FixedClock fixture
and a session-scoped dev PKI (``create_dev_pki`` into a tmp dir), since the soap/ and e2e/
tests need the same certificates.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest
from cryptography import x509
from lxml import etree

from mts_service.clock import FixedClock
from mts_service.pki import DevPki, PrivateKey, create_dev_pki, load_certificate, load_private_key
from mts_service.wssec.profile import SecurityProfile
from mts_service.wssec.replay import InMemoryReplayCache
from mts_service.wssec.sign import sign_envelope
from mts_service.wssec.trust import TrustStore

from wssec_helpers import ECHO_BODY, START, echo_text  # noqa: F401 - re-exported for older imports


@dataclass
class Pki:
    paths: DevPki
    key_type: str

    @property
    def ca(self) -> x509.Certificate:
        return load_certificate(self.paths.ca_cert)

    @property
    def ca_key(self) -> PrivateKey:
        return load_private_key(self.paths.key("ca"))

    def cert(self, name: str) -> x509.Certificate:
        return load_certificate(self.paths.cert(name))

    def key(self, name: str) -> PrivateKey:
        return load_private_key(self.paths.key(name))


@pytest.fixture(scope="session", params=["rsa", "ec"])
def pki(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Pki:
    directory = tmp_path_factory.mktemp(f"pki-{request.param}")
    return Pki(create_dev_pki(directory, key_type=request.param, clock=FixedClock(START)), request.param)


@pytest.fixture(scope="session")
def rsa_pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    directory = tmp_path_factory.mktemp("pki-rsa-only")
    return Pki(create_dev_pki(directory, key_type="rsa", clock=FixedClock(START)), "rsa")


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
def profile() -> SecurityProfile:
    return SecurityProfile()


@pytest.fixture
def trust(pki: Pki) -> TrustStore:
    return TrustStore([pki.ca], purpose="client")


@pytest.fixture
def replay(clock: FixedClock) -> InMemoryReplayCache:
    return InMemoryReplayCache(clock=clock)


SignFn = Callable[..., bytes]


@pytest.fixture
def sign(pki: Pki, clock: FixedClock) -> SignFn:
    """sign(role="shop", body=ECHO_BODY, key=None, cert=None) -> signed envelope bytes."""

    def _sign(role: str = "shop", body: bytes = ECHO_BODY, *, key=None, cert=None, at=None) -> bytes:  # type: ignore[no-untyped-def]
        envelope = etree.fromstring(body)
        signer_clock = FixedClock(at) if at is not None else clock
        sign_envelope(
            envelope,
            key=key if key is not None else pki.key(role),
            cert=cert if cert is not None else pki.cert(role),
            clock=signer_clock,
        )
        return etree.tostring(envelope)

    return _sign


def cert_path(tmp: Path, cert: x509.Certificate) -> Path:
    from cryptography.hazmat.primitives.serialization import Encoding

    path = tmp / "cert.pem"
    path.write_bytes(cert.public_bytes(Encoding.PEM))
    return path
