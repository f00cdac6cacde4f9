"""The payload codec: sealing, pass-through of plain payloads, rotation, tampering."""

from __future__ import annotations

import os

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.api.failure.v1 import Failure
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ApplicationError

from engine.services.codec import (
    AAD,
    ENCODING,
    KEY_ID,
    EncryptionCodec,
    PayloadUnreadable,
    taskyard_converter,
)
from store.vault import Vault, associated_data

OLD, NEW = os.urandom(32), os.urandom(32)
EMAIL = "ann.lead@example.com"


def plain(text: str) -> Payload:
    return pydantic_data_converter.payload_converter.to_payloads([{"email": text}])[0]


async def test_a_payload_is_sealed_under_the_primary_key_and_opens_again() -> None:
    codec = EncryptionCodec(Vault({"new": NEW, "old": OLD}))
    original = plain(EMAIL)
    [sealed] = await codec.encode([original])
    assert sealed.metadata["encoding"] == ENCODING and sealed.metadata[KEY_ID] == b"new"
    assert EMAIL.encode() not in sealed.SerializeToString()
    assert (await codec.encode([original]))[0].data != sealed.data  # a fresh nonce each time
    assert await codec.decode([sealed]) == [original]


async def test_plain_payloads_pass_through_decode() -> None:
    """Histories written before encryption (or with it off) still read."""
    codec = EncryptionCodec(Vault({"new": NEW}))
    original = plain(EMAIL)
    assert await codec.decode([original]) == [original]


async def test_rotation_old_payloads_open_while_their_key_is_in_the_ring() -> None:
    [under_old] = await EncryptionCodec(Vault({"old": OLD})).encode([plain(EMAIL)])
    rotated = EncryptionCodec(Vault({"new": NEW, "old": OLD}))
    assert await rotated.decode([under_old]) == [plain(EMAIL)]
    assert (await rotated.encode([plain(EMAIL)]))[0].metadata[KEY_ID] == b"new"
    with pytest.raises(PayloadUnreadable, match="'old'"):
        await EncryptionCodec(Vault({"new": NEW})).decode([under_old])


async def test_altered_or_foreign_ciphertext_does_not_open() -> None:
    vault = Vault({"k": NEW})
    codec = EncryptionCodec(vault)
    [sealed] = await codec.encode([plain(EMAIL)])
    tampered = Payload()
    tampered.CopyFrom(sealed)
    tampered.data = sealed.data[:-1] + bytes([sealed.data[-1] ^ 1])
    with pytest.raises(PayloadUnreadable):
        await codec.decode([tampered])
    # A credential sealed with the same key is bound to its record, not to payloads.
    kid, blob = vault.seal(b"secret", associated_data("u1", "credential", "c1"))
    foreign = Payload(metadata={"encoding": ENCODING, KEY_ID: kid.encode()}, data=blob)
    with pytest.raises(PayloadUnreadable):
        await codec.decode([foreign])
    assert vault.open(kid, (await codec.encode([plain("x")]))[0].data, AAD)


async def test_off_writes_plain_payloads_but_still_reads_sealed_ones() -> None:
    ring = {"k": NEW}
    [sealed] = await EncryptionCodec(Vault(ring)).encode([plain(EMAIL)])
    off = taskyard_converter(ring, encrypt=False)
    [written] = await off.encode([{"email": EMAIL}])
    assert EMAIL.encode() in written.data and written.metadata["encoding"] == b"json/plain"
    assert await off.decode([sealed], [dict]) == [{"email": EMAIL}]


async def test_failure_messages_are_sealed_and_restored() -> None:
    converter = taskyard_converter({"k": NEW})
    failure = Failure()
    await converter.encode_failure(ApplicationError(f"no lead {EMAIL}", type="Missing"), failure)
    assert EMAIL.encode() not in failure.SerializeToString()
    assert failure.message == "Encoded failure"
    error = await converter.decode_failure(failure)
    assert isinstance(error, ApplicationError) and error.message == f"no lead {EMAIL}"
    assert error.type == "Missing"
