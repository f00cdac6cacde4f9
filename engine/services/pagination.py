"""Opaque, signed page tokens.

A page token wraps the position of the next page (Temporal's visibility token, or a
database cursor) with an HMAC bound to the caller and to the exact query, so a token is
only ever accepted back by the listing that issued it, for the user it was issued to.
A forged, altered or foreign token is refused by one HMAC check, before any database or
Temporal call: user input never reaches a call that a client library would retry.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

from store.errors import InvalidError

PURPOSE = b"taskyard:page-tokens:v1"
MAX_TOKEN_LENGTH = 4096


class InvalidPageToken(InvalidError, ValueError):
    """A page token this listing did not issue (or issued for another query or user); the
    listings answer it as a bad query (400)."""

    code = "INVALID_QUERY"

    def __init__(self, field: str = "pageToken") -> None:
        super().__init__(f"invalid {field}", field=field)


class PageTokens:
    """Signs and opens page tokens with keys derived from the master key ring."""

    def __init__(self, master_keys: dict[str, bytes]) -> None:
        if not master_keys:
            raise ValueError("page tokens need at least one master key")
        # One derived key per master key: tokens survive a rotation while the old key stays
        # in the ring; the first key signs.
        self._keys = [hmac.new(k, PURPOSE, hashlib.sha256).digest() for k in master_keys.values()]

    @staticmethod
    def _mac(key: bytes, owner: str, scope: str, position: bytes) -> bytes:
        message = b"\x1f".join((owner.encode(), hashlib.sha256(scope.encode()).digest(), position))
        return hmac.new(key, message, hashlib.sha256).digest()[:16]

    def sign(self, position: bytes, *, owner: str, scope: str) -> str:
        """A token for ``position`` that only ``owner`` may send back, to the same ``scope``."""
        mac = self._mac(self._keys[0], owner, scope, position)
        return base64.urlsafe_b64encode(mac + position).decode().rstrip("=")

    def open(self, token: str, *, owner: str, scope: str, field: str = "pageToken") -> bytes:
        """The position inside a token this listing issued; ``InvalidPageToken`` otherwise."""
        if not token or len(token) > MAX_TOKEN_LENGTH:
            raise InvalidPageToken(field)
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (binascii.Error, ValueError) as exc:
            raise InvalidPageToken(field) from exc
        mac, position = raw[:16], raw[16:]
        if len(mac) != 16 or not position:
            raise InvalidPageToken(field)
        for key in self._keys:
            if hmac.compare_digest(mac, self._mac(key, owner, scope, position)):
                return position
        raise InvalidPageToken(field)
