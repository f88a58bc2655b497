"""No credential value appears in plaintext (or merely base64-encoded) on any Kafka topic, in the
operator's logs (at DEBUG), in Provider statuses or in Events."""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Any

import pytest

from tests.operator.conftest import (
    OperatorEnv, list_topics, produce, provider_manifest, read_all_topics, secret_manifest, wait_for,
)

pytestmark = pytest.mark.integration


def _forms(value: str) -> list[bytes]:
    raw = value.encode()
    return [raw, base64.b64encode(raw), base64.urlsafe_b64encode(raw).rstrip(b"="), json.dumps(value).encode()[1:-1]]


def test_no_credential_in_plaintext_anywhere(operator_env: OperatorEnv, kubectl: Any) -> None:
    env = operator_env
    ns = env.namespace
    secrets = {
        "ses": {"accessKeyId": f"AKIA{uuid.uuid4().hex[:16].upper()}", "secretAccessKey": f"sak-{uuid.uuid4().hex}"},
        "tw": {"accountSid": "AC" + uuid.uuid4().hex, "authToken": f"tok-{uuid.uuid4().hex}"},
        "smtp": {"username": f"user-{uuid.uuid4().hex}", "password": f"pw-{uuid.uuid4().hex}"},
    }
    operator = env.operator()
    for name, data in secrets.items():
        kubectl("apply", "-f", "-", input=secret_manifest(f"{name}-creds", ns, data))
    kubectl("apply", "-f", "-", input=provider_manifest(
        "ses", ns, package="provider-ses", settings={"region": "eu-west-1", "from": "a@acme.example"}))
    kubectl("apply", "-f", "-", input=provider_manifest(
        "tw", ns, package="provider-twilio-sms", settings={"from": "+14155550100"}))
    kubectl("apply", "-f", "-", input=provider_manifest(
        "smtp", ns, package="provider-smtp", settings={"host": "smtp.acme.example", "from": "a@acme.example"}))
    for name in secrets:
        kubectl("wait", "--for=condition=Ready", "--timeout=30s", f"provider/{name}", "-n", ns)

    # rotate one and break one (the invalid-key message must not echo the value either)
    rotated = f"pw-rotated-{uuid.uuid4().hex}"
    short_key = f"AK{uuid.uuid4().hex[:6]}"
    secrets["smtp-rotated"] = {"password": rotated}
    secrets["ses-short"] = {"accessKeyId": short_key}
    kubectl("apply", "-f", "-", input=secret_manifest("smtp-creds", ns, {**secrets["smtp"], "password": rotated}))
    kubectl("apply", "-f", "-", input=secret_manifest(
        "ses-creds", ns, {**secrets["ses"], "accessKeyId": short_key}))
    wait_for(lambda: "accessKeyId" in kubectl("get", "provider", "ses", "-n", ns, "-o", "jsonpath={.status.conditions}"),
             what="ses invalid key reported")
    uid = json.loads(kubectl("get", "provider", "tw", "-n", ns, "-o", "json"))["metadata"]["uid"]
    produce(env.bootstrap, env.health_topic, uid, json.dumps({
        "providerUid": uid, "namespace": ns, "channel": "sms", "provider": "tw", "state": "degraded",
        "errorRate": 0.1, "window": {"sends": 50, "failures": 5}, "consecutiveFailures": 1,
        "observedAt": "2026-01-01T00:00:00Z"}).encode())
    wait_for(lambda: "degraded" in kubectl("get", "providers", "-n", ns), what="health written")
    time.sleep(1.0)
    assert operator.stop() == 0

    values = [value for data in secrets.values() for value in data.values()]
    needles = [form for value in values for form in _forms(value)]

    every_topic = read_all_topics(env.bootstrap)
    assert set(list_topics(env.bootstrap)) >= {env.routing_topic, env.health_topic}
    assert every_topic[env.routing_topic] and every_topic[env.health_topic]
    for topic, blobs in every_topic.items():
        for blob in blobs:
            leaked = [needle for needle in needles if needle in blob]
            assert not leaked, f"credential found on topic {topic}"

    log = env.log_path.read_bytes()
    assert b"routing record produced" in log and len(log) > 1000
    assert [needle for needle in needles if needle in log] == [], "credential found in the operator's log"

    visible = (kubectl("get", "providers", "-n", ns, "-o", "json") + kubectl("get", "events", "-n", ns, "-o", "json")).encode()
    assert [needle for needle in needles if needle in visible] == [], "credential found in status or Events"
