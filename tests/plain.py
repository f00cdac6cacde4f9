"""Histories with their payloads opened by a client's codec.

Recorded histories (tests/histories) are kept plain: a session's master key is random, and
plain payloads replay through the codec unchanged. Tests that look for a value in a
history open it here first (the raw history holds ciphertext).
"""

from __future__ import annotations

from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload
from temporalio.client import Client, WorkflowHistory
from temporalio.converter import PayloadCodec


async def open_payloads(message: Message, codec: PayloadCodec) -> None:
    """Decode, in place, every ``Payload`` anywhere inside ``message``."""
    if isinstance(message, Payload):
        message.CopyFrom((await codec.decode([message]))[0])
        return
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        if field.message_type.GetOptions().map_entry:
            if field.message_type.fields_by_name["value"].message_type is not None:
                for key in value:
                    await open_payloads(value[key], codec)
        elif field.is_repeated:
            for item in value:
                await open_payloads(item, codec)
        else:
            await open_payloads(value, codec)


async def plain(history: WorkflowHistory, client: Client) -> WorkflowHistory:
    codec = client.data_converter.payload_codec
    events = list(history.events)
    if codec is not None:
        for event in events:
            await open_payloads(event, codec)
    return WorkflowHistory(history.workflow_id, events)
