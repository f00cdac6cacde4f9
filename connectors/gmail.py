"""Gmail connector: send mail, list and read messages of the connected account.

Speaks the Gmail REST API v1 (``users.messages.send``/``list``/``get``) over
httpx against ``ctx.base_urls["gmail"]``. Auth: an ``oauth2`` credential with a
Google access token, refreshed when needed (``connectors.google_api``); a
sandbox connection talks to ``google_sandbox`` instead, whose outbox keeps what
was sent.

Refreshing does not write anywhere: every output carries ``refreshed_credentials``,
``None`` when nothing changed, else the fields to merge into the stored credential
(``access_token``, ``expires_at`` and, if Google rotated it, ``refresh_token``).
The caller persists them and keeps them out of workflow history.
"""

from __future__ import annotations

import base64
import binascii
import email.utils
from email.message import EmailMessage
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from connectors import google_api
from connectors.base import Action, ActionContext, Connector
from connectors.fields import AddressList

DEFAULT_BASE_URL = "https://gmail.googleapis.com"


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

    to: AddressList = Field(min_length=1)
    cc: AddressList = Field(default_factory=list)
    bcc: AddressList = Field(default_factory=list)
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


async def _call(
    ctx: ActionContext, method: str, path: str, **kwargs: Any
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    async with google_api.session(
        ctx, base_key="gmail", default_base=DEFAULT_BASE_URL, service="Gmail"
    ) as session:
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
    categories=("email", "communication", "productivity", "google"),
    credential_type="oauth2",
    credential_fields=google_api.CREDENTIAL_FIELDS,
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
