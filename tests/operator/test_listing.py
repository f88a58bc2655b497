"""`sendpipe providers list`: routing order per (namespace, channel), skipped providers last with the reason."""

from __future__ import annotations

from typing import Any

from sendpipe.operator.listing import render_listing

READY = [{"type": "Ready", "status": "True", "reason": "Published", "lastTransitionTime": "2026-01-01T00:00:00Z"}]
NOT_READY = [{"type": "Ready", "status": "False", "reason": "CredentialsInvalid",
              "message": "Secret acme/x has no key apiKey", "lastTransitionTime": "2026-01-01T00:00:00Z"}]


def provider(name: str, package: str, priority: int, *, namespace: str = "acme", enabled: bool = True,
             conditions: list[dict[str, Any]] = READY, health: str = "healthy") -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"package": package, "priority": priority, "enabled": enabled, "credentialsSecretRef": {"name": "x"}},
        "status": {"health": health, "conditions": conditions},
    }


def lines_of(text: str, header: str) -> list[str]:
    block = text.split(header, 1)[1].split("\n\n", 1)[0]
    return [line.split()[1] for line in block.strip().splitlines()[1:]]


def test_order_is_priority_then_name_and_skipped_come_last() -> None:
    text = render_listing([
        provider("sendgrid", "provider-sendgrid", 20),
        provider("ses", "provider-ses", 10),
        provider("mailgun", "provider-mailgun", 20),
        provider("smtp", "provider-smtp", 1, enabled=False),
        provider("resend", "provider-resend", 5, conditions=NOT_READY),
    ])
    assert lines_of(text, "acme / email") == ["ses", "mailgun", "sendgrid", "smtp", "resend"]
    assert "not ready: Secret acme/x has no key apiKey" in text
    assert "disabled" in text


def test_channels_and_namespaces_are_listed_apart_and_filterable() -> None:
    objects = [provider("termii", "provider-termii", 10), provider("ses", "provider-ses", 10),
               provider("termii", "provider-termii", 10, namespace="globex")]
    text = render_listing(objects)
    assert "acme / email" in text and "acme / sms" in text and "globex / sms" in text
    from sendpipe.core.outcomes import Channel

    assert "email" not in render_listing(objects, channel=Channel.SMS)
    assert render_listing([]) == "no providers found"
