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
    """``length`` characters drawn uniformly from ``alphabet`` (up to 256 characters).

    One ``secrets.token_bytes`` call per batch instead of ``secrets.choice`` per character
    (a system call each: a quarter of the code's cost on a SubmitSms). A byte at or above
    the largest multiple of ``len(alphabet)`` is dropped rather than folded, so no
    character is more likely than another.
    """
    size = len(alphabet)
    if not 0 < size <= 256:
        raise ValueError("the alphabet must hold 1 to 256 characters")
    limit = 256 - 256 % size
    drawn: list[str] = []
    while len(drawn) < length:
        drawn += [alphabet[byte % size] for byte in secrets.token_bytes(length + 8) if byte < limit]
    return "".join(drawn[:length])


class CodeHasher:
    def __init__(self, key: bytes) -> None:
        if len(key) < 32:
            raise ValueError("the code hashing key must be at least 32 bytes")
        self._key = key

    def hash(self, code: str) -> str:
        # hmac.digest: the one-shot C path (hmac.new builds two Python hash objects per call).
        return hmac.digest(self._key, normalise_code(code).encode("ascii", "replace"), hashlib.sha256).hex()

    def matches(self, code: str, stored_hash: str) -> bool:
        return hmac.compare_digest(self.hash(code), stored_hash)


def looks_like_code(code: str, length: int, alphabet: str) -> bool:
    normalised = normalise_code(code)
    return len(normalised) == length and all(c in alphabet for c in normalised)

