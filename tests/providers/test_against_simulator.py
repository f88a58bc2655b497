"""Every HTTP adapter against the simulator: success, the magic bad recipient, wrong keys, and every fault."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from sendpipe.core.catalog import get_package
from sendpipe.core.messages import parse_send_request
from sendpipe.core.outcomes import Outcome
from sendpipe.providers import HttpCall, ProviderClient, SendResult, get_adapter
from sendpipe.providers.sendgrid import SendGridAdapter
from sendpipe.simulator import INVALID_PHONE, PACKAGE_PATHS, SimCredentials, Simulator

HTTP_PACKAGES = sorted(p for p in PACKAGE_PATHS if p != "provider-smtp")
REQUESTS: dict[str, dict[str, Any]] = {
    "email": {"id": "sim-1", "namespace": "acme", "channel": "email", "to": "bob@example.com", "subject": "Hi",
              "text": "hello", "html": "<p>hello</p>"},
    "sms": {"id": "sim-2", "namespace": "acme", "channel": "sms", "to": "+254711000001", "text": "hello"},
    "whatsapp": {"id": "sim-3", "namespace": "acme", "channel": "whatsapp", "to": "+254711000001", "text": "hello"},
}
EXPECTED_PATHS = {
    "provider-ses": "/ses/v2/email/outbound-emails",
    "provider-sendgrid": "/sendgrid/v3/mail/send",
    "provider-mailgun": "/mailgun/v3/mg.acme.example/messages",
    "provider-resend": "/resend/emails",
    "provider-meta-cloud": "/meta/v24.0/106540352242922/messages",
    "provider-360dialog": "/360dialog/messages",
    "provider-twilio-whatsapp": f"/twilio/2010-04-01/Accounts/{SimCredentials().twilio_account_sid}/Messages.json",
    "provider-twilio-sms": f"/twilio/2010-04-01/Accounts/{SimCredentials().twilio_account_sid}/Messages.json",
    "provider-africastalking": "/africastalking/version1/messaging",
    "provider-termii": "/termii/api/sms/send",
}


async def send(sim: Simulator, client: ProviderClient, package: str, *, timeout: float | None = None,
               **overrides: Any) -> SendResult:
    info = get_package(package)
    config = sim.config(package)
    settings_data = {**config["settings"], **({"timeout_seconds": timeout} if timeout else {})}
    request = parse_send_request(json.dumps({**REQUESTS[info.channel.value], **overrides}))
    return await get_adapter(package).send(
        request, credentials=info.credentials.model_validate(config["credentials"]),
        settings=info.settings.model_validate(settings_data), client=client,
    )


@pytest.mark.parametrize("package", HTTP_PACKAGES)
async def test_prepare_builds_without_sending_and_send_completes_it(
    package: str, simulator: Simulator, client: ProviderClient
) -> None:
    info = get_package(package)
    config = simulator.config(package)
    request = parse_send_request(json.dumps(REQUESTS[info.channel.value]))
    prepared = get_adapter(package).prepare(
        request, credentials=info.credentials.model_validate(config["credentials"]),
        settings=info.settings.model_validate(config["settings"]), client=client,
    )
    assert simulator.requests(package) == []
    result = await prepared.send()
    assert result.outcome is Outcome.SUCCESS, result
    (recorded,) = simulator.requests(package)
    assert recorded.path == EXPECTED_PATHS[package]


async def test_a_request_that_cannot_be_built_fails_when_sent(simulator: Simulator, client: ProviderClient) -> None:
    class BrokenUrl(SendGridAdapter):
        def build(self, request: Any, credentials: Any, settings: Any) -> HttpCall:
            return dataclasses.replace(super().build(request, credentials, settings), url="http://[::1/v3/mail/send")

    info = get_package("provider-sendgrid")
    config = simulator.config("provider-sendgrid")
    prepared = BrokenUrl().prepare(
        parse_send_request(json.dumps(REQUESTS["email"])),
        credentials=info.credentials.model_validate(config["credentials"]),
        settings=info.settings.model_validate(config["settings"]), client=client,
    )
    result = await prepared.send()
    assert result.outcome is Outcome.FAIL_NETWORK and result.error == "invalid URL" and not result.possible_duplicate
    assert simulator.requests("provider-sendgrid") == []


@pytest.mark.parametrize("package", HTTP_PACKAGES)
async def test_success_is_recorded(package: str, simulator: Simulator, client: ProviderClient) -> None:
    result = await send(simulator, client, package)
    assert result.outcome is Outcome.SUCCESS, result
    assert result.provider_message_id
    (recorded,) = simulator.requests(package)
    assert recorded.path == EXPECTED_PATHS[package] and recorded.method == "POST"
    assert recorded.status == result.http_status


@pytest.mark.parametrize("package", HTTP_PACKAGES)
async def test_magic_invalid_recipient_is_rejected(package: str, simulator: Simulator, client: ProviderClient) -> None:
    to = "invalid@example.com" if get_package(package).channel.value == "email" else INVALID_PHONE
    result = await send(simulator, client, package, to=to)
    assert result.outcome is Outcome.REJECTED, result


@pytest.mark.parametrize("package", HTTP_PACKAGES)
async def test_wrong_credentials_fail_auth(package: str, simulator: Simulator, client: ProviderClient) -> None:
    accepted = simulator.state.credentials
    other = {f.name: getattr(accepted, f.name) + "0" for f in dataclasses.fields(accepted)
             if isinstance(getattr(accepted, f.name), str)}
    config = simulator.config(package)  # built from the accepted credentials...
    simulator.state.credentials = dataclasses.replace(accepted, **other)  # ...which the simulator no longer accepts
    info = get_package(package)
    request = parse_send_request(json.dumps(REQUESTS[info.channel.value]))
    result = await get_adapter(package).send(
        request, credentials=info.credentials.model_validate(config["credentials"]),
        settings=info.settings.model_validate(config["settings"]), client=client,
    )
    assert result.outcome is Outcome.FAIL_AUTH, result


FAULTS = [
    ("auth", Outcome.FAIL_AUTH),
    ("throttle", Outcome.THROTTLED),
    ("invalid_recipient", Outcome.REJECTED),
    ("validation", Outcome.REJECTED),
    ("server_error", Outcome.FAIL_PROVIDER),
    ("malformed", Outcome.FAIL_PROVIDER),
]


@pytest.mark.parametrize("package", HTTP_PACKAGES)
@pytest.mark.parametrize(("kind", "outcome"), FAULTS, ids=[k for k, _ in FAULTS])
async def test_injected_errors_map_like_the_real_ones(
    package: str, kind: str, outcome: Outcome, simulator: Simulator, client: ProviderClient
) -> None:
    simulator.set_fault(package, failure_rate=1.0, error=kind, retry_after_seconds=3)
    result = await send(simulator, client, package)
    assert result.outcome is outcome, result
    if kind == "throttle":
        assert result.retry_after_seconds == 3.0


@pytest.mark.parametrize("package", HTTP_PACKAGES)
async def test_outage_503(package: str, simulator: Simulator, client: ProviderClient) -> None:
    simulator.set_fault(package, outage="503")
    result = await send(simulator, client, package)
    assert (result.outcome, result.http_status) == (Outcome.FAIL_PROVIDER, 503)


@pytest.mark.parametrize("package", ["provider-sendgrid", "provider-twilio-sms", "provider-meta-cloud"])
async def test_dropped_connection_is_a_possible_duplicate(package: str, simulator: Simulator, client: ProviderClient) -> None:
    simulator.set_fault(package, outage="drop")
    result = await send(simulator, client, package)
    assert result.outcome is Outcome.FAIL_NETWORK and result.possible_duplicate, result
    assert simulator.requests(package)[-1].status is None


@pytest.mark.parametrize("package", ["provider-resend", "provider-africastalking", "provider-360dialog"])
async def test_accept_then_hang_times_out(package: str, simulator: Simulator, client: ProviderClient) -> None:
    simulator.set_fault(package, hang=True)
    result = await send(simulator, client, package, timeout=0.4)
    assert result.outcome is Outcome.FAIL_NETWORK and result.possible_duplicate, result
    assert 350 <= result.latency_ms < 3000


async def test_refused_connection(simulator: Simulator, client: ProviderClient) -> None:
    info = get_package("provider-termii")
    config = simulator.config("provider-termii")
    await simulator.stop()
    request = parse_send_request(json.dumps(REQUESTS["sms"]))
    result = await get_adapter("provider-termii").send(
        request, credentials=info.credentials.model_validate(config["credentials"]),
        settings=info.settings.model_validate(config["settings"]), client=client)
    assert result.outcome is Outcome.FAIL_NETWORK and not result.possible_duplicate


async def test_latency_and_rate_limit(simulator: Simulator, client: ProviderClient) -> None:
    simulator.set_fault("provider-sendgrid", latency_ms=60)
    result = await send(simulator, client, "provider-sendgrid")
    assert result.outcome is Outcome.SUCCESS and result.latency_ms >= 55
    simulator.set_fault("provider-sendgrid", rate_limit_per_second=3, retry_after_seconds=2)
    outcomes = [(await send(simulator, client, "provider-sendgrid")).outcome for _ in range(8)]
    assert Outcome.SUCCESS in outcomes and Outcome.THROTTLED in outcomes


async def test_partial_failure_rate(simulator: Simulator, client: ProviderClient) -> None:
    simulator.set_fault("provider-twilio-sms", failure_rate=0.5, error="server_error")
    outcomes = {(await send(simulator, client, "provider-twilio-sms")).outcome for _ in range(40)}
    assert outcomes == {Outcome.SUCCESS, Outcome.FAIL_PROVIDER}


async def test_resend_idempotency_key_returns_the_same_email(simulator: Simulator, client: ProviderClient) -> None:
    first = await send(simulator, client, "provider-resend")
    again = await send(simulator, client, "provider-resend")
    assert first.provider_message_id == again.provider_message_id
    changed = await send(simulator, client, "provider-resend", subject="Different")
    assert changed.outcome is Outcome.REJECTED  # same key, different payload: 409 invalid_idempotent_request
