"""Server-side keys, derived from one secret: the code-hash key and the receipt-sealing key.

Deriving both with HKDF under distinct labels means one secret to provision per deployment
(shared by every node), and a leak of one derived key does not give the other.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from mts_service.domain.codes import CodeHasher
from mts_service.errors import InternalError


def _derive(secret: bytes, label: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"mts/" + label).derive(secret)


class ReceiptSealer:
    """AES-GCM over a stored reply text, bound to its messageId."""

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    def seal(self, message_id: str, text: str) -> bytes:
        nonce = os.urandom(12)
        return nonce + self._aead.encrypt(nonce, text.encode("utf-8"), message_id.encode("utf-8"))

    def open(self, message_id: str, sealed: bytes) -> str:
        try:
            return self._aead.decrypt(sealed[:12], sealed[12:], message_id.encode("utf-8")).decode("utf-8")
        except InvalidTag:
            # Wrong secret on this node, or a tampered row: ours to fix, not the caller's.
            raise InternalError("stored receipt cannot be opened (server secret mismatch?)") from None


@dataclass(frozen=True)
class ServiceKeys:
    code_hasher: CodeHasher
    sealer: ReceiptSealer

    @classmethod
    def from_secret(cls, secret: bytes) -> ServiceKeys:
        if len(secret) < 32:
            raise ValueError("the MTS secret must be at least 32 bytes")
        return cls(CodeHasher(_derive(secret, b"code-hash")), ReceiptSealer(_derive(secret, b"receipt-seal")))


def load_or_create_secret(path: Path) -> bytes:
    """The deployment secret from a file (hex), created with mode 0600 when missing.

    Several workers may start at once: the new secret is written whole to a temporary file
    and hard-linked into place, so a reader never sees a half-written file and exactly one
    creator wins; the others read the winner's secret.
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_bytes(32).hex() + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(temporary)
    secret = bytes.fromhex(path.read_text().strip())
    if len(secret) < 32:
        raise ValueError(f"{path}: the MTS secret must be at least 32 bytes (64 hex digits)")
    return secret
