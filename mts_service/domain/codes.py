"""One-time codes: drawn from ``secrets``, stored only as a keyed hash, compared in constant time.

The hash is HMAC-SHA256 under a server key, so a stolen database does not give the codes
away (the code space is small enough to brute-force an unkeyed hash). Codes are never logged.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from mts_service.domain.text import normalise_code


def generate_code(length: int, alphabet: str) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


class CodeHasher:
    def __init__(self, key: bytes) -> None:
        if len(key) < 32:
            raise ValueError("the code hashing key must be at least 32 bytes")
        self._key = key

    def hash(self, code: str) -> str:
        return hmac.new(self._key, normalise_code(code).encode("ascii", "replace"), hashlib.sha256).hexdigest()

    def matches(self, code: str, stored_hash: str) -> bool:
        return hmac.compare_digest(self.hash(code), stored_hash)


def looks_like_code(code: str, length: int, alphabet: str) -> bool:
    normalised = normalise_code(code)
    return len(normalised) == length and all(c in alphabet for c in normalised)

