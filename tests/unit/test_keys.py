from __future__ import annotations

import stat
from concurrent.futures import ThreadPoolExecutor

import pytest

from mts_service.errors import InternalError
from mts_service.services.keys import ServiceKeys, load_or_create_secret


def test_secret_is_created_once_with_private_mode_even_when_raced(tmp_path):
    path = tmp_path / "secret.hex"
    with ThreadPoolExecutor(8) as pool:
        secrets = set(pool.map(lambda _: load_or_create_secret(path), range(16)))
    assert len(secrets) == 1 and len(secrets.pop()) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["secret.hex"]


def test_sealed_receipt_opens_only_with_its_message_id_and_secret():
    keys = ServiceKeys.from_secret(b"k" * 32)
    sealed = keys.sealer.seal("m1", "Code ABCD1234")
    assert keys.sealer.open("m1", sealed) == "Code ABCD1234"
    assert b"ABCD1234" not in sealed
    with pytest.raises(InternalError):
        keys.sealer.open("m2", sealed)
    with pytest.raises(InternalError):
        ServiceKeys.from_secret(b"x" * 32).sealer.open("m1", sealed)


def test_code_hash_is_keyed_and_normalised():
    keys = ServiceKeys.from_secret(b"k" * 32)
    other = ServiceKeys.from_secret(b"j" * 32)
    assert keys.code_hasher.hash("abcd-1234") == keys.code_hasher.hash("ABCD1234")
    assert keys.code_hasher.hash("ABCD1234") != other.code_hasher.hash("ABCD1234")
    assert keys.code_hasher.matches("abcdl234", keys.code_hasher.hash("ABCD1234"))
