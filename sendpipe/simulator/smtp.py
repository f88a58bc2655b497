"""The simulator's SMTP side: aiosmtpd with STARTTLS (submission) and implicit TLS listeners, AUTH required.

A self-signed certificate for 127.0.0.1/localhost is generated at start; its
path is exposed so clients can trust it. Faults for provider ``smtp`` apply:
latency, drop (close the connection), hang, and error kinds answered with the
matching SMTP reply codes (535 auth, 421 throttle, 550 bad recipient, 451 server).
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import random
import secrets
import ssl
import tempfile
import warnings
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from sendpipe.simulator.state import INVALID_EMAIL_PREFIX, Recorded, SimState

NAME = "smtp"
_FAULT_REPLIES = {
    "auth": "535 5.7.8 Authentication credentials invalid",
    "throttle": "421 4.7.0 Too many messages, slow down",
    "invalid_recipient": "550 5.1.1 Recipient address rejected: User unknown",
    "validation": "554 5.6.0 Message rejected: malformed content",
    "server_error": "451 4.3.0 Local error in processing",
    "malformed": "451 4.3.0 Local error in processing",
}


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """Write a key and a self-signed certificate for localhost / 127.0.0.1; return (cert, key) paths."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sendpipe-simulator")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=7))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                    x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "simulator-cert.pem", directory / "simulator-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


class _Handler:
    def __init__(self, state: SimState) -> None:
        self.state = state

    async def _fault_reply(self) -> str | None:
        fault = self.state.fault(NAME)
        if fault is None:
            return None
        delay = fault.latency_seconds()
        if delay:
            await asyncio.sleep(delay)
        if fault.hang:
            try:
                await asyncio.wait_for(self.state.release.wait(), 600)
            except TimeoutError:
                pass
            return None
        if fault.outage == "503":
            return "421 4.3.2 Service not available, closing transmission channel"
        if fault.throttle or self.state.over_rate_limit(NAME):
            return _FAULT_REPLIES["throttle"]
        if fault.failure_rate and random.random() < fault.failure_rate:
            return _FAULT_REPLIES[fault.error]
        return None

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        if address.partition("@")[0].lower().startswith(INVALID_EMAIL_PREFIX):
            return "550 5.1.1 Recipient address rejected: User unknown in virtual mailbox table"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        fault = self.state.fault(NAME)
        if fault is not None and fault.outage == "drop":
            self.state.record(self._entry(envelope, None))
            if server.transport is not None:
                server.transport.close()
            return "421 4.3.2 closing"
        reply = await self._fault_reply()
        status = int(reply[:3]) if reply else 250
        self.state.record(self._entry(envelope, status))
        return reply or f"250 2.0.0 Ok: queued as {secrets.token_hex(6).upper()}"

    def _entry(self, envelope: Envelope, status: int | None) -> Recorded:
        headers = {"MAIL FROM": str(envelope.mail_from), "RCPT TO": ",".join(envelope.rcpt_tos)}
        content = envelope.original_content or envelope.content or b""
        return Recorded(NAME, "DATA", "/", "", headers, content if isinstance(content, bytes) else content.encode(), status)


class SmtpServers:
    """The two SMTP listeners (STARTTLS and implicit TLS) on loopback."""

    def __init__(self, state: SimState, *, host: str = "127.0.0.1", port: int = 0, tls_port: int = 0) -> None:
        self.state = state
        self.host, self._port, self._tls_port = host, port, tls_port
        self._dir = tempfile.TemporaryDirectory(prefix="sendpipe-sim-")
        self.cert_file, self.key_file = self_signed_certificate(Path(self._dir.name))
        self._servers: list[asyncio.AbstractServer] = []
        self.port = self.tls_port = 0

    def _context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(str(self.cert_file), str(self.key_file))
        return context

    def _authenticate(self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any) -> AuthResult:
        creds = self.state.credentials
        if isinstance(data, LoginPassword):
            ok = data.login.decode() == creds.smtp_username and data.password.decode() == creds.smtp_password
            return AuthResult(success=ok, handled=False)
        return AuthResult(success=False, handled=False)

    def _protocol(self, *, starttls: bool) -> SMTP:
        fault = self.state.fault(NAME)
        if fault is not None and fault.outage == "drop":
            raise ConnectionAbortedError
        with warnings.catch_warnings():  # aiosmtpd warns about AUTH without STARTTLS; here TLS is implicit
            warnings.simplefilter("ignore")
            return self._smtp(starttls=starttls)

    def _smtp(self, *, starttls: bool) -> SMTP:
        return SMTP(
            _Handler(self.state), hostname="sendpipe-simulator", tls_context=self._context() if starttls else None,
            require_starttls=starttls, authenticator=self._authenticate, auth_required=True,
            auth_require_tls=starttls,  # the implicit-TLS listener is encrypted from the first byte
            decode_data=False,
        )

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        plain = await loop.create_server(lambda: self._protocol(starttls=True), self.host, self._port)
        tls = await loop.create_server(lambda: self._protocol(starttls=False), self.host, self._tls_port,
                                       ssl=self._context())
        self._servers = [plain, tls]
        self.port = plain.sockets[0].getsockname()[1]
        self.tls_port = tls.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        for server in self._servers:
            server.close()
        for server in self._servers:
            await server.wait_closed()
        self._servers = []
        self._dir.cleanup()
