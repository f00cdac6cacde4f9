"""AES-256-GCM for everything secret we keep.

A ciphertext is ``v1.<key id>.<base64url(nonce ‖ ciphertext+tag)>``: a random
96-bit nonce per message, the key id so keys can rotate, and associated data
that binds it to its owner and record, so a ciphertext copied onto another row
or another user's record fails to decrypt.
"""

from __future__ import annotations

import base64
import json
import os
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM


class VaultError(Exception):
    """A ciphertext could not be opened (wrong key, wrong record, or tampered)."""


def associated_data(owner_id: str, kind: str, record_id: str) -> bytes:
    return f"taskyard:{kind}:{owner_id}:{record_id}".encode()


class Vault:
    def __init__(self, keys: dict[str, bytes]) -> None:
        if not keys:
            raise ValueError("the vault needs at least one key")
        for kid, key in keys.items():
            if len(key) != 32 or "." in kid:
                raise ValueError(f"key {kid!r} must be 32 bytes with no '.' in its id")
        self._keys = dict(keys)
        self._ciphers = {kid: AESGCM(key) for kid, key in keys.items()}
        self.primary_kid = next(iter(keys))

    def key_ids(self) -> list[str]:
        """Every key id in the ring, the primary first."""
        return list(self._keys)

    def seal(self, plaintext: bytes, aad: bytes) -> tuple[str, bytes]:
        """Raw form for binary containers (Temporal payloads): (key id, nonce ‖ ciphertext+tag).

        The same cipher, nonce size and ring as ``encrypt``, without the text envelope; the
        caller keeps the key id beside the blob.
        """
        nonce = os.urandom(12)
        return self.primary_kid, nonce + self._ciphers[self.primary_kid].encrypt(
            nonce, plaintext, aad
        )

    def open(self, kid: str, blob: bytes, aad: bytes) -> bytes:
        """Opens what ``seal`` made under any key of the ring; VaultError otherwise."""
        cipher = self._ciphers.get(kid)
        if cipher is None:
            raise VaultError(f"unknown key id {kid!r}")
        try:
            return cipher.decrypt(blob[:12], blob[12:], aad)
        except InvalidTag as exc:
            raise VaultError("ciphertext does not open with this key") from exc

    def encrypt(self, plaintext: bytes, aad: bytes) -> str:
        nonce = os.urandom(12)
        sealed = self._ciphers[self.primary_kid].encrypt(nonce, plaintext, aad)
        body = base64.urlsafe_b64encode(nonce + sealed).decode("ascii").rstrip("=")
        return f"v1.{self.primary_kid}.{body}"

    def decrypt(self, token: str, aad: bytes) -> bytes:
        try:
            version, kid, body = token.split(".", 2)
        except ValueError as exc:
            raise VaultError("malformed ciphertext") from exc
        if version != "v1" or kid not in self._keys:
            raise VaultError(f"unknown key id {kid!r}")
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        try:
            return self._ciphers[kid].decrypt(raw[:12], raw[12:], aad)
        except InvalidTag as exc:
            raise VaultError("ciphertext does not open with this key and record") from exc

    def key_id(self, token: str) -> str:
        return token.split(".", 2)[1]

    def needs_rotation(self, token: str) -> bool:
        return self.key_id(token) != self.primary_kid

    def encrypt_json(self, value: Any, aad: bytes) -> str:
        return self.encrypt(json.dumps(value, separators=(",", ":")).encode(), aad)

    def decrypt_json(self, token: str, aad: bytes) -> Any:
        return json.loads(self.decrypt(token, aad))
