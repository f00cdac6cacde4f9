"""The Gmail connector against a local Gmail API and Google token endpoint."""

from __future__ import annotations

import base64
import email
import email.policy
import time
from email.message import EmailMessage
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from connectors import gmail
from connectors.base import ActionContext
from connectors.errors import (
    AuthError,
    InvalidInputError,
    NotFoundError,
    RateLimitedError,
    TransientError,
)
from tests.fakes.google import (
    ACCESS_TOKEN,
    ACCOUNT,
    CLIENT_ID,
    CLIENT_SECRET,
    REFRESH_TOKEN,
    FakeGoogle,
)


def ctx_for(fake: FakeGoogle | str, **credentials: Any) -> ActionContext:
    base = fake if isinstance(fake, str) else fake.base_url
    creds: dict[str, Any] = {
        "access_token": ACCESS_TOKEN,
        "refresh_token": REFRESH_TOKEN,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "expires_at": int(time.time()) + 3600,
        **credentials,
    }
    return ActionContext(
        credentials=creds,
        base_urls={"gmail": base, "google_token": base + "/token"},
        timeout_seconds=5,
    )


def incoming(subject: str, sender: str = "ada@example.test", text: str = "Hello") -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, ACCOUNT, subject
    msg.set_content(text)
    return msg


def sent_message(fake: FakeGoogle) -> EmailMessage:
    [call] = [c for c in fake.gmail_calls() if c.path.endswith("/messages/send")][-1:]
    raw = base64.urlsafe_b64decode(call.json["raw"])
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


async def test_send_email_posts_a_base64url_rfc2822_message(fake_google: FakeGoogle):
    pdf = base64.b64encode(b"%PDF-1.4 fake").decode()

    out = await gmail.send_email(
        ctx_for(fake_google),
        gmail.SendEmailInput(
            to=["Ada <ada@example.test>"],
            cc=["bob@example.test"],
            bcc=["audit@example.test"],
            subject="Invoice 42",
            body="Please find the invoice attached.",
            html="<p>Please find the invoice <b>attached</b>.</p>",
            attachments=[
                gmail.Attachment(
                    filename="invoice.pdf", content_base64=pdf, mime_type="application/pdf"
                )
            ],
        ),
    )

    assert out.id in fake_google.messages and out.label_ids == ["SENT"]
    assert out.refreshed_credentials is None
    [call] = fake_google.gmail_calls()
    assert call.headers["authorization"] == f"Bearer {ACCESS_TOKEN}"
    assert "+" not in call.json["raw"] and "/" not in call.json["raw"]
    msg = sent_message(fake_google)
    assert (msg["To"], msg["Cc"], msg["Bcc"]) == (
        "Ada <ada@example.test>",
        "bob@example.test",
        "audit@example.test",
    )
    assert msg["Subject"] == "Invoice 42"
    assert msg.get_content_type() == "multipart/mixed"
    plain = msg.get_body(("plain",))
    assert plain is not None and plain.get_content().strip().startswith("Please find")
    [attachment] = list(msg.iter_attachments())
    assert attachment.get_filename() == "invoice.pdf"
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_content() == b"%PDF-1.4 fake"


async def test_list_messages_pages_through_a_search(fake_google: FakeGoogle):
    for n in range(3):
        fake_google.deliver(incoming(f"Report {n}"))
    fake_google.deliver(incoming("Lunch?", sender="bob@example.test"))

    first = await gmail.list_messages(
        ctx_for(fake_google), gmail.ListMessagesInput(q="from:ada", max_results=2)
    )
    second = await gmail.list_messages(
        ctx_for(fake_google),
        gmail.ListMessagesInput(q="from:ada", max_results=2, page_token=first.next_page_token),
    )

    assert len(first.messages) == 2 and first.next_page_token
    assert len(second.messages) == 1 and second.next_page_token is None
    assert first.result_size_estimate == 3
    call = fake_google.gmail_calls()[0]
    assert call.query == {"q": "from:ada", "maxResults": "2"}


async def test_list_messages_with_no_match_is_empty(fake_google: FakeGoogle):
    out = await gmail.list_messages(ctx_for(fake_google), gmail.ListMessagesInput(q="nothing"))
    assert out.messages == [] and out.result_size_estimate == 0


async def test_get_message_full_and_raw(fake_google: FakeGoogle):
    message_id = fake_google.deliver(incoming("Status", text="All green"))

    full = await gmail.get_message(ctx_for(fake_google), gmail.GetMessageInput(id=message_id))
    raw = await gmail.get_message(
        ctx_for(fake_google), gmail.GetMessageInput(id=message_id, format="raw")
    )

    assert full.headers["Subject"] == "Status" and full.headers["From"] == "ada@example.test"
    assert full.snippet == "All green"
    assert full.payload is not None and full.payload["mimeType"] == "text/plain"
    assert raw.raw is not None and b"Subject: Status" in base64.urlsafe_b64decode(raw.raw)
    assert fake_google.gmail_calls()[1].query == {"format": "raw"}


async def test_connector_test_reads_the_profile(fake_google: FakeGoogle):
    assert gmail.CONNECTOR.test is not None
    info = await gmail.CONNECTOR.test(ctx_for(fake_google))
    assert info == {"email_address": ACCOUNT, "refreshed_credentials": None}


async def test_expired_token_is_refreshed_before_the_call(fake_google: FakeGoogle):
    ctx = ctx_for(fake_google, access_token="ya29.stale", expires_at=int(time.time()) - 10)

    out = await gmail.list_messages(ctx, gmail.ListMessagesInput())

    [token_call] = fake_google.token_calls()
    assert token_call.form == {
        "grant_type": "refresh_token",
        "refresh_token": REFRESH_TOKEN,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
    }
    assert token_call.headers["content-type"] == "application/x-www-form-urlencoded"
    refreshed = out.refreshed_credentials
    assert refreshed is not None and refreshed["access_token"] in fake_google.access_tokens
    assert refreshed["expires_at"] >= int(time.time()) + 3500
    assert "refresh_token" not in refreshed
    [gmail_call] = fake_google.gmail_calls()
    assert gmail_call.headers["authorization"] == f"Bearer {refreshed['access_token']}"


async def test_a_401_refreshes_once_and_retries(fake_google: FakeGoogle):
    fake_google.access_tokens.clear()  # revoked early, though expires_at says it is fine

    out = await gmail.send_email(
        ctx_for(fake_google), gmail.SendEmailInput(to=["a@b.test"], subject="s", body="b")
    )

    assert out.refreshed_credentials is not None
    assert len(fake_google.token_calls()) == 1
    assert len(fake_google.gmail_calls()) == 2
    assert len(fake_google.messages) == 1


async def test_a_second_401_after_refresh_is_an_auth_error(fake_google: FakeGoogle):
    fake_google.fail_next("unauthorized")
    fake_google.fail_next("unauthorized")

    with pytest.raises(AuthError):
        await gmail.list_messages(ctx_for(fake_google), gmail.ListMessagesInput())

    assert len(fake_google.token_calls()) == 1
    assert len(fake_google.gmail_calls()) == 2


async def test_rotated_refresh_token_is_handed_back(fake_google: FakeGoogle):
    fake_google.rotate_refresh_token = True
    ctx = ctx_for(fake_google, expires_at=0)

    out = await gmail.list_messages(ctx, gmail.ListMessagesInput())

    assert out.refreshed_credentials is not None
    assert out.refreshed_credentials["refresh_token"] in fake_google.refresh_tokens


async def test_invalid_grant_is_an_auth_error(fake_google: FakeGoogle):
    ctx = ctx_for(fake_google, refresh_token="1//revoked", expires_at=0)

    with pytest.raises(AuthError) as info:
        await gmail.list_messages(ctx, gmail.ListMessagesInput())

    assert "invalid_grant" in info.value.message
    assert fake_google.gmail_calls() == []


async def test_invalid_client_is_an_auth_error(fake_google: FakeGoogle):
    with pytest.raises(AuthError):
        await gmail.list_messages(
            ctx_for(fake_google, client_secret="wrong", expires_at=0), gmail.ListMessagesInput()
        )


async def test_401_without_a_refresh_token_is_an_auth_error(fake_google: FakeGoogle):
    fake_google.access_tokens.clear()
    ctx = ctx_for(fake_google, refresh_token="")

    with pytest.raises(AuthError):
        await gmail.list_messages(ctx, gmail.ListMessagesInput())
    assert fake_google.token_calls() == []


async def test_unknown_message_is_not_found(fake_google: FakeGoogle):
    with pytest.raises(NotFoundError):
        await gmail.get_message(ctx_for(fake_google), gmail.GetMessageInput(id="18cdeadbeef"))


@pytest.mark.parametrize(
    ("kind", "error"),
    [
        ("forbidden", AuthError),
        ("not_found", NotFoundError),
        ("bad_request", InvalidInputError),
        ("server_error", TransientError),
        ("rate_limited", RateLimitedError),
        ("user_rate_limited", RateLimitedError),
    ],
)
async def test_google_errors_map_to_typed_errors(fake_google: FakeGoogle, kind: str, error: type):
    fake_google.fail_next(kind)

    with pytest.raises(error):
        await gmail.list_messages(ctx_for(fake_google), gmail.ListMessagesInput())

    assert len(fake_google.gmail_calls()) == 1


async def test_rate_limit_keeps_retry_after(fake_google: FakeGoogle):
    fake_google.fail_next("rate_limited", retry_after=12)

    with pytest.raises(RateLimitedError) as info:
        await gmail.get_message(ctx_for(fake_google), gmail.GetMessageInput(id="abc"))

    assert info.value.retry_after == 12


async def test_unreachable_gmail_is_transient(closed_port_url: str):
    with pytest.raises(TransientError):
        await gmail.list_messages(ctx_for(closed_port_url), gmail.ListMessagesInput())


@pytest.mark.parametrize(
    ("model", "payload"),
    [
        (gmail.SendEmailInput, {"to": ["a@b.test"], "subject": "s"}),
        (gmail.SendEmailInput, {"to": ["a@b.test"], "subject": "a\nBcc: x@y.test", "body": "b"}),
        (gmail.SendEmailInput, {"to": ["nobody"], "subject": "s", "body": "b"}),
        (
            gmail.SendEmailInput,
            {
                "to": ["a@b.test"],
                "subject": "s",
                "body": "b",
                "attachments": [{"filename": "x", "content_base64": "***"}],
            },
        ),
        (gmail.ListMessagesInput, {"max_results": 0}),
        (gmail.GetMessageInput, {"id": "../../profile"}),
        (gmail.GetMessageInput, {"id": "abc", "format": "html"}),
    ],
)
def test_bad_input_is_rejected(model: type[BaseModel], payload: dict[str, Any]):
    with pytest.raises(ValidationError):
        model.model_validate(payload)


def test_connector_declares_its_credential():
    c = gmail.CONNECTOR
    assert c.credential_type == "oauth2"
    assert c.required_fields() == ["access_token", "refresh_token", "client_id", "client_secret"]
    assert "client_id" not in c.secret_fields() and "expires_at" not in c.secret_fields()
    assert set(c.actions) == {"send_email", "list_messages", "get_message"}


def test_recipients_may_be_one_string_as_the_app_integrations_api_shows():
    seed = gmail.SendEmailInput.model_validate({"to": "x@y.com", "subject": "Hi", "body": "Hello"})
    assert seed.to == ["x@y.com"]
    several = gmail.SendEmailInput.model_validate(
        {"to": 'a@x.test, "Doe, Jo" <jo@y.test>', "cc": "c@z.test", "subject": "s", "body": "b"}
    )
    assert several.to == ["a@x.test", '"Doe, Jo" <jo@y.test>'] and several.cc == ["c@z.test"]
    with pytest.raises(ValidationError):
        gmail.SendEmailInput.model_validate({"to": "nobody", "subject": "s", "body": "b"})
    schema = gmail.SendEmailInput.model_json_schema()["properties"]["to"]
    assert [option["type"] for option in schema["anyOf"]] == ["string", "array"]


async def test_one_string_recipient_is_sent(fake_google: FakeGoogle):
    data = gmail.SendEmailInput.model_validate({"to": "x@y.com", "subject": "Hi", "body": "Hello"})
    await gmail.send_email(ctx_for(fake_google), data)
    assert sent_message(fake_google)["To"] == "x@y.com"
