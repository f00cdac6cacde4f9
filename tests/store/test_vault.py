"""AES-256-GCM vault: round trips, binding to owner and record, key rotation."""

from __future__ import annotations

import os

import pytest

from store.vault import Vault, VaultError, associated_data

K1, K2 = os.urandom(32), os.urandom(32)


def test_round_trip_and_fresh_nonce() -> None:
    vault = Vault({"k1": K1})
    aad = associated_data("user1", "credential", "cred_1")
    a, b = vault.encrypt(b"secret", aad), vault.encrypt(b"secret", aad)
    assert a != b and a.startswith("v1.k1.")
    assert vault.decrypt(a, aad) == b"secret"
    assert b"secret" not in a.encode()


@pytest.mark.parametrize(
    "other",
    [
        associated_data("user2", "credential", "cred_1"),
        associated_data("user1", "credential", "cred_2"),
        associated_data("user1", "sealed", "cred_1"),
    ],
)
def test_ciphertext_is_bound_to_owner_kind_and_record(other: bytes) -> None:
    vault = Vault({"k1": K1})
    token = vault.encrypt(b"secret", associated_data("user1", "credential", "cred_1"))
    with pytest.raises(VaultError):
        vault.decrypt(token, other)


def test_tampering_and_unknown_keys_fail() -> None:
    vault = Vault({"k1": K1})
    aad = associated_data("u", "k", "r")
    token = vault.encrypt(b"secret", aad)
    flipped = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    with pytest.raises(VaultError):
        vault.decrypt(flipped, aad)
    with pytest.raises(VaultError):
        Vault({"k9": K2}).decrypt(token, aad)
    with pytest.raises(VaultError):
        vault.decrypt("garbage", aad)


def test_rotation_keeps_old_ciphertexts_readable() -> None:
    aad = associated_data("u", "k", "r")
    old = Vault({"k1": K1}).encrypt_json({"a": 1}, aad)
    rotated = Vault({"k2": K2, "k1": K1})
    assert rotated.needs_rotation(old)
    assert rotated.decrypt_json(old, aad) == {"a": 1}
    new = rotated.encrypt_json({"a": 1}, aad)
    assert rotated.key_id(new) == "k2" and not rotated.needs_rotation(new)


def test_bad_keys_are_refused() -> None:
    with pytest.raises(ValueError):
        Vault({})
    with pytest.raises(ValueError):
        Vault({"k": b"short"})
