"""The SMTP connector against real aiosmtpd servers: plain, STARTTLS and implicit TLS.

Certificates come from a throwaway CA made at test time; the connector is told
to trust it through the credential's ``ca_certificate``.
"""

from __future__ import annotations

import asyncio
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from connectors import smtp
from connectors.base import ActionContext
from connectors.errors import AuthError, InvalidInputError, TransientError
from connectors.netguard import BlockedAddressError
from tests.fakes.smtp import (
    PASSWORD,
    USER,
    LoopbackController,
    Mailbox,
    Pki,
    StallPoint,
    authenticator,
    make_pki,
    stalling_server,
)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def mailbox() -> Mailbox:
    return Mailbox()


def _start(mailbox: Mailbox, **kwargs: Any) -> LoopbackController:
    controller = LoopbackController(
        mailbox, hostname="127.0.0.1", port=0, authenticator=authenticator, **kwargs
    )
    controller.start()
    return controller


@pytest.fixture(scope="module")
def plain_server(mailbox: Mailbox) -> Iterator[LoopbackController]:
    controller = _start(mailbox, auth_require_tls=False)
    yield controller
    controller.stop()


@pytest.fixture(scope="module")
def starttls_server(mailbox: Mailbox, pki: Pki) -> Iterator[LoopbackController]:
    controller = _start(
        mailbox, tls_context=pki.server_context(), require_starttls=True, auth_require_tls=True
    )
    yield controller
    controller.stop()


@pytest.fixture(scope="module")
def tls_server(mailbox: Mailbox, pki: Pki) -> Iterator[LoopbackController]:
    # aiosmtpd only counts STARTTLS as TLS for AUTH; this connection is TLS from the start.
    controller = _start(mailbox, ssl_context=pki.server_context(), auth_require_tls=False)
    yield controller
    controller.stop()


@pytest.fixture(autouse=True)
def _clean_mailbox(mailbox: Mailbox) -> None:
    mailbox.reset()


def ctx_for(server: LoopbackController, **credentials: Any) -> ActionContext:
    creds: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": server.port,
        "user": USER,
        "password": PASSWORD,
        "security": "none",
        "from_address": "Taskyard <robot@taskyard.test>",
        **credentials,
    }
    return ActionContext(credentials=creds, allow_private_urls=True, timeout_seconds=5)


def email_to(*to: str, **extra: Any) -> smtp.SendEmailInput:
    return smtp.SendEmailInput.model_validate(
        {"to": list(to), "subject": "Weekly report", "text": "All green.", **extra}
    )


async def test_send_email_plain_builds_a_mime_message(
    plain_server: LoopbackController, mailbox: Mailbox
):
    data = email_to(
        "Ada <ada@example.test>",
        cc=["bob@example.test"],
        bcc=["audit@example.test"],
        html="<p>All <b>green</b>.</p>",
        reply_to="support@taskyard.test",
    )

    out = await smtp.send_email(ctx_for(plain_server), data)

    [got] = mailbox.received
    assert got.authenticated and not got.tls
    assert got.mail_from == "robot@taskyard.test"
    assert got.rcpt_tos == ["ada@example.test", "bob@example.test", "audit@example.test"]
    assert out.accepted == got.rcpt_tos
    assert out.refused == {}
    msg = got.message
    assert msg["Message-ID"] == out.message_id
    assert msg["From"] == "Taskyard <robot@taskyard.test>"
    assert msg["To"] == "Ada <ada@example.test>"
    assert msg["Cc"] == "bob@example.test"
    assert msg["Bcc"] is None
    assert msg["Reply-To"] == "support@taskyard.test"
    assert msg["Subject"] == "Weekly report"
    assert msg.get_content_type() == "multipart/alternative"
    plain = msg.get_body(preferencelist=("plain",))
    html = msg.get_body(preferencelist=("html",))
    assert plain is not None and plain.get_content().strip() == "All green."
    assert html is not None and "<b>green</b>" in html.get_content()


async def test_html_only_and_explicit_from(plain_server: LoopbackController, mailbox: Mailbox):
    data = smtp.SendEmailInput.model_validate(
        {"to": ["ada@example.test"], "subject": "Hi", "html": "<p>x</p>", "from": "me@corp.test"}
    )

    await smtp.send_email(ctx_for(plain_server), data)

    [got] = mailbox.received
    assert got.mail_from == "me@corp.test"
    assert got.message.get_content_type() == "text/html"


async def test_send_email_over_starttls(
    starttls_server: LoopbackController, mailbox: Mailbox, pki: Pki
):
    ctx = ctx_for(starttls_server, security="starttls", ca_certificate=pki.ca_pem)

    out = await smtp.send_email(ctx, email_to("ada@example.test"))

    [got] = mailbox.received
    assert got.tls and got.authenticated
    assert out.accepted == ["ada@example.test"]


async def test_send_email_over_implicit_tls(
    tls_server: LoopbackController, mailbox: Mailbox, pki: Pki
):
    ctx = ctx_for(tls_server, security="ssl", ca_certificate=pki.ca_pem)

    await smtp.send_email(ctx, email_to("ada@example.test"))

    assert len(mailbox.received) == 1


async def test_untrusted_certificate_is_refused(
    starttls_server: LoopbackController, mailbox: Mailbox
):
    with pytest.raises(AuthError):
        await smtp.send_email(
            ctx_for(starttls_server, security="starttls"), email_to("ada@example.test")
        )
    assert mailbox.received == []


@pytest.mark.parametrize("server_name", ["plain_server", "starttls_server"])
async def test_bad_password_is_an_auth_error(
    server_name: str, request: pytest.FixtureRequest, pki: Pki, mailbox: Mailbox
):
    server = request.getfixturevalue(server_name)
    security = "none" if server_name == "plain_server" else "starttls"
    ctx = ctx_for(server, password="wrong", security=security, ca_certificate=pki.ca_pem)

    with pytest.raises(AuthError):
        await smtp.send_email(ctx, email_to("ada@example.test"))
    assert mailbox.received == []


async def test_no_tls_when_the_server_wants_it_for_auth_is_an_auth_error(
    starttls_server: LoopbackController,
):
    with pytest.raises(AuthError):
        await smtp.send_email(ctx_for(starttls_server, security="none"), email_to("a@b.test"))


async def test_connector_test_logs_in(starttls_server: LoopbackController, pki: Pki):
    ctx = ctx_for(starttls_server, security="starttls", ca_certificate=pki.ca_pem)
    assert smtp.CONNECTOR.test is not None

    info = await smtp.CONNECTOR.test(ctx)

    assert info == {"host": "127.0.0.1", "port": starttls_server.port, "security": "starttls"}
    with pytest.raises(AuthError):
        await smtp.CONNECTOR.test(
            ctx_for(
                starttls_server, password="nope", security="starttls", ca_certificate=pki.ca_pem
            )
        )


async def test_all_recipients_refused_is_invalid_input(
    plain_server: LoopbackController, mailbox: Mailbox
):
    mailbox.refuse_rcpt["ghost@example.test"] = "550 5.1.1 No such user"
    with pytest.raises(InvalidInputError):
        await smtp.send_email(ctx_for(plain_server), email_to("ghost@example.test"))


async def test_some_recipients_refused_are_reported(
    plain_server: LoopbackController, mailbox: Mailbox
):
    mailbox.refuse_rcpt["ghost@example.test"] = "550 5.1.1 No such user"

    out = await smtp.send_email(
        ctx_for(plain_server), email_to("ada@example.test", "ghost@example.test")
    )

    assert out.accepted == ["ada@example.test"]
    assert out.refused["ghost@example.test"].startswith("550")
    assert mailbox.received[0].rcpt_tos == ["ada@example.test"]


async def test_greylisted_recipients_are_transient(
    plain_server: LoopbackController, mailbox: Mailbox
):
    mailbox.refuse_rcpt["ada@example.test"] = "450 4.2.0 Greylisted, try again later"
    with pytest.raises(TransientError):
        await smtp.send_email(ctx_for(plain_server), email_to("ada@example.test"))


async def test_sender_refused_is_invalid_input(plain_server: LoopbackController, mailbox: Mailbox):
    mailbox.refuse_mail["robot@taskyard.test"] = "553 5.7.1 Sender address rejected"
    with pytest.raises(InvalidInputError):
        await smtp.send_email(ctx_for(plain_server), email_to("ada@example.test"))


async def test_temporary_data_failure_is_transient(
    plain_server: LoopbackController, mailbox: Mailbox
):
    mailbox.data_reply = "451 4.3.0 Mail server temporarily rejected message"
    with pytest.raises(TransientError):
        await smtp.send_email(ctx_for(plain_server), email_to("ada@example.test"))


async def test_unreachable_server_is_transient(closed_port_url: str):
    port = int(closed_port_url.rsplit(":", 1)[1])
    ctx = ActionContext(
        credentials={"host": "127.0.0.1", "port": port, "user": USER, "password": PASSWORD},
        allow_private_urls=True,
        timeout_seconds=5,
    )
    with pytest.raises(TransientError):
        await smtp.send_email(ctx, email_to("ada@example.test", **{"from": "a@b.test"}))


async def test_private_hosts_are_refused_unless_allowed(
    plain_server: LoopbackController, mailbox: Mailbox
):
    ctx = ActionContext(credentials=dict(ctx_for(plain_server).credentials))

    with pytest.raises(InvalidInputError):
        await smtp.send_email(ctx, email_to("ada@example.test"))
    assert mailbox.received == []


async def test_incomplete_credential_is_an_auth_error():
    with pytest.raises(AuthError):
        await smtp.send_email(ActionContext(credentials={"port": 25}), email_to("a@b.test"))


@pytest.mark.parametrize(
    ("port", "mode"), [(587, "starttls"), (465, "ssl"), (25, "none"), (2525, "none")]
)
def test_security_defaults_follow_the_port(port: int, mode: str):
    assert smtp._Settings(host="mail.test", port=port).tls_mode() == mode


@pytest.mark.parametrize(
    "payload",
    [
        {"to": ["a@b.test"], "subject": "no body"},
        {"to": [], "subject": "s", "text": "x"},
        {"to": ["not-an-address"], "subject": "s", "text": "x"},
        {"to": ["a@b.test"], "subject": "two\r\nBcc: evil@x.test", "text": "x"},
        {"to": ["a@b.test"], "subject": "s", "text": "x", "priority": "high"},
    ],
)
def test_bad_input_is_rejected(payload: dict[str, Any]):
    with pytest.raises(ValidationError):
        smtp.SendEmailInput.model_validate(payload)


async def test_retries_reuse_the_message_id(plain_server: LoopbackController, mailbox: Mailbox):
    ctx = ActionContext(
        credentials=dict(ctx_for(plain_server).credentials),
        allow_private_urls=True,
        idempotency_key="wf-1/send-1",
    )

    first = await smtp.send_email(ctx, email_to("ada@example.test"))
    second = await smtp.send_email(ctx, email_to("ada@example.test"))

    assert first.message_id == second.message_id
    assert first.message_id.endswith("@taskyard.test>")
    assert [r.message["Message-ID"] for r in mailbox.received] == [first.message_id] * 2


# Outbound policy and deadlines.

SMTP_CODE = (str(Path(smtp.__file__)), "smtplib.py")


def threads_running_smtp_code() -> list[str]:
    """Names of threads with SMTP code (ours or the standard library's) on their stack."""
    names = {t.ident: t.name for t in threading.enumerate()}
    found: list[str] = []
    for ident, frame in sys._current_frames().items():
        current: Any = frame
        while current is not None:
            if current.f_code.co_filename.endswith(SMTP_CODE):
                found.append(names.get(ident, str(ident)))
                break
            current = current.f_back
    return found


@pytest.mark.parametrize("stall_at", ["greeting", "ehlo", "end_of_data", "dribble"])
async def test_a_stalling_server_fails_within_the_timeout(stall_at: StallPoint):
    async with stalling_server(stall_at) as server:
        ctx = ActionContext(
            credentials={"host": "127.0.0.1", "port": server.port, "security": "none"},
            allow_private_urls=True,
            timeout_seconds=1,
        )
        started = time.monotonic()

        with pytest.raises(TransientError, match="within 1s"):
            await smtp.send_email(ctx, email_to("ada@example.test", **{"from": "a@b.test"}))

        elapsed = time.monotonic() - started
        assert 0.9 <= elapsed < 2.5, elapsed
        assert threads_running_smtp_code() == []
        # The connection was closed too, not left open for the server to hold.
        await asyncio.wait_for(server.hung_up.wait(), timeout=2)


async def test_the_connector_test_has_the_same_deadline():
    async with stalling_server("dribble") as server:
        ctx = ActionContext(
            credentials={
                "host": "127.0.0.1",
                "port": server.port,
                "user": USER,
                "password": PASSWORD,
                "security": "none",
            },
            allow_private_urls=True,
            timeout_seconds=1,
        )
        assert smtp.CONNECTOR.test is not None
        started = time.monotonic()

        with pytest.raises(TransientError):
            await smtp.CONNECTOR.test(ctx)

        assert time.monotonic() - started < 2.5
        assert threads_running_smtp_code() == []


@pytest.mark.parametrize(
    "host",
    [
        "localhost",
        "127.0.0.1",
        "::1",
        "10.0.0.1",
        "169.254.169.254",
        "2130706433",
        "64:ff9b::7f00:1",
        "::ffff:0:a9fe:a9fe",
        "::127.0.0.1",
    ],
)
async def test_non_public_smtp_hosts_are_refused_before_connecting(host: str):
    ctx = ActionContext(
        credentials={"host": host, "port": 25, "user": USER, "password": PASSWORD},
        timeout_seconds=5,
    )

    with pytest.raises(BlockedAddressError, match="SMTP host"):
        await smtp.send_email(ctx, email_to("ada@example.test", **{"from": "a@b.test"}))
    assert smtp.CONNECTOR.test is not None
    with pytest.raises(BlockedAddressError):
        await smtp.CONNECTOR.test(ctx)


async def test_the_connection_goes_to_the_checked_address(
    plain_server: LoopbackController, mailbox: Mailbox, monkeypatch: pytest.MonkeyPatch
):
    """A name looked up again could answer differently; the connector connects to the
    address it checked: here the first answer is the server, any later one nobody."""
    real = socket.getaddrinfo
    answers = ["127.0.0.1", "127.0.0.2"]
    lookups: list[str] = []

    def rebinding(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host != "mail.rebind.test":
            return real(host, port, *args, **kwargs)
        lookups.append(host)
        address = answers[min(len(lookups), len(answers)) - 1]
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, int(port)))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    ctx = ActionContext(
        credentials={**ctx_for(plain_server).credentials, "host": "mail.rebind.test"},
        allow_private_urls=True,
        timeout_seconds=5,
    )

    out = await smtp.send_email(ctx, email_to("ada@example.test"))

    assert out.accepted == ["ada@example.test"]
    assert len(mailbox.received) == 1
    assert lookups == ["mail.rebind.test"]
