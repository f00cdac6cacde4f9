"""A real SMTP server for connector tests: aiosmtpd on loopback with AUTH, and a throwaway PKI.

``LoopbackController`` binds port 0 and learns the port afterwards; ``Mailbox`` is
the aiosmtpd handler that keeps accepted mail and refuses what a test asks it to;
``make_pki`` issues a CA and a server certificate for 127.0.0.1/localhost.
``stalling_server`` is a raw SMTP server, in the test's own event loop, that stops
answering at a chosen point of the dialog.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import email
import email.policy
import ipaddress
import ssl
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Literal

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

USER, PASSWORD = "mailer", "s3cret-pass"


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    tls: bool
    authenticated: bool


@dataclass
class Mailbox:
    """aiosmtpd handler: keeps what it accepted, refuses what it is told to."""

    received: list[Received] = field(default_factory=list)
    refuse_rcpt: dict[str, str] = field(default_factory=dict)
    refuse_mail: dict[str, str] = field(default_factory=dict)
    data_reply: str | None = None

    def reset(self) -> None:
        self.received.clear()
        self.refuse_rcpt.clear()
        self.refuse_mail.clear()
        self.data_reply = None

    async def handle_MAIL(
        self, server: Any, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self.refuse_mail:
            return self.refuse_mail[address]
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: Any, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self.refuse_rcpt:
            return self.refuse_rcpt[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        if self.data_reply:
            return self.data_reply
        content = envelope.original_content or b""
        message = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.received.append(
            Received(
                mail_from=str(envelope.mail_from),
                rcpt_tos=list(envelope.rcpt_tos),
                message=message,
                tls=session.ssl is not None,
                authenticated=bool(session.authenticated),
            )
        )
        return "250 Message accepted for delivery"


def authenticator(
    server: Any, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (
        auth_data.login == USER.encode() and auth_data.password == PASSWORD.encode()
    )
    return AuthResult(success=ok, handled=False)


class LoopbackController(Controller):
    """Binds port 0 and learns the port the kernel picked, so tests never race for one."""

    def _create_server(self) -> Awaitable[Any]:
        async def create() -> Any:
            server = await self.loop.create_server(
                self._factory_invoker, host=self.hostname, port=0, ssl=self.ssl_context
            )
            self.port = server.sockets[0].getsockname()[1]
            return server

        return create()


@dataclass(frozen=True)
class Pki:
    ca_pem: str
    cert_file: Path
    key_file: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context


def make_pki(directory: Path) -> Pki:
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Taskyard Test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    cert_file, key_file = directory / "server.pem", directory / "server.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return Pki(ca_cert.public_bytes(serialization.Encoding.PEM).decode(), cert_file, key_file)


StallPoint = Literal["greeting", "ehlo", "end_of_data", "dribble"]
# A dribbling server sends one line of a reply that never ends this often: each read
# gets data well within any per-read timeout, so only a deadline for the whole
# exchange stops the client. Bounded, so the server stops by itself whatever happens.
DRIBBLE_INTERVAL_SECONDS = 0.1
DRIBBLE_MAX_LINES = 150


@dataclass
class StallingServer:
    """Speaks SMTP up to ``stall_at``, then says nothing more until the client hangs up.

    ``greeting``: accepts the connection and never greets; ``ehlo``: greets and never
    answers EHLO; ``end_of_data``: takes the whole message and never confirms it;
    ``dribble``: greets with a multi-line reply that never ends. ``hung_up`` is set
    once the client has closed the connection.
    """

    stall_at: StallPoint
    port: int = 0
    hung_up: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            if self.stall_at == "dribble":
                for _ in range(DRIBBLE_MAX_LINES):
                    if reader.at_eof():
                        break
                    writer.write(b"220-still here\r\n")
                    await writer.drain()
                    await asyncio.sleep(DRIBBLE_INTERVAL_SECONDS)  # (the pace is the test)
            elif self.stall_at == "greeting" or await self._dialog(reader, writer):
                await reader.read()  # silent until the client goes away
        except ConnectionError:
            pass
        finally:
            self.hung_up.set()
            writer.close()

    async def _dialog(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Answer until the stall point; True when it was reached."""
        writer.write(b"220 stall.test ESMTP\r\n")
        in_data = False
        while line := await reader.readline():
            if in_data:
                if line != b".\r\n":
                    continue
                if self.stall_at == "end_of_data":
                    return True
                in_data = False
                writer.write(b"250 queued\r\n")
                continue
            verb = line[:4].upper()
            if verb == b"EHLO":
                if self.stall_at == "ehlo":
                    return True
                writer.write(b"250-stall.test\r\n250 8BITMIME\r\n")
            elif verb == b"DATA":
                in_data = True
                writer.write(b"354 go ahead\r\n")
            elif verb == b"QUIT":
                writer.write(b"221 bye\r\n")
                return False
            else:
                writer.write(b"250 OK\r\n")
        return False


@contextlib.asynccontextmanager
async def stalling_server(stall_at: StallPoint) -> AsyncIterator[StallingServer]:
    fake = StallingServer(stall_at)
    server = await asyncio.start_server(fake.handle, "127.0.0.1", 0)
    fake.port = server.sockets[0].getsockname()[1]
    try:
        yield fake
    finally:
        server.close()
        await server.wait_closed()
