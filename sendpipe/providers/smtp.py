"""Any SMTP server through aiosmtplib: STARTTLS (587), implicit TLS (465) or plain (tests), with AUTH.

No HTTP here, so this adapter does not use the ProviderClient; aiosmtplib's
exceptions are translated at the boundary instead. SMTP reply classes decide:
5xx recipient refusals are REJECTED, 4xx are transient (FAIL_PROVIDER), AUTH
failures and refused senders are FAIL_AUTH, connect/TLS errors FAIL_NETWORK.
The Message-ID we generate is the provider message id.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from email.message import EmailMessage
from email.utils import make_msgid

import aiosmtplib

from sendpipe.core.catalog import Credentials, Settings
from sendpipe.core.catalog.email import SmtpCredentials, SmtpSettings
from sendpipe.core.messages import EmailRequest
from sendpipe.core.outcomes import Channel, Outcome
from sendpipe.providers.addresses import split_address
from sendpipe.providers.base import AnyRequest, ConfigurationError, PreparedSend, SendLater, log_attempt
from sendpipe.providers.client import ProviderClient
from sendpipe.providers.result import SendResult, scrub, secret_values, summarize

MESSAGE_ID_HEADER = "X-SendPipe-Message-Id"


def build_message(request: EmailRequest, settings: SmtpSettings) -> EmailMessage:
    sender = request.from_ or settings.from_
    message = EmailMessage()
    message["From"] = sender
    message["To"] = str(request.to)
    message["Subject"] = request.subject
    message["Message-ID"] = make_msgid(domain=split_address(sender)[1].rpartition("@")[2] or None)
    message[MESSAGE_ID_HEADER] = request.id
    if request.reply_to:
        message["Reply-To"] = str(request.reply_to)
    if request.text and request.html:
        message.set_content(request.text)
        message.add_alternative(request.html, subtype="html")
    elif request.html:
        message.set_content(request.html, subtype="html")
    else:
        message.set_content(request.text or "")
    return message


def translate(exc: BaseException, *, data_sent: bool) -> tuple[Outcome, str, bool]:
    """(outcome, summary, possible duplicate) for an aiosmtplib or TLS exception."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        codes = [r.code for r in exc.recipients]
        outcome = Outcome.REJECTED if codes and all(code >= 500 for code in codes) else Outcome.FAIL_PROVIDER
        return outcome, "recipient refused: " + "; ".join(f"{r.code} {r.message}" for r in exc.recipients), False
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        return Outcome.FAIL_AUTH, f"authentication failed: {exc.code} {exc.message}", False
    if isinstance(exc, aiosmtplib.SMTPConnectTimeoutError):
        return Outcome.FAIL_NETWORK, "connect timeout", False
    if isinstance(exc, aiosmtplib.SMTPConnectResponseError):
        return Outcome.FAIL_PROVIDER, f"server refused the connection: {exc.code} {exc.message}", False
    if isinstance(exc, aiosmtplib.SMTPConnectError | ssl.SSLError | ConnectionRefusedError):
        return Outcome.FAIL_NETWORK, f"connection failed: {exc}", False
    if isinstance(exc, aiosmtplib.SMTPTimeoutError | TimeoutError):
        return Outcome.FAIL_NETWORK, "timeout: no reply in time", data_sent
    if isinstance(exc, aiosmtplib.SMTPServerDisconnected | ConnectionError):
        return Outcome.FAIL_NETWORK, f"server disconnected: {exc}", data_sent
    if isinstance(exc, aiosmtplib.SMTPNotSupported):
        return Outcome.FAIL_AUTH, f"server does not support what the settings require: {exc}", False
    if isinstance(exc, aiosmtplib.SMTPSenderRefused):
        outcome = Outcome.FAIL_AUTH if exc.code >= 500 else Outcome.FAIL_PROVIDER
        return outcome, f"sender refused: {exc.code} {exc.message}", False
    if isinstance(exc, aiosmtplib.SMTPRecipientRefused | aiosmtplib.SMTPDataError):
        outcome = Outcome.REJECTED if exc.code >= 500 else Outcome.FAIL_PROVIDER
        return outcome, f"refused: {exc.code} {exc.message}", False
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        outcome = Outcome.FAIL_AUTH if exc.code in (530, 534, 535, 538) else Outcome.FAIL_PROVIDER
        return outcome, f"{exc.code} {exc.message}", False
    if isinstance(exc, aiosmtplib.SMTPException) and "AUTH" in str(exc):  # server offers no AUTH: settings mismatch
        return Outcome.FAIL_AUTH, f"SMTP error: {exc}", False
    if isinstance(exc, aiosmtplib.SMTPException | OSError):
        return Outcome.FAIL_PROVIDER, f"SMTP error: {exc}", data_sent
    raise TypeError(f"not an SMTP exception: {type(exc).__name__}") from exc


class SmtpAdapter:
    package = "provider-smtp"
    channel = Channel.EMAIL

    def __init__(self, *, cert_bundle: str | None = None) -> None:
        self._cert_bundle = cert_bundle  # extra CA file (tests, private CAs)

    def supports(self, request: AnyRequest) -> bool:
        return isinstance(request, EmailRequest)

    async def send(
        self, request: AnyRequest, *, credentials: Credentials, settings: Settings, client: ProviderClient | None = None
    ) -> SendResult:
        if not isinstance(request, EmailRequest) or not isinstance(credentials, SmtpCredentials) \
                or not isinstance(settings, SmtpSettings):
            raise ConfigurationError("provider-smtp needs an EmailRequest, SmtpCredentials and SmtpSettings")
        message = build_message(request, settings)
        smtp = aiosmtplib.SMTP(
            hostname=settings.host,
            port=settings.port,
            use_tls=settings.security == "tls",
            start_tls=settings.security == "starttls",
            validate_certs=settings.verify_certificates,
            cert_bundle=self._cert_bundle,
            timeout=settings.timeout_seconds,
        )
        data_sent = False
        started = time.perf_counter()
        try:
            async with asyncio.timeout(settings.timeout_seconds):
                await smtp.connect()
                try:
                    await smtp.login(credentials.username.get_secret_value(), credentials.password.get_secret_value())
                    data_sent = True  # from here on the server may accept the message before we see its reply
                    await smtp.send_message(message)
                    with contextlib.suppress(aiosmtplib.SMTPException):
                        await smtp.quit()
                finally:
                    if smtp.is_connected:
                        smtp.close()
        except (aiosmtplib.SMTPException, OSError, TimeoutError, ssl.SSLError) as exc:
            outcome, summary, duplicate = translate(exc, data_sent=data_sent)
            result = SendResult(outcome=outcome, error=summarize(summary), possible_duplicate=duplicate)
        else:
            result = SendResult(outcome=Outcome.SUCCESS, provider_message_id=message["Message-ID"].strip("<>"))
        result = scrub(result.with_latency((time.perf_counter() - started) * 1000), secret_values(credentials))
        log_attempt(self.package, request, result)
        return result

    def prepare(
        self, request: AnyRequest, *, credentials: Credentials, settings: Settings, client: ProviderClient
    ) -> PreparedSend:
        return SendLater(self, request, credentials, settings, client)


ADAPTER = SmtpAdapter()
