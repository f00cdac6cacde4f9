"""SMTP connector: send one email through the user's own mail server.

Speaks SMTP (RFC 5321) with the standard library's ``smtplib``, run in a worker
thread so the event loop never blocks. Auth: a ``custom`` credential with
``host``, ``port``, ``user`` and ``password`` (SMTP AUTH), transport security
``starttls`` (RFC 3207), ``ssl`` (implicit TLS, RFC 8314) or ``none``. TLS
certificates are always verified, against the system roots or the credential's
own ``ca_certificate`` (PEM) for a server with a private CA.

The host comes from the user, so every address it resolves to is checked with
``connectors.netguard`` and the connection goes to the checked address.
"""

from __future__ import annotations

import asyncio
import email.utils
import hashlib
import ipaddress
import smtplib
import socket
import ssl
from email.message import EmailMessage
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from connectors import netguard
from connectors.base import Action, ActionContext, Connector, CredentialField
from connectors.errors import (
    AuthError,
    ConnectorError,
    InvalidInputError,
    TransientError,
)

Security = Literal["starttls", "ssl", "none"]


def _check_address(value: str) -> str:
    if "\r" in value or "\n" in value:
        raise ValueError("address must not contain line breaks")
    _name, addr = email.utils.parseaddr(value)
    if "@" not in addr or addr.startswith("@") or addr.endswith("@"):
        raise ValueError(f"not an email address: {value!r}")
    return value


class SendEmailInput(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    to: list[str] = Field(min_length=1)
    cc: list[str] = Field(default_factory=list)
    bcc: list[str] = Field(default_factory=list)
    subject: str = Field(max_length=998)
    text: str | None = None
    html: str | None = None
    reply_to: str | None = None
    from_: str | None = Field(
        default=None, alias="from", description="Defaults to the credential's from_address"
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


def _checked_address(host: str, port: int, allow_private: bool) -> str:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        if exc.errno == socket.EAI_AGAIN:
            raise TransientError(f"DNS lookup for {host!r} failed temporarily") from exc
        raise InvalidInputError(f"cannot resolve SMTP host {host!r}") from exc
    addresses = [str(info[4][0]) for info in infos]
    if not allow_private:
        for address in addresses:
            if netguard.is_blocked(ipaddress.ip_address(address.split("%", 1)[0])):
                raise netguard.BlockedAddressError(
                    f"SMTP host {host!r} resolves to a private or reserved address; refused"
                )
    return addresses[0]


class _PinnedSMTP(smtplib.SMTP):
    """Connects to an address checked beforehand; the host name still drives TLS.

    ``_get_socket`` is the hook ``SMTP_SSL`` and ``LMTP`` override too.
    """

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        self.pinned_address = address
        super().__init__(host, port, timeout=timeout)

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        return socket.create_connection((self.pinned_address, port), timeout, self.source_address)


class _PinnedSMTPSSL(smtplib.SMTP_SSL, _PinnedSMTP):
    """Implicit TLS: ``SMTP_SSL`` wraps the pinned socket and verifies the host name."""

    def __init__(
        self, host: str, port: int, address: str, timeout: float, context: ssl.SSLContext
    ) -> None:
        self.pinned_address = address
        smtplib.SMTP_SSL.__init__(self, host, port, timeout=timeout, context=context)


def _open(settings: _Settings, address: str, timeout: float) -> smtplib.SMTP:
    """Connect, secure the connection as configured and log in."""
    mode = settings.tls_mode()
    context = _tls_context(settings)
    smtp: smtplib.SMTP
    if mode == "ssl":
        smtp = _PinnedSMTPSSL(settings.host, settings.port, address, timeout, context)
    else:
        smtp = _PinnedSMTP(settings.host, settings.port, address, timeout)
    try:
        smtp.ehlo()
        if mode == "starttls":
            smtp.starttls(context=context)
            smtp.ehlo()
        if settings.user:
            smtp.login(settings.user, settings.password)
    except smtplib.SMTPNotSupportedError as exc:
        # STARTTLS or AUTH not offered: the credential does not fit this server.
        smtp.close()
        raise AuthError(f"SMTP server does not support what the credential needs: {exc}") from exc
    except BaseException:
        smtp.close()
        raise
    return smtp


def _map_error(exc: smtplib.SMTPException | OSError) -> ConnectorError:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        refused = ", ".join(sorted(exc.recipients))
        if codes and all(400 <= code < 500 for code in codes):
            return TransientError(f"recipients temporarily refused: {refused}")
        return InvalidInputError(f"all recipients refused: {refused}")
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return InvalidInputError(f"SMTP server cannot send this message: {exc}")
    if isinstance(exc, smtplib.SMTPResponseException):
        code = exc.smtp_code
        reply = _text(exc.smtp_error)
        if 400 <= code < 500:
            return TransientError(f"SMTP temporary failure {code}: {reply}", status_code=code)
        if isinstance(exc, smtplib.SMTPAuthenticationError):
            return AuthError(f"SMTP login refused ({code})", status_code=code)
        if isinstance(exc, smtplib.SMTPSenderRefused):
            return InvalidInputError(f"sender refused ({code}): {reply}", status_code=code)
        return InvalidInputError(f"SMTP server refused ({code}): {reply}", status_code=code)
    if isinstance(exc, ssl.SSLCertVerificationError):
        return AuthError(f"SMTP server certificate not trusted: {exc.verify_message}")
    return TransientError(f"SMTP connection failed: {type(exc).__name__}: {exc}")


def _message_id(domain: str, idempotency_key: str | None) -> str:
    """A retry of the same activity reuses the Message-ID, so mail clients can drop the copy."""
    if not idempotency_key:
        return email.utils.make_msgid(domain=domain)
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]
    return f"<{digest}.taskyard@{domain}>"


def _send_blocking(
    settings: _Settings, data: SendEmailInput, ctx: ActionContext
) -> SendEmailOutput:
    sender = data.from_ or settings.from_address or settings.user
    if not sender or "@" not in sender:
        raise InvalidInputError("no sender: give 'from' or set the credential's from_address")
    _name, envelope_from = email.utils.parseaddr(sender)
    domain = envelope_from.rsplit("@", 1)[1]
    message_id = _message_id(domain, ctx.idempotency_key)
    msg = build_message(data, sender, message_id)
    recipients = [email.utils.parseaddr(a)[1] for a in [*data.to, *data.cc, *data.bcc]]
    recipients = list(dict.fromkeys(recipients))
    address = _checked_address(settings.host, settings.port, ctx.allow_private_urls)
    try:
        smtp = _open(settings, address, ctx.timeout_seconds)
        try:
            refused = smtp.send_message(msg, from_addr=envelope_from, to_addrs=recipients)
        finally:
            _quit(smtp)
    except (smtplib.SMTPException, OSError) as exc:
        raise _map_error(exc) from exc
    return SendEmailOutput(
        message_id=message_id,
        accepted=[r for r in recipients if r not in refused],
        refused={r: f"{code} {_text(reply)}" for r, (code, reply) in refused.items()},
    )


def _text(reply: bytes | str) -> str:
    return reply.decode(errors="replace") if isinstance(reply, bytes) else reply


def _quit(smtp: smtplib.SMTP) -> None:
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()


async def send_email(ctx: ActionContext, data: SendEmailInput) -> SendEmailOutput:
    """Send the message; partial refusals are reported in ``refused``."""
    settings = _settings(ctx)
    return await asyncio.to_thread(_send_blocking, settings, data, ctx)


def _check_blocking(settings: _Settings, allow_private: bool, timeout: float) -> dict[str, Any]:
    address = _checked_address(settings.host, settings.port, allow_private)
    try:
        smtp = _open(settings, address, timeout)
        _quit(smtp)
    except (smtplib.SMTPException, OSError) as exc:
        raise _map_error(exc) from exc
    return {"host": settings.host, "port": settings.port, "security": settings.tls_mode()}


async def test(ctx: ActionContext) -> dict[str, Any]:
    """Connect, secure the connection, log in and quit."""
    settings = _settings(ctx)
    return await asyncio.to_thread(
        _check_blocking, settings, ctx.allow_private_urls, ctx.timeout_seconds
    )


CONNECTOR = Connector(
    type="smtp",
    name="SMTP/Email",
    description="Send email via SMTP",
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
