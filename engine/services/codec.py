"""Temporal payload encryption: a ``PayloadCodec`` over the master-key ring, the data converter
every Taskyard client and worker uses, and the JSON form of Temporal's codec server protocol.

Each payload is serialized whole (its metadata and data) and sealed with AES-256-GCM under
the ring's primary key (``Vault.seal``: a random 96-bit nonce per payload), with associated
data that marks it as a Temporal payload, so ciphertext of another kind (a credential, a
webhook secret) never opens as one. The sealed payload says ``encoding: binary/encrypted``
and names its key in ``encryption-key-id`` (the metadata of Temporal's encryption samples),
so the Temporal UI shows it as encrypted until a codec server opens it, and rotation works
as for credentials: new payloads under the primary key, old ones open while their key is in
the ring. Payloads without that encoding pass through decode unchanged, so histories
written before encryption was on still replay and read.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import (
    DataConverter,
    DefaultFailureConverterWithEncodedAttributes,
    PayloadCodec,
)

from store.errors import InvalidError
from store.vault import Vault, VaultError

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"
AAD = b"taskyard:temporal-payload:v1"
# One codec request: the UI sends one event's payloads; 2 MB is Temporal's own payload limit.
MAX_REQUEST_BYTES = 8 * 1024 * 1024


class PayloadUnreadable(InvalidError):
    """An encrypted payload does not open: its key left the ring, or it was altered."""

    code = "PAYLOAD_UNREADABLE"


class CodecRequestInvalid(InvalidError):
    code = "INVALID_PAYLOADS"


class EncryptionCodec(PayloadCodec):
    """AES-256-GCM over the master-key ring. ``encrypt=False`` still opens encrypted payloads
    (so switching encryption off never strands a running workflow) but writes plain ones."""

    def __init__(self, vault: Vault, *, encrypt: bool = True) -> None:
        self.vault = vault
        self.encrypt = encrypt

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        if not self.encrypt:
            return list(payloads)
        return [self.seal(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.open(p) for p in payloads]

    def seal(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") == ENCODING:
            return payload  # sealed already (a payload handed back as it was received)
        kid, blob = self.vault.seal(payload.SerializeToString(), AAD)
        return Payload(metadata={"encoding": ENCODING, KEY_ID: kid.encode()}, data=blob)

    def open(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload
        kid = payload.metadata.get(KEY_ID, b"").decode(errors="replace")
        try:
            return Payload.FromString(self.vault.open(kid, payload.data, AAD))
        except VaultError as exc:
            raise PayloadUnreadable(
                f"an encrypted payload does not open (key id {kid!r}; ring: "
                f"{', '.join(self.vault.key_ids())})"
            ) from exc


def taskyard_converter(keys: dict[str, bytes], *, encrypt: bool = True) -> DataConverter:
    """Pydantic payloads, sealed by ``EncryptionCodec``; with ``encrypt`` failure messages
    and stack traces move into the (sealed) encoded attributes too."""
    codec = EncryptionCodec(Vault(keys), encrypt=encrypt)
    if not encrypt:
        return dataclasses.replace(pydantic_data_converter, payload_codec=codec)
    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=codec,
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


async def convert_json(codec: PayloadCodec, body: bytes, *, decode: bool) -> str:
    """One codec server call: ``{"payloads": [...]}`` (protobuf JSON, base64 bytes) in and out."""
    if len(body) > MAX_REQUEST_BYTES:
        raise CodecRequestInvalid(f"a codec request is at most {MAX_REQUEST_BYTES} bytes")
    try:
        payloads = json_format.Parse(body, Payloads(), ignore_unknown_fields=True)
    except (json_format.ParseError, UnicodeDecodeError, ValueError) as exc:
        raise CodecRequestInvalid(
            'expected {"payloads": [{"metadata": {...}, "data": "<base64>"}]}'
        ) from exc
    convert = codec.decode if decode else codec.encode
    out = Payloads(payloads=await convert(payloads.payloads))
    return json_format.MessageToJson(out, indent=None)
