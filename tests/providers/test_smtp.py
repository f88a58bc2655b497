"""The SMTP adapter against the simulator's aiosmtpd servers: STARTTLS and implicit TLS, AUTH, and each refusal."""

from __future__ import annotations

import email
import json
import socket
from typing import Any

import pytest

from sendpipe.core.catalog.email import SmtpCredentials, SmtpSettings
from sendpipe.core.messages import parse_send_request
from sendpipe.core.outcomes import Outcome
from sendpipe.providers import SendResult, get_adapter
from sendpipe.providers.smtp import SmtpAdapter
from sendpipe.simulator import Simulator

EMAIL = {"id": "smtp-1", "namespace": "acme", "channel": "email", "to": "bob@example.com", "subject": "Hi",
         "text": "hello", "html": "<p>hello</p>", "replyTo": "help@acme.example"}


async def send(sim: Simulator, *, security: str = "starttls", password: str | None = None, timeout: float = 5.0,
               port: int | None = None, verify: bool = True, **overrides: Any) -> SendResult:
    config = sim.config("provider-smtp")
    assert sim.smtp is not None
    settings = {**config["settings"], "security": security, "timeout_seconds": timeout, "verify_certificates": verify}
    if security == "tls":
        settings["port"] = sim.smtp.tls_port
    if port is not None:
        settings["port"] = port
    credentials = {**config["credentials"], **({"password": password} if password else {})}
    adapter = SmtpAdapter(cert_bundle=str(sim.smtp.cert_file))
    return await adapter.send(
        parse_send_request(json.dumps({**EMAIL, **overrides})),
        credentials=SmtpCredentials.model_validate(credentials), settings=SmtpSettings.model_validate(settings),
    )


@pytest.mark.parametrize("security", ["starttls", "tls"])
async def test_delivers_with_tls_and_auth(security: str, simulator: Simulator) -> None:
    result = await send(simulator, security=security)
    assert result.outcome is Outcome.SUCCESS, result
    (recorded,) = simulator.requests("provider-smtp")
    message = email.message_from_bytes(recorded.body)
    assert message["To"] == "bob@example.com" and message["From"] == "noreply@acme.example"
    assert message["Subject"] == "Hi" and message["Reply-To"] == "help@acme.example"
    assert message["X-SendPipe-Message-Id"] == "smtp-1"
    assert message["Message-ID"].strip("<>") == result.provider_message_id
    assert message.is_multipart() and {p.get_content_type() for p in message.walk()} >= {"text/plain", "text/html"}
    assert recorded.headers["RCPT TO"] == "bob@example.com"


async def test_wrong_password_fails_auth(simulator: Simulator) -> None:
    result = await send(simulator, password="wrong-password")
    assert result.outcome is Outcome.FAIL_AUTH, result
    assert "wrong-password" not in (result.error or "")


async def test_unknown_certificate_is_a_network_failure(simulator: Simulator) -> None:
    config = simulator.config("provider-smtp")
    result = await get_adapter("provider-smtp").send(  # the registry's adapter does not trust the simulator's CA
        parse_send_request(json.dumps(EMAIL)), credentials=SmtpCredentials.model_validate(config["credentials"]),
        settings=SmtpSettings.model_validate({**config["settings"], "timeout_seconds": 5}), client=None)  # type: ignore[arg-type]
    assert result.outcome is Outcome.FAIL_NETWORK and not result.possible_duplicate, result


async def test_refused_recipient_is_rejected(simulator: Simulator) -> None:
    result = await send(simulator, to="invalid@example.com")
    assert result.outcome is Outcome.REJECTED, result
    assert "550" in (result.error or "")


@pytest.mark.parametrize(
    ("kind", "outcome"),
    [("server_error", Outcome.FAIL_PROVIDER), ("throttle", Outcome.FAIL_PROVIDER), ("validation", Outcome.REJECTED),
     ("invalid_recipient", Outcome.REJECTED)],
)
async def test_data_replies(kind: str, outcome: Outcome, simulator: Simulator) -> None:
    simulator.set_fault("smtp", failure_rate=1.0, error=kind)
    result = await send(simulator)
    assert result.outcome is outcome, result


async def test_refused_connection(simulator: Simulator) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = await send(simulator, port=port)
    assert result.outcome is Outcome.FAIL_NETWORK and not result.possible_duplicate, result


async def test_hang_after_data_times_out_as_possible_duplicate(simulator: Simulator) -> None:
    simulator.set_fault("smtp", hang=True)
    result = await send(simulator, timeout=0.5)
    assert result.outcome is Outcome.FAIL_NETWORK and result.possible_duplicate, result
