"""SMTP connector: send one email through the user's own mail server.

Speaks SMTP (RFC 5321) with ``aiosmtplib`` on the event loop. Auth: a ``custom``
credential with ``host``, ``port``, ``user`` and ``password`` (SMTP AUTH), transport
security ``starttls`` (RFC 3207), ``ssl`` (implicit TLS, RFC 8314) or ``none``. TLS
certificates are always verified, against the system roots or the credential's
own ``ca_certificate`` (PEM) for a server with a private CA.

The host comes from the user, so it goes through ``connectors.netguard`` like a URL
would, and the connection goes to the checked address; the host name still names
the server for TLS. The whole exchange, from the DNS lookup to the last reply, must
fit ``ActionContext.timeout_seconds``: a server that answers slowly, a byte at a
time or not at all is dropped at that deadline and the connection closed. Nothing
runs in a worker thread, which could not be stopped at the deadline (only a DNS
lookup does, in the resolver's thread, and its own timeout ends it).
"""

from __future__ import annotations

import asyncio
import email.utils
import hashlib
import socket
import ssl
from collections.abc import Awaitable, Callable
from email.message import EmailMessage
from typing import Any, Literal, TypeVar

import aiosmtplib
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from connectors import netguard
from connectors.base import Action, ActionContext, Connector, CredentialField
from connectors.errors import (
    AuthError,
    ConnectorError,
    InvalidInputError,
    TransientError,
)
from connectors.fields import AddressList

Security = Literal["starttls", "ssl", "none"]
T = TypeVar("T")


def _check_address(value: str) -> str:
    if "\r" in value or "\n" in value:
        raise ValueError("address must not contain line breaks")
    _name, addr = email.utils.parseaddr(value)
    if "@" not in addr or addr.startswith("@") or addr.endswith("@"):
        raise ValueError(f"not an email address: {value!r}")
    return value


class SendEmailInput(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
        json_schema_extra={
            "anyOf": [
                {"required": ["text"], "properties": {"text": {"type": "string"}}},
                {"required": ["html"], "properties": {"html": {"type": "string"}}},
            ]
        },
    )

    to: AddressList = Field(min_length=1)
    cc: AddressList = Field(default_factory=list)
    bcc: AddressList = Field(default_factory=list)
    subject: str = Field(max_length=998, json_schema_extra={"pattern": r"^[^\r\n]*$"})
    text: str | None = None
    html: str | None = None
    reply_to: str | None = Field(default=None, json_schema_extra={"format": "email"})
    from_: str | None = Field(
        default=None,
        alias="from",
        description="Defaults to the credential's from_address",
        json_schema_extra={"format": "email"},
    )

    @field_validator("to", "cc", "bcc")
    @classmethod
    def _addresses(cls, values: list[str]) -> list[str]:
        return [_check_address(v) for v in values]

    @field_validator("reply_to", "from_")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        return None if value is None else _check_address(value)

    @field_validator("subject")
    @classmethod
    def _one_line(cls, value: str) -> str:
        if "\r" in value or "\n" in value:
            raise ValueError("subject must be one line")
        return value

    @model_validator(mode="after")
    def _has_body(self) -> SendEmailInput:
        if self.text is None and self.html is None:
            raise ValueError("give text, html or both")
        return self


class SendEmailOutput(BaseModel):
    message_id: str
    accepted: list[str]
    refused: dict[str, str] = Field(
        default_factory=dict, description="Recipients the server refused, with its reply"
    )


class _Settings(BaseModel):
    """The credential, checked."""

    host: str = Field(min_length=1)
    port: int = Field(gt=0, lt=65536)
    user: str = ""
    password: str = ""
    security: Security | None = None
    from_address: str | None = None
    ca_certificate: str | None = None

    def tls_mode(self) -> Security:
        if self.security is not None:
            return self.security
        if self.port == 587:
            return "starttls"
        if self.port == 465:
            return "ssl"
        return "none"


def _settings(ctx: ActionContext) -> _Settings:
    try:
        return _Settings.model_validate(dict(ctx.credentials))
    except ValueError as exc:
        raise AuthError(f"SMTP credential is incomplete or invalid: {exc}") from exc


def build_message(data: SendEmailInput, sender: str, message_id: str) -> EmailMessage:
    """The MIME message: text and/or html alternatives; Bcc is never written."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = ", ".join(data.to)
    if data.cc:
        msg["Cc"] = ", ".join(data.cc)
    if data.reply_to:
        msg["Reply-To"] = data.reply_to
    msg["Subject"] = data.subject
    msg["Date"] = email.utils.formatdate(usegmt=True)
    msg["Message-ID"] = message_id
    if data.text is not None:
        msg.set_content(data.text)
        if data.html is not None:
            msg.add_alternative(data.html, subtype="html")
    elif data.html is not None:
        msg.set_content(data.html, subtype="html")
    return msg


def _tls_context(settings: _Settings) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if settings.ca_certificate:
        try:
            context.load_verify_locations(cadata=settings.ca_certificate)
        except ssl.SSLError as exc:
            raise AuthError("SMTP credential's ca_certificate is not a valid PEM") from exc
    return context


async def _checked_address(settings: _Settings, allow_private: bool) -> str:
    try:
        return await netguard.resolve_host(
            settings.host, settings.port, allow_private=allow_private, what="SMTP host"
        )
    except netguard.UnresolvableHostError as exc:
        if exc.temporary:
            raise TransientError(f"DNS lookup for {settings.host!r} failed temporarily") from exc
        raise


_local_name: str | None = None


async def _local_hostname() -> str:
    """The name EHLO gives, as ``smtplib`` picks it; looked up once per process."""
    global _local_name
    if _local_name is None:
        _local_name = await asyncio.to_thread(socket.getfqdn)
    return _local_name


async def _connect(address: str, port: int) -> socket.socket:
    """A TCP connection to exactly ``address`` (no second DNS lookup)."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setblocking(False)
    try:
        await asyncio.get_running_loop().sock_connect(sock, (address, port))
    except BaseException:
        sock.close()
        raise
    return sock


async def _greet(client: aiosmtplib.SMTP) -> None:
    try:
        await client.ehlo()
    except aiosmtplib.SMTPHeloError:
        await client.helo()


async def _open(settings: _Settings, allow_private: bool, timeout: float) -> aiosmtplib.SMTP:
    """Check the host, connect, secure the connection as configured and log in.

    The caller bounds the whole of it with its deadline; ``timeout`` only caps each step.
    """
    mode = settings.tls_mode()
    context = _tls_context(settings)
    address = await _checked_address(settings, allow_private)
    local_name = await _local_hostname()
    sock = await _connect(address, settings.port)
    try:
        client = aiosmtplib.SMTP(
            hostname=settings.host,  # (names the server for TLS; the socket is connected)
            sock=sock,
            use_tls=mode == "ssl",
            start_tls=False,
            tls_context=context,
            timeout=timeout,
            local_hostname=local_name,
        )
    except BaseException:
        sock.close()
        raise
    try:
        # From here the socket belongs to the client's transport, which closes it.
        await client.connect()
        await _greet(client)
        if mode == "starttls":
            if not client.supports_extension("starttls"):
                raise AuthError("SMTP server does not offer STARTTLS, which the credential needs")
            await client.starttls()
            await _greet(client)
        if settings.user:
            if not client.supports_extension("auth") or not client.supported_auth_methods:
                raise AuthError("SMTP server does not offer AUTH that the credential can use")
            await client.login(settings.user, settings.password)
    except BaseException:
        client.close()
        raise
    return client


def _cause(exc: BaseException, kind: type[BaseException]) -> BaseException | None:
    """``exc`` or the first exception in its chain that is a ``kind`` (the client wraps some)."""
    current: BaseException | None = exc
    seen: set[int] = set()
    while current is not None and id(current) not in seen:
        if isinstance(current, kind):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def _map_error(exc: Exception, timeout: float) -> ConnectorError:
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        codes = [r.code for r in exc.recipients]
        refused = ", ".join(sorted(r.recipient for r in exc.recipients))
        if codes and all(400 <= code < 500 for code in codes):
            return TransientError(f"recipients temporarily refused: {refused}")
        return InvalidInputError(f"all recipients refused: {refused}")
    if isinstance(exc, aiosmtplib.SMTPNotSupported):
        return InvalidInputError(f"SMTP server cannot send this message: {exc}")
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        code, reply = exc.code, exc.message
        if 400 <= code < 500:
            return TransientError(f"SMTP temporary failure {code}: {reply}", status_code=code)
        if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
            return AuthError(f"SMTP login refused ({code})", status_code=code)
        if isinstance(exc, aiosmtplib.SMTPSenderRefused):
            return InvalidInputError(f"sender refused ({code}): {reply}", status_code=code)
        return InvalidInputError(f"SMTP server refused ({code}): {reply}", status_code=code)
    untrusted = _cause(exc, ssl.SSLCertVerificationError)
    if isinstance(untrusted, ssl.SSLCertVerificationError):
        return AuthError(f"SMTP server certificate not trusted: {untrusted.verify_message}")
    if isinstance(exc, TimeoutError):
        return TransientError(f"SMTP server did not complete the exchange within {timeout:g}s")
    return TransientError(f"SMTP connection failed: {type(exc).__name__}: {exc}")


async def _session(
    settings: _Settings, ctx: ActionContext, step: Callable[[aiosmtplib.SMTP], Awaitable[T]]
) -> T:
    """Open a session, run ``step`` on it and quit, all within the context's deadline.

    At the deadline the task is cancelled where it waits and the connection closed,
    so nothing is left talking to the server once this returns or raises.
    """
    deadline = asyncio.get_running_loop().time() + ctx.timeout_seconds
    client: aiosmtplib.SMTP | None = None
    try:
        try:
            async with asyncio.timeout_at(deadline):
                client = await _open(settings, ctx.allow_private_urls, ctx.timeout_seconds)
                result = await step(client)
        except BaseException:
            if client is not None:
                client.close()
            raise
    except ConnectorError:
        raise
    except (aiosmtplib.SMTPException, OSError) as exc:  # (TimeoutError is an OSError)
        raise _map_error(exc, ctx.timeout_seconds) from exc
    # The server has taken what it was sent: QUIT is a courtesy, and a failed or late one
    # must not turn a delivered message into an error (and a retry into a second copy).
    try:
        async with asyncio.timeout_at(deadline):
            await client.quit()
    except (aiosmtplib.SMTPException, OSError):
        pass
    finally:
        client.close()
    return result


def _message_id(domain: str, idempotency_key: str | None) -> str:
    """A retry of the same activity reuses the Message-ID, so mail clients can drop the copy."""
    if not idempotency_key:
        return email.utils.make_msgid(domain=domain)
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]
    return f"<{digest}.taskyard@{domain}>"


async def send_email(ctx: ActionContext, data: SendEmailInput) -> SendEmailOutput:
    """Send the message; partial refusals are reported in ``refused``."""
    settings = _settings(ctx)
    sender = data.from_ or settings.from_address or settings.user
    if not sender or "@" not in sender:
        raise InvalidInputError("no sender: give 'from' or set the credential's from_address")
    _name, envelope_from = email.utils.parseaddr(sender)
    domain = envelope_from.rsplit("@", 1)[1]
    message_id = _message_id(domain, ctx.idempotency_key)
    msg = build_message(data, sender, message_id)
    recipients = [email.utils.parseaddr(a)[1] for a in [*data.to, *data.cc, *data.bcc]]
    recipients = list(dict.fromkeys(recipients))

    async def send(client: aiosmtplib.SMTP) -> dict[str, aiosmtplib.SMTPResponse]:
        refused, _reply = await client.send_message(
            msg, sender=envelope_from, recipients=recipients
        )
        return refused

    try:
        refused = await _session(settings, ctx, send)
    except ValueError as exc:  # an address the client will not put on the wire
        raise InvalidInputError(f"cannot send to these addresses: {exc}") from exc
    return SendEmailOutput(
        message_id=message_id,
        accepted=[r for r in recipients if r not in refused],
        refused={r: f"{reply.code} {reply.message}" for r, reply in refused.items()},
    )


async def test(ctx: ActionContext) -> dict[str, Any]:
    """Connect, secure the connection, log in and quit."""
    settings = _settings(ctx)

    async def nothing_more(_client: aiosmtplib.SMTP) -> None:
        return None

    await _session(settings, ctx, nothing_more)
    return {"host": settings.host, "port": settings.port, "security": settings.tls_mode()}


CONNECTOR = Connector(
    type="smtp",
    name="SMTP/Email",
    description="Send email via SMTP",
    categories=("email", "communication"),
    credential_type="custom",
    credential_fields=(
        CredentialField("host", secret=False, description="SMTP server host name"),
        CredentialField("port", secret=False, description="587 (STARTTLS), 465 (TLS) or 25"),
        CredentialField("user", secret=False, description="SMTP AUTH user name"),
        CredentialField("password"),
        CredentialField(
            "security", secret=False, required=False, description="starttls | ssl | none"
        ),
        CredentialField("from_address", secret=False, required=False),
        CredentialField(
            "ca_certificate",
            secret=False,
            required=False,
            description="PEM CA certificate, for servers with a private CA",
        ),
    ),
    actions={
        "send_email": Action(
            name="send_email",
            description="Send email via SMTP",
            input_model=SendEmailInput,
            output_model=SendEmailOutput,
            handler=send_email,
        )
    },
    test=test,
)
