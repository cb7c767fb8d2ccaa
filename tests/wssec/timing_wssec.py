"""Per-message cost of sign_envelope and verify_envelope (a measurement script, not a test).

Run: python tests/wssec/timing_wssec.py [iterations]
"""

from __future__ import annotations

import sys
import tempfile
import time

from lxml import etree

from mts_service.clock import FixedClock
from mts_service.pki import create_dev_pki, load_certificate, load_private_key
from mts_service.wssec.replay import InMemoryReplayCache
from mts_service.wssec.sign import sign_envelope
from mts_service.wssec.trust import TrustStore
from mts_service.wssec.verify import verify_envelope

BODY = (
    b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
    b'<g:SubmitSms xmlns:g="urn:mts:gateway:v1"><g:messageId>m-1</g:messageId><g:sender>+212600000000</g:sender>'
    b"<g:serviceNumber>7070</g:serviceNumber><g:text>CODE</g:text></g:SubmitSms></soap:Body></soap:Envelope>"
)


def main(n: int) -> None:
    clock = FixedClock()
    for key_type in ("rsa", "ec"):
        pki = create_dev_pki(tempfile.mkdtemp(), key_type=key_type, clock=clock)
        key, cert = load_private_key(pki.key("gateway")), load_certificate(pki.cert("gateway"))
        trust = TrustStore.from_pem_files(pki.ca_cert)
        replay = InMemoryReplayCache(clock=clock)

        def signed() -> bytes:
            return etree.tostring(sign_envelope(etree.fromstring(BODY), key=key, cert=cert, clock=clock))

        signed()
        start = time.perf_counter()
        messages = [signed() for _ in range(n)]
        sign_ms = (time.perf_counter() - start) / n * 1000
        start = time.perf_counter()
        for raw in messages:
            verify_envelope(raw, trust=trust, clock=clock, replay=replay, expected_role="gateway")
        verify_ms = (time.perf_counter() - start) / n * 1000
        print(f"{key_type}: sign_envelope {sign_ms:.2f} ms, verify_envelope {verify_ms:.2f} ms ({len(messages[0])} bytes)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 300)
