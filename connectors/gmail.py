"""Gmail connector: send mail, list and read messages of the connected account.

Speaks the Gmail REST API v1 (``users.messages.send``/``list``/``get``) over
httpx against ``ctx.base_urls["gmail"]``. Auth: an ``oauth2`` credential with a
Google access token (``Authorization: Bearer``) plus the refresh token and OAuth
client that minted it. An access token past ``expires_at`` (or answered with 401
once) is refreshed at Google's token endpoint (``ctx.base_urls["google_token"]``,
``grant_type=refresh_token``, RFC 6749 §6, via ``connectors.oauth``) and the call
is made once more; a refused refresh (``invalid_grant``, ...) is ``AuthError``.

Refreshing does not write anywhere: every output carries ``refreshed_credentials``,
``None`` when nothing changed, else the fields to merge into the stored credential
(``access_token``, ``expires_at`` and, if Google rotated it, ``refresh_token``).
The caller persists them and keeps them out of workflow history.
"""

from __future__ import annotations

import base64
import binascii
import email.utils
import time
from email.message import EmailMessage
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.config import JsonDict

from connectors import oauth
from connectors.base import Action, ActionContext, Connector, CredentialField
from connectors.errors import (
    AuthError,
    ConnectorError,
    InvalidInputError,
    NotFoundError,
    RateLimitedError,
    TransientError,
    retry_after_seconds,
)

DEFAULT_BASE_URL = "https://gmail.googleapis.com"
DEFAULT_TOKEN_URL = "https://oauth2.googleapis.com/token"
EXPIRY_MARGIN_SECONDS = 60
RATE_LIMIT_REASONS = frozenset(
    {"rateLimitExceeded", "userRateLimitExceeded", "dailyLimitExceeded", "quotaExceeded"}
)


class Attachment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    filename: str = Field(min_length=1, max_length=255)
    content_base64: str = Field(
        json_schema_extra={
            "pattern": r"^([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"
        }
    )
    mime_type: str = Field(default="application/octet-stream", pattern=r"^[\w.+-]+/[\w.+-]+$")

    @field_validator("content_base64")
    @classmethod
    def _decodes(cls, value: str) -> str:
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValueError("content_base64 is not valid base64") from exc
        return value


EMAILS: JsonDict = {"items": {"type": "string", "format": "email"}}


class SendEmailInput(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "anyOf": [
                {"required": ["body"], "properties": {"body": {"minLength": 1}}},
                {"required": ["html"], "properties": {"html": {"type": "string"}}},
            ]
        },
    )

    to: list[str] = Field(min_length=1, json_schema_extra=EMAILS)
    cc: list[str] = Field(default_factory=list, json_schema_extra=EMAILS)
    bcc: list[str] = Field(default_factory=list, json_schema_extra=EMAILS)
    subject: str = Field(max_length=998, json_schema_extra={"pattern": r"^[^\r\n]*$"})
    body: str = Field(default="", description="Plain-text body")
    html: str | None = None
    attachments: list[Attachment] = Field(default_factory=list)

    @field_validator("to", "cc", "bcc")
    @classmethod
    def _addresses(cls, values: list[str]) -> list[str]:
        for value in values:
            if "\r" in value or "\n" in value or "@" not in email.utils.parseaddr(value)[1]:
                raise ValueError(f"not an email address: {value!r}")
        return values

    @field_validator("subject")
    @classmethod
    def _one_line(cls, value: str) -> str:
        if "\r" in value or "\n" in value:
            raise ValueError("subject must be one line")
        return value

    @model_validator(mode="after")
    def _has_body(self) -> SendEmailInput:
        if not self.body and self.html is None:
            raise ValueError("give body, html or both")
        return self


class SendEmailOutput(BaseModel):
    id: str
    thread_id: str | None = None
    label_ids: list[str] = Field(default_factory=list)
    refreshed_credentials: dict[str, Any] | None = None


class ListMessagesInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    q: str | None = Field(default=None, description="Gmail search, e.g. 'from:ada is:unread'")
    max_results: int = Field(default=100, ge=1, le=500)
    page_token: str | None = None


class MessageRef(BaseModel):
    id: str
    thread_id: str | None = None


class ListMessagesOutput(BaseModel):
    messages: list[MessageRef] = Field(default_factory=list)
    next_page_token: str | None = None
    result_size_estimate: int = 0
    refreshed_credentials: dict[str, Any] | None = None


class GetMessageInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[A-Za-z0-9_-]+$")
    format: Literal["full", "metadata", "minimal", "raw"] = "full"


class GetMessageOutput(BaseModel):
    id: str
    thread_id: str | None = None
    label_ids: list[str] = Field(default_factory=list)
    snippet: str | None = None
    internal_date: str | None = None
    size_estimate: int | None = None
    headers: dict[str, str] = Field(default_factory=dict, description="First value of each header")
    payload: dict[str, Any] | None = None
    raw: str | None = Field(default=None, description="base64url RFC 2822 message (format=raw)")
    refreshed_credentials: dict[str, Any] | None = None


def build_raw_message(data: SendEmailInput) -> str:
    """The RFC 2822 message, base64url-encoded as Gmail's ``raw`` field wants it."""
    msg = EmailMessage()
    msg["To"] = ", ".join(data.to)
    if data.cc:
        msg["Cc"] = ", ".join(data.cc)
    if data.bcc:
        msg["Bcc"] = ", ".join(data.bcc)  # Gmail delivers to Bcc and strips the header
    msg["Subject"] = data.subject
    msg["Date"] = email.utils.formatdate(usegmt=True)
    if data.html is None:
        msg.set_content(data.body)
    elif data.body:
        msg.set_content(data.body)
        msg.add_alternative(data.html, subtype="html")
    else:
        msg.set_content(data.html, subtype="html")
    for item in data.attachments:
        maintype, subtype = item.mime_type.split("/", 1)
        msg.add_attachment(
            base64.b64decode(item.content_base64),
            maintype=maintype,
            subtype=subtype,
            filename=item.filename,
        )
    return base64.urlsafe_b64encode(msg.as_bytes()).decode("ascii")


def _map_error(response: httpx.Response) -> ConnectorError:
    """Map Google's ``{"error": {"code", "message", "status", "errors"}}`` answer."""
    status = response.status_code
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        error = None
    error = error if isinstance(error, dict) else {}
    google_status = error.get("status")
    reasons = {e.get("reason") for e in error.get("errors") or [] if isinstance(e, dict)}
    message = f"Gmail: {google_status or status}: {error.get('message', '')}".rstrip(": ")
    if status == 429 or google_status == "RESOURCE_EXHAUSTED" or reasons & RATE_LIMIT_REASONS:
        after = retry_after_seconds(response.headers.get("retry-after"))
        return RateLimitedError(message, retry_after=after, status_code=status)
    if status in (401, 403):
        return AuthError(message, status_code=status)
    if status == 404:
        return NotFoundError(message, status_code=status)
    if status >= 500:
        return TransientError(message, status_code=status)
    return InvalidInputError(message, status_code=status)


class _Session:
    """Holds the access token for one action, refreshing it at most once."""

    def __init__(self, ctx: ActionContext, client: httpx.AsyncClient) -> None:
        creds = ctx.credentials
        self.ctx = ctx
        self.client = client
        self.access_token = str(creds.get("access_token") or "")
        self.refresh_token = str(creds.get("refresh_token") or "")
        self.client_id = str(creds.get("client_id") or "")
        self.client_secret = str(creds.get("client_secret") or "")
        try:
            self.expires_at: float | None = float(creds["expires_at"])
        except (KeyError, TypeError, ValueError):
            self.expires_at = None  # unknown: use the token until Google answers 401
        self.refreshed: dict[str, Any] | None = None

    def _can_refresh(self) -> bool:
        return bool(self.refresh_token and self.client_id and self.client_secret)

    def _expired(self) -> bool:
        if not self.access_token:
            return True
        return (
            self.expires_at is not None and self.expires_at - EXPIRY_MARGIN_SECONDS <= time.time()
        )

    async def _refresh(self) -> None:
        tokens = await oauth.refresh(
            self.ctx.base_urls.get("google_token", DEFAULT_TOKEN_URL),
            refresh_token=self.refresh_token,
            client_id=self.client_id,
            client_secret=self.client_secret,
            timeout=self.ctx.timeout_seconds,
        )
        self.access_token = tokens.access_token
        refreshed: dict[str, Any] = {"access_token": tokens.access_token}
        if tokens.expires_at is not None:
            refreshed["expires_at"] = tokens.expires_at
        if tokens.refresh_token and tokens.refresh_token != self.refresh_token:
            self.refresh_token = refreshed["refresh_token"] = tokens.refresh_token
        self.refreshed = refreshed

    async def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        url = self.ctx.base_urls.get("gmail", DEFAULT_BASE_URL).rstrip("/") + path
        try:
            return await self.client.request(
                method, url, headers={"Authorization": f"Bearer {self.access_token}"}, **kwargs
            )
        except httpx.HTTPError as exc:
            raise TransientError(f"could not reach Gmail: {type(exc).__name__}") from exc

    async def call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """One Gmail API call; refreshes first if expired, or once after a 401."""
        if self._expired() and self._can_refresh():
            await self._refresh()
        if not self.access_token:
            raise AuthError("Gmail credential has no access_token and cannot refresh one")
        response = await self._send(method, path, **kwargs)
        if response.status_code == 401 and self.refreshed is None and self._can_refresh():
            await self._refresh()
            response = await self._send(method, path, **kwargs)
        if not response.is_success:
            raise _map_error(response)
        try:
            body = response.json()
        except ValueError as exc:
            raise TransientError("Gmail answered with a body that is not JSON") from exc
        return body if isinstance(body, dict) else {}


async def _call(
    ctx: ActionContext, method: str, path: str, **kwargs: Any
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    async with httpx.AsyncClient(timeout=ctx.timeout_seconds) as client:
        session = _Session(ctx, client)
        body = await session.call(method, path, **kwargs)
    return body, session.refreshed


async def send_email(ctx: ActionContext, data: SendEmailInput) -> SendEmailOutput:
    """Send as the connected account (``POST /gmail/v1/users/me/messages/send``)."""
    body, refreshed = await _call(
        ctx, "POST", "/gmail/v1/users/me/messages/send", json={"raw": build_raw_message(data)}
    )
    return SendEmailOutput(
        id=body["id"],
        thread_id=body.get("threadId"),
        label_ids=body.get("labelIds", []),
        refreshed_credentials=refreshed,
    )


async def list_messages(ctx: ActionContext, data: ListMessagesInput) -> ListMessagesOutput:
    """One page of message ids matching ``q`` (``GET /gmail/v1/users/me/messages``)."""
    params: dict[str, str | int] = {"maxResults": data.max_results}
    if data.q:
        params["q"] = data.q
    if data.page_token:
        params["pageToken"] = data.page_token
    body, refreshed = await _call(ctx, "GET", "/gmail/v1/users/me/messages", params=params)
    return ListMessagesOutput(
        messages=[
            MessageRef(id=m["id"], thread_id=m.get("threadId")) for m in body.get("messages", [])
        ],
        next_page_token=body.get("nextPageToken"),
        result_size_estimate=body.get("resultSizeEstimate", 0),
        refreshed_credentials=refreshed,
    )


async def get_message(ctx: ActionContext, data: GetMessageInput) -> GetMessageOutput:
    """One message (``GET /gmail/v1/users/me/messages/{id}``)."""
    body, refreshed = await _call(
        ctx, "GET", f"/gmail/v1/users/me/messages/{data.id}", params={"format": data.format}
    )
    payload = body.get("payload")
    headers: dict[str, str] = {}
    for header in (payload or {}).get("headers", []):
        headers.setdefault(header.get("name", ""), header.get("value", ""))
    return GetMessageOutput(
        id=body["id"],
        thread_id=body.get("threadId"),
        label_ids=body.get("labelIds", []),
        snippet=body.get("snippet"),
        internal_date=body.get("internalDate"),
        size_estimate=body.get("sizeEstimate"),
        headers=headers,
        payload=payload,
        raw=body.get("raw"),
        refreshed_credentials=refreshed,
    )


async def test(ctx: ActionContext) -> dict[str, Any]:
    """``GET /gmail/v1/users/me/profile``: the account the token belongs to."""
    body, refreshed = await _call(ctx, "GET", "/gmail/v1/users/me/profile")
    return {
        "email_address": body.get("emailAddress"),
        "refreshed_credentials": refreshed,
    }


CONNECTOR = Connector(
    type="gmail",
    name="Gmail",
    description="Send and read email in a Gmail account",
    credential_type="oauth2",
    credential_fields=(
        CredentialField("access_token"),
        CredentialField("refresh_token"),
        CredentialField("client_id", secret=False),
        CredentialField("client_secret"),
        CredentialField("expires_at", secret=False, required=False, description="Unix seconds"),
    ),
    actions={
        "send_email": Action(
            name="send_email",
            description="Send an email from the connected account",
            input_model=SendEmailInput,
            output_model=SendEmailOutput,
            handler=send_email,
        ),
        "list_messages": Action(
            name="list_messages",
            description="List messages matching a Gmail search",
            input_model=ListMessagesInput,
            output_model=ListMessagesOutput,
            handler=list_messages,
            side_effecting=False,
        ),
        "get_message": Action(
            name="get_message",
            description="Get one message",
            input_model=GetMessageInput,
            output_model=GetMessageOutput,
            handler=get_message,
            side_effecting=False,
        ),
    },
    test=test,
)
