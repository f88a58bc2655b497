"""Message, resource and record models: JSON round trips, and errors that name the field."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from sendpipe.core.catalog.email import SesSettings
from sendpipe.core.messages import (
    MAX_REQUEST_BYTES,
    Attempt,
    DeliveryEvent,
    EmailRequest,
    RequestTooLarge,
    SmsRequest,
    WhatsAppRequest,
    describe_validation_error,
    parse_send_request,
)
from sendpipe.core.outcomes import Channel, Outcome
from sendpipe.core.provider import ProviderResource, ProviderSpec, ProviderStatus
from sendpipe.core.records import HealthVerdict, OutcomeBatch, RoutingRecord, routing_key

WHEN = "2026-01-02T03:04:05Z"
EMAIL = {"id": "m-1", "namespace": "acme", "channel": "email", "to": "ada@acme.example", "subject": "Hi",
         "text": "Hello", "html": "<p>Hello</p>", "from": "Acme <noreply@acme.example>", "replyTo": "ops@acme.example",
         "metadata": {"campaign": "welcome"}, "expiresAt": WHEN}
SMS = {"id": "m-2", "namespace": "acme", "channel": "sms", "to": "+14155550100", "text": "Your code is 1234"}
WHATSAPP_TEXT = {"id": "m-3", "namespace": "acme", "channel": "whatsapp", "to": "+2348030000000", "text": "Hi"}
WHATSAPP_TEMPLATE = {"id": "m-4", "namespace": "acme", "channel": "whatsapp", "to": "+2348030000000",
                     "template": {"name": "order_shipped", "language": "en_US", "parameters": ["A-1"]}}
ATTEMPT = {"provider": "production-ses", "providerUid": "uid-1", "package": "provider-ses", "outcome": "FAIL_NETWORK",
           "latencyMs": 10000.0, "error": "timeout", "possibleDuplicate": True, "startedAt": WHEN}
SENT = {"id": "m-1", "namespace": "acme", "channel": "email", "status": "SENT", "provider": "production-ses",
        "providerUid": "uid-1", "providerMessageId": "0100-abc", "attempts": [ATTEMPT], "completedAt": WHEN}
FAILED = {"id": "m-2", "namespace": "acme", "channel": "sms", "status": "FAILED", "reason": "AllProvidersFailed",
          "detail": "every provider failed", "attempts": [ATTEMPT], "completedAt": WHEN}
SPEC = {"package": "provider-ses", "displayName": "Production SES", "channel": "email", "priority": 10,
        "enabled": True, "credentialsSecretRef": {"name": "ses-credentials"},
        "settings": {"region": "us-east-1", "from": "noreply@acme.example"}}
STATUS = {"observedGeneration": 3, "channel": "email", "rank": 1, "health": "healthy", "errorRate": 0.02,
          "window": {"sends": 100, "failures": 2}, "consecutiveFailures": 0, "lastTransitionTime": WHEN,
          "conditions": [{"type": "Ready", "status": "True", "reason": "Published", "message": "ok",
                          "lastTransitionTime": WHEN, "observedGeneration": 3}]}
ROUTING = {"namespace": "acme", "channel": "email", "publishedAt": WHEN, "providers": [
    {"uid": "uid-1", "name": "production-ses", "package": "provider-ses", "priority": 10,
     "settings": {"region": "us-east-1"}, "sealedCredentials": "v1.abc", "timeoutSeconds": 10}]}
VERDICT = {"providerUid": "uid-1", "namespace": "acme", "channel": "email", "provider": "production-ses",
           "state": "unhealthy", "errorRate": 0.3, "window": {"sends": 20, "failures": 6}, "consecutiveFailures": 5,
           "ejectedUntil": WHEN, "probing": False, "throttledUntil": WHEN, "reason": "5 consecutive failures",
           "lastTransitionTime": WHEN, "observedAt": WHEN}
WHEN_SECONDS = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC).timestamp()
OUTCOMES = {"providerUid": "uid-1", "namespace": "acme", "channel": "email", "provider": "production-ses",
            "outcomes": ["THROTTLED", "SUCCESS"], "at": [WHEN_SECONDS, WHEN_SECONDS + 1], "latencyMs": [12.5, 20.0],
            "probes": [0], "retryAfterSeconds": {"0": 30}}

ROUND_TRIPS: list[tuple[type[BaseModel], dict[str, Any]]] = [
    (EmailRequest, EMAIL), (SmsRequest, SMS), (WhatsAppRequest, WHATSAPP_TEXT), (WhatsAppRequest, WHATSAPP_TEMPLATE),
    (Attempt, ATTEMPT), (DeliveryEvent, SENT), (DeliveryEvent, FAILED), (ProviderSpec, SPEC),
    (ProviderStatus, STATUS), (RoutingRecord, ROUTING), (HealthVerdict, VERDICT), (OutcomeBatch, OUTCOMES),
    (ProviderResource, {"apiVersion": "sendpipe.io/v1alpha1", "kind": "Provider",
                        "metadata": {"name": "production-ses", "namespace": "acme"}, "spec": SPEC, "status": STATUS}),
]


@pytest.mark.parametrize(("model", "wire"), ROUND_TRIPS, ids=lambda v: getattr(v, "__name__", ""))
def test_every_model_round_trips_through_json(model: type[BaseModel], wire: dict[str, Any]) -> None:
    parsed = model.model_validate_json(json.dumps(wire))
    encoded = parsed.to_json_bytes()  # type: ignore[attr-defined]
    assert model.model_validate_json(encoded) == parsed
    assert set(wire) <= set(json.loads(encoded))  # no field lost or renamed


def test_outcomes_travel_as_columns_one_provider_per_record() -> None:
    batch = OutcomeBatch.model_validate(OUTCOMES)
    wire = json.loads(batch.to_json_bytes())
    assert wire["outcomes"] == ["THROTTLED", "SUCCESS"] and wire["probes"] == [0]
    assert wire["retryAfterSeconds"] == {"0": 30.0} and wire["latencyMs"] == [12.5, 20.0]
    at = WHEN_SECONDS
    assert list(batch.entries()) == [(Outcome.THROTTLED, at, 30.0), (Outcome.SUCCESS, at + 1, None)]


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b'[{"providerUid": "uid-1"}]',
        b'{"providerUid": "uid-1"}',
        b'{"providerUid": "u", "namespace": "a", "channel": "email", "provider": "p", '
        b'"outcomes": ["SUCCESS"], "at": [1.0, 2.0], "latencyMs": [1.0]}',
        b'{"providerUid": "u", "namespace": "a", "channel": "email", "provider": "p", '
        b'"outcomes": ["SUCCESS"], "at": [1.0], "latencyMs": [1.0], "probes": [1]}',
    ],
    ids=["not-json", "array-of-incomplete", "incomplete", "columns-differ", "index-out-of-range"],
)
def test_what_is_not_outcomes_is_refused(raw: bytes) -> None:
    with pytest.raises(ValueError):
        OutcomeBatch.model_validate_json(raw)


@pytest.mark.parametrize("wire", [EMAIL, SMS, WHATSAPP_TEXT, WHATSAPP_TEMPLATE])
def test_parse_send_request_picks_the_channel_model(wire: dict[str, Any]) -> None:
    parsed = parse_send_request(json.dumps(wire).encode())
    assert parsed.channel == wire["channel"]
    assert parse_send_request(parsed.to_json_bytes()) == parsed


def problem(raw: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as caught:
        parse_send_request(json.dumps(raw))
    return describe_validation_error(caught.value)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (SMS | {"to": "0803 000 0000"}, "sms.to: not an E.164 phone number"),
        (WHATSAPP_TEXT | {"to": "+1"}, "whatsapp.to:"),
        ({k: v for k, v in EMAIL.items() if k not in ("text", "html")}, "email: an email needs a body"),
        (SMS | {"channel": "fax"}, "channel: unknown channel 'fax'; expected one of email, sms, whatsapp"),
        ({k: v for k, v in SMS.items() if k != "channel"}, "channel: missing"),
        (WHATSAPP_TEXT | {"template": WHATSAPP_TEMPLATE["template"]}, "exactly one of text or template"),
        (SMS | {"txt": "typo"}, "sms.txt: Extra inputs are not permitted"),
        (EMAIL | {"to": "not-an-address"}, "email.to:"),
        (SMS | {"namespace": "Acme Corp"}, "sms.namespace:"),
        (SMS | {"expiresAt": "2026-01-01T00:00:00"}, "sms.expiresAt:"),
    ],
)
def test_invalid_requests_name_the_field(raw: dict[str, Any], expected: str) -> None:
    assert expected in problem(raw)


def test_an_oversized_payload_is_refused_before_parsing() -> None:
    raw = json.dumps(EMAIL | {"text": "x" * MAX_REQUEST_BYTES})
    with pytest.raises(RequestTooLarge, match=f"limit is {MAX_REQUEST_BYTES}"):
        parse_send_request(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(SENT | {"provider": None}, "names the provider"), (FAILED | {"reason": None}, "carries a reason")],
)
def test_delivery_event_status_is_consistent(raw: dict[str, Any], expected: str) -> None:
    with pytest.raises(ValidationError, match=expected):
        DeliveryEvent.model_validate(raw)


def test_unknown_package_in_a_spec_names_the_field() -> None:
    with pytest.raises(ValidationError) as caught:
        ProviderSpec.model_validate(SPEC | {"package": "provider-pigeon"})
    assert describe_validation_error(caught.value).startswith("package:")


def test_a_settings_typo_names_the_key() -> None:
    with pytest.raises(ValidationError) as caught:
        SesSettings.model_validate({"region": "us-east-1", "from": "a@b.example", "regoin": "eu-west-1"})
    assert describe_validation_error(caught.value) == "regoin: Extra inputs are not permitted"


def test_models_are_immutable() -> None:
    request = SmsRequest.model_validate(SMS)
    with pytest.raises(ValidationError):
        request.text = "changed"  # type: ignore[misc]


def test_routing_key() -> None:
    assert routing_key("acme", "sms") == routing_key("acme", Channel.SMS) == "acme/sms"
    with pytest.raises(ValueError):
        routing_key("acme", "fax")
    assert RoutingRecord.model_validate(ROUTING).key == "acme/email"
    assert HealthVerdict.model_validate(VERDICT).ejected_until == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
