"""HTTP connector: one authenticated request to any public URL.

Speaks plain HTTP/1.1 over httpx. Auth: bearer token, basic, or an API key in a
header or query parameter, given inline or from a ``custom`` credential. The
address connected to is checked by ``connectors.netguard``.
"""

from __future__ import annotations

import base64
import functools
import json
import ssl
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field

from connectors import netguard
from connectors.base import Action, ActionContext, Connector, CredentialField
from connectors.errors import InvalidInputError, TransientError

MAX_BODY_BYTES = 1024 * 1024


class HttpAuth(BaseModel):
    """How to authenticate; secret values are sealed by the API before a workflow sees them."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["bearer", "basic", "api_key", "none"] = "none"
    token: str | None = None
    username: str | None = None
    password: str | None = None
    key: str | None = None
    header: str = "X-API-Key"
    location: Literal["header", "query"] = Field(default="header", alias="in")


class HttpRequestInput(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"] = "GET"
    url: str = Field(min_length=1, max_length=8192)
    headers: dict[str, str] = Field(default_factory=dict)
    query: dict[str, str] = Field(default_factory=dict)
    body: Any = None
    auth: HttpAuth | None = None
    timeout_seconds: float = Field(default=30.0, gt=0, le=300, alias="timeout")
    follow_redirects: bool = Field(default=True, alias="followRedirects")


class HttpRequestOutput(BaseModel):
    status: int
    headers: dict[str, str]
    body: Any
    truncated: bool = False


@functools.lru_cache(maxsize=1)
def _tls() -> ssl.SSLContext:
    """One verifying TLS context per process: building one per request (loading the CA
    bundle) costs more than a loopback request itself."""
    return httpx.create_ssl_context()


def _auth_into(auth: HttpAuth, headers: dict[str, str], query: dict[str, str]) -> str | None:
    """Add the credential to the request; returns the header it went into, if any."""
    if auth.type == "bearer":
        if not auth.token:
            raise InvalidInputError("auth.token is required for bearer auth")
        headers["Authorization"] = f"Bearer {auth.token}"
        return "Authorization"
    if auth.type == "basic":
        if auth.username is None or auth.password is None:
            raise InvalidInputError("auth.username and auth.password are required for basic auth")
        raw = f"{auth.username}:{auth.password}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(raw).decode("ascii")
        return "Authorization"
    if auth.type == "api_key":
        if not auth.key:
            raise InvalidInputError("auth.key is required for api_key auth")
        if auth.location == "query":
            query[auth.header] = auth.key
            return None
        headers[auth.header] = auth.key
        return auth.header
    return None


def _encode_body(body: Any, headers: dict[str, str]) -> bytes | None:
    if body is None:
        return None
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode()
    if not any(k.lower() == "content-type" for k in headers):
        headers["Content-Type"] = "application/json"
    return json.dumps(body).encode()


def _decode_body(raw: bytes, content_type: str) -> Any:
    text = raw.decode("utf-8", errors="replace")
    if "json" in content_type.lower():
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


async def request(ctx: ActionContext, data: HttpRequestInput) -> HttpRequestOutput:
    """Send the request; any HTTP status is a result, network failures are errors."""
    headers = dict(data.headers)
    query = dict(data.query)
    auth = data.auth
    if auth is None and ctx.credentials:
        auth = HttpAuth.model_validate(dict(ctx.credentials))
    # The credential's header never follows a redirect to another origin, whatever its name.
    secret_headers: list[str] = []
    if auth is not None:
        added = _auth_into(auth, headers, query)
        if added is not None:
            secret_headers.append(added)
    content = _encode_body(data.body, headers)
    try:
        async with httpx.AsyncClient(verify=_tls()) as client:
            response = await netguard.send(
                client,
                data.method,
                data.url,
                allow_private=ctx.allow_private_urls,
                headers=headers,
                params=query or None,
                content=content,
                timeout=data.timeout_seconds,
                max_redirects=5 if data.follow_redirects else 0,
                secret_headers=secret_headers,
            )
            try:
                chunks: list[bytes] = []
                size = 0
                truncated = False
                # (No heartbeat per chunk: the activity heartbeats every second while this
                # runs, and a heartbeat per request would cost the server a write per step.)
                async for chunk in response.aiter_bytes():
                    chunks.append(chunk)
                    size += len(chunk)
                    if size > MAX_BODY_BYTES:
                        truncated = True
                        break
            finally:
                await response.aclose()
    except httpx.TimeoutException as exc:
        raise TransientError(f"request timed out after {data.timeout_seconds}s") from exc
    except httpx.HTTPError as exc:
        raise TransientError(f"request failed: {type(exc).__name__}") from exc
    raw = b"".join(chunks)[:MAX_BODY_BYTES]
    return HttpRequestOutput(
        status=response.status_code,
        headers={k: v for k, v in response.headers.items()},
        body=_decode_body(raw, response.headers.get("content-type", "")),
        truncated=truncated,
    )


CONNECTOR = Connector(
    type="http",
    name="HTTP",
    description="Make an authenticated HTTP request",
    categories=("developer tools", "webhooks", "api"),
    credential_type="custom",
    credential_fields=(
        CredentialField("type", secret=False, required=False, description="bearer|basic|api_key"),
        CredentialField("token", required=False),
        CredentialField("username", secret=False, required=False),
        CredentialField("password", required=False),
        CredentialField("key", required=False),
        CredentialField("header", secret=False, required=False),
    ),
    actions={
        "request": Action(
            name="request",
            description="Make an authenticated HTTP request",
            input_model=HttpRequestInput,
            output_model=HttpRequestOutput,
            handler=request,
        )
    },
    requires_credentials=False,
)
