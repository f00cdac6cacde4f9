"""Payload encryption end to end, and the codec endpoint operators read it through.

A lead's email sent through the API is ciphertext in the raw history (read by a client
without the codec) and in the Temporal server's database file, and plain again through
``POST /codec/decode`` with an operator key, as the Temporal UI calls it.
"""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from google.protobuf import json_format
from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from engine.models.jobs import SEARCH_ATTRIBUTES
from engine.services.codec import ENCODING, KEY_ID
from tests.conftest import (
    ADMIN_KEY,
    BIN,
    Stack,
    make_settings,
    new_user,
    run_stack,
    session_converter,
)

UI = "http://127.0.0.1:8233"


def lead_email() -> str:
    return f"ann.{uuid.uuid4().hex[:10]}@leads.example"


def payloads_in(message: Message) -> list[Payload]:
    """Every payload anywhere inside a proto message (as stored: nothing decoded)."""
    if isinstance(message, Payload):
        return [message]
    found: list[Payload] = []
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        if field.message_type.GetOptions().map_entry:
            if field.message_type.fields_by_name["value"].message_type is not None:
                for key in value:
                    found += payloads_in(value[key])
        elif field.is_repeated:
            for item in value:
                found += payloads_in(item)
        else:
            found += payloads_in(value)
    return found


def as_json(payloads: list[Payload]) -> dict[str, Any]:
    """The body the Temporal UI sends: protobuf JSON, bytes in base64."""
    return json.loads(json_format.MessageToJson(Payloads(payloads=payloads)))


def data_of(body: dict[str, Any]) -> list[bytes]:
    return [base64.b64decode(p.get("data", "")) for p in body["payloads"]]


async def operator_key(stack: Stack, permissions: list[str]) -> str:
    async with stack.admin as admin:
        r = await admin.post("/api/v2/keys", json={"name": "operator", "permissions": permissions})
    assert r.status_code == 201, r.text
    assert r.json()["userId"] is None
    return str(r.json()["key"])


async def run_tool(stack: Stack, key: str, url: str, email: str) -> str:
    async with stack.api(key) as api:
        r = await api.post(
            "/api/v1/tools/execute",
            json={
                "toolName": "HTTP_REQUEST",
                "params": {"method": "POST", "url": url, "body": {"lead": {"email": email}}},
            },
        )
    assert r.status_code == 200, r.text
    assert r.json()["data"]["body"]["json"] == {"lead": {"email": email}}  # the API reads it
    return str(r.json()["executionId"])


async def test_a_lead_email_is_ciphertext_to_temporal_and_plain_to_operators(
    stack: Stack, target: Any
) -> None:
    email = lead_email()
    _user, key = await new_user(stack)
    execution_id = await run_tool(stack, key, target.base_url + "/echo", email)

    bare = Client(
        stack.client.service_client,
        namespace=stack.client.namespace,
        data_converter=pydantic_data_converter,  # no codec: what the server holds
    )
    history = await bare.get_workflow_handle(execution_id).fetch_history()
    raw = b"".join(event.SerializeToString() for event in history.events)
    assert email.encode() not in raw
    stored = [p for event in history.events for p in payloads_in(event)]
    sealed = [p for p in stored if p.metadata.get("encoding") == ENCODING]
    assert len(sealed) >= 3  # input, memo, the activity's input and result, the result…
    assert {p.metadata[KEY_ID] for p in sealed} == {b"test1"}

    operator = await operator_key(stack, ["codec:decode"])
    async with httpx.AsyncClient(base_url=stack.base_url) as ui:
        r = await ui.post(
            "/codec/decode",
            json=as_json(stored),
            headers={"Authorization": f"Bearer {operator}", "X-Namespace": "default", "Origin": UI},
        )
    assert r.status_code == 200, r.text
    assert r.headers["access-control-allow-origin"] == UI
    decoded = r.json()
    assert len(decoded["payloads"]) == len(stored)
    assert sum(email.encode() in data for data in data_of(decoded)) >= 2  # input and result
    assert all(base64.b64decode(p["metadata"]["encoding"]) != ENCODING for p in decoded["payloads"])
    async with stack.api(key) as api:  # listing reads the encrypted memo through the codec
        jobs = (await api.get("/api/v2/users/jobs", params={"type": "tool_execution"})).json()
    assert any(j["id"] == execution_id for j in jobs["data"]["jobs"])


async def test_encode_then_decode_round_trips(stack: Stack) -> None:
    operator = await operator_key(stack, ["codec:decode", "codec:encode"])
    original = pydantic_data_converter.payload_converter.to_payloads([{"email": lead_email()}])
    headers = {"x-api-key": operator}
    async with httpx.AsyncClient(base_url=stack.base_url, headers=headers) as cli:
        encoded = await cli.post("/codec/default/encode", json=as_json(original))
        assert encoded.status_code == 200, encoded.text
        [sealed] = encoded.json()["payloads"]
        assert base64.b64decode(sealed["metadata"]["encoding"]) == ENCODING
        decoded = await cli.post("/codec/default/decode", json=encoded.json())
    assert decoded.status_code == 200
    assert decoded.json() == as_json(original)


async def test_bad_bodies_and_foreign_ciphertext_are_422(stack: Stack) -> None:
    headers = {"x-api-key": ADMIN_KEY}
    foreign = Payload(metadata={"encoding": ENCODING, KEY_ID: b"gone"}, data=b"\0" * 40)
    async with httpx.AsyncClient(base_url=stack.base_url, headers=headers) as cli:
        bad = await cli.post("/codec/decode", content=b"{not json")
        unreadable = await cli.post("/codec/decode", json=as_json([foreign]))
    assert bad.status_code == 422 and bad.json()["code"] == "INVALID_PAYLOADS"
    assert unreadable.status_code == 422 and unreadable.json()["code"] == "PAYLOAD_UNREADABLE"


async def test_only_operator_keys_with_the_codec_scope_decode(stack: Stack) -> None:
    _user, user_key = await new_user(stack)  # a user key holding "*"
    reader = await operator_key(stack, ["users:read"])
    decoder = await operator_key(stack, ["codec:decode"])
    body = as_json(pydantic_data_converter.payload_converter.to_payloads(["x"]))
    async with httpx.AsyncClient(base_url=stack.base_url) as cli:

        async def status(path: str, **headers: str) -> int:
            return (await cli.post(path, json=body, headers=headers)).status_code

        assert await status("/codec/decode") == 401
        assert await status("/codec/decode", authorization="Bearer bna_" + "0" * 64) == 401
        assert await status("/codec/decode", authorization=f"Bearer {user_key}") == 403
        assert await status("/codec/decode", authorization=f"Bearer {reader}") == 403
        assert await status("/codec/decode", authorization=f"Bearer {decoder}") == 200
        assert await status("/codec/decode", **{"x-api-key": decoder}) == 200
        assert await status("/codec/encode", authorization=f"Bearer {decoder}") == 403
        assert await status("/codec/encode", authorization=f"Bearer {ADMIN_KEY}") == 200


async def test_preflight_answers_the_ui_origin_only(stack: Stack) -> None:
    asked = {
        "access-control-request-method": "POST",
        "access-control-request-headers": "content-type,x-namespace,authorization",
    }
    async with httpx.AsyncClient(base_url=stack.base_url) as cli:
        ok = await cli.options("/codec/decode", headers={**asked, "origin": UI})
        other = await cli.options("/codec/decode", headers={**asked, "origin": "https://evil.test"})
        refused = await cli.post("/codec/decode", json={"payloads": []}, headers={"origin": UI})
    assert ok.status_code == 204
    assert ok.headers["access-control-allow-origin"] == UI
    assert ok.headers["access-control-allow-credentials"] == "true"
    allowed = {h.strip() for h in ok.headers["access-control-allow-headers"].split(",")}
    assert {"content-type", "x-namespace", "authorization"} <= allowed
    assert "POST" in ok.headers["access-control-allow-methods"]
    assert other.status_code == 403 and "access-control-allow-origin" not in other.headers
    # An error reaches the UI readable too (not as an opaque CORS failure).
    assert refused.status_code == 401 and refused.headers["access-control-allow-origin"] == UI


async def test_signing_in_sets_the_cookie_the_ui_sends(stack: Stack) -> None:
    decoder = await operator_key(stack, ["codec:decode"])
    _user, user_key = await new_user(stack)
    body = as_json(pydantic_data_converter.payload_converter.to_payloads(["x"]))
    async with httpx.AsyncClient(base_url=stack.base_url) as browser:
        page = await browser.get("/codec/session")
        assert page.status_code == 200 and 'name="key"' in page.text
        refused = await browser.post("/codec/session", data={"key": user_key})
        assert refused.status_code == 403 and "taskyard_codec" not in browser.cookies
        r = await browser.post("/codec/session", data={"key": decoder})
        assert r.status_code == 200, r.text
        cookie = r.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie and "path=/codec" in cookie
        assert (await browser.post("/codec/decode", json=body)).status_code == 200
        # The cookie is a credential for the codec only.
        assert (await browser.get("/api/v2/keys")).status_code == 401
        await browser.post("/codec/session", data={"signout": "1"})
        assert (await browser.post("/codec/decode", json=body)).status_code == 401


async def read_files(path: Path) -> bytes:
    files = sorted(str(p) for p in path.parent.glob(path.name + "*"))
    reader = await asyncio.create_subprocess_exec("cat", *files, stdout=asyncio.subprocess.PIPE)
    content, _ = await reader.communicate()
    return content


@pytest.mark.slow
async def test_the_temporal_database_file_holds_only_ciphertext(
    database_url: str, tmp_path: Path, target: Any
) -> None:
    """The session's dev server keeps its state in memory, so this one has a file: a run
    with encryption on leaves no trace of the email in it, and (the control, so the search
    is known to see payloads) a run with encryption off does."""
    db_file = tmp_path / "temporal.db"
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(BIN / "temporal"),
        dev_server_database_filename=str(db_file),
        search_attributes=SEARCH_ATTRIBUTES,
        data_converter=session_converter(),
        dev_server_log_level="error",
    )
    emails = {True: lead_email(), False: lead_email()}
    try:
        for encrypted, email in emails.items():
            state = tmp_path / f"state-{encrypted}"
            state.mkdir()
            settings = make_settings(env, database_url, state, payload_encryption=encrypted)
            async with run_stack(env, settings) as stack:
                _user, key = await new_user(stack)
                await run_tool(stack, key, target.base_url + "/echo", email)
    finally:
        await env.shutdown()
    content = await read_files(db_file)
    assert emails[False].encode() in content
    assert emails[True].encode() not in content
    assert ENCODING in content
