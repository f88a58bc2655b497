"""The operator checks the referenced Secret: missing Secret, missing key, then Ready once fixed."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.operator.conftest import OperatorEnv, provider_manifest, secret_manifest, wait_for

pytestmark = pytest.mark.integration


def _condition(kubectl: Any, namespace: str, name: str, type_: str) -> dict[str, Any] | None:
    body = json.loads(kubectl("get", "provider", name, "-n", namespace, "-o", "json"))
    for condition in (body.get("status") or {}).get("conditions", []):
        if condition["type"] == type_:
            return dict(condition)
    return None


def test_secret_missing_then_key_missing_then_fixed(operator_env: OperatorEnv, kubectl: Any) -> None:
    ns = operator_env.namespace
    operator_env.operator()
    kubectl("apply", "-f", "-", input=provider_manifest(
        "ses", ns, package="provider-ses", secret="ses-creds",
        settings={"region": "us-east-1", "from": "noreply@acme.example"}))

    missing = wait_for(lambda: (c := _condition(kubectl, ns, "ses", "CredentialsValid")) and c["status"] == "False"
                       and c, what="CredentialsValid False")
    assert missing["reason"] == "SecretNotFound"
    assert f"Secret {ns}/ses-creds not found" in missing["message"]
    ready = _condition(kubectl, ns, "ses", "Ready")
    assert ready is not None and ready["status"] == "False"
    generation = json.loads(kubectl("get", "provider", "ses", "-n", ns, "-o", "json"))["metadata"]["generation"]

    secret_value = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    kubectl("apply", "-f", "-", input=secret_manifest("ses-creds", ns, {"secretAccessKey": secret_value}))
    key_missing = wait_for(lambda: (c := _condition(kubectl, ns, "ses", "CredentialsValid"))
                           and c["reason"] == "MissingKeys" and c, what="MissingKeys")
    assert "accessKeyId" in key_missing["message"]
    assert "secretAccessKey" not in key_missing["message"].split("missing key(s):")[1]
    assert secret_value not in json.dumps(key_missing)

    too_short = wait_for(lambda: kubectl("apply", "-f", "-", input=secret_manifest(
        "ses-creds", ns, {"secretAccessKey": secret_value, "accessKeyId": "AKIA123"})), what="apply")
    assert too_short
    invalid = wait_for(lambda: (c := _condition(kubectl, ns, "ses", "CredentialsValid"))
                       and c["reason"] == "InvalidKeys" and c, what="InvalidKeys")
    assert "accessKeyId" in invalid["message"] and "AKIA123" not in invalid["message"]

    kubectl("apply", "-f", "-", input=secret_manifest(
        "ses-creds", ns, {"secretAccessKey": secret_value, "accessKeyId": "AKIAIOSFODNN7EXAMPLE"}))
    # The Provider itself is not touched: it becomes Ready because its Secret changed.
    kubectl("wait", "--for=condition=Ready", "--timeout=30s", "provider/ses", "-n", ns)
    body = json.loads(kubectl("get", "provider", "ses", "-n", ns, "-o", "json"))
    assert body["metadata"]["generation"] == generation
    assert body["status"]["observedGeneration"] == generation
    assert body["status"]["channel"] == "email"
    assert body["status"]["rank"] == 1
    conditions = {c["type"]: c for c in body["status"]["conditions"]}
    assert conditions["CredentialsValid"]["status"] == "True"
    assert conditions["Published"]["status"] == "True"
    assert set(conditions) == {"Ready", "CredentialsValid", "Published", "Healthy"}
    # Kopf keeps no bookkeeping in status and puts no finalizer on Providers (deletion never blocks)
    assert "kopf" not in body["status"] and not body["metadata"].get("finalizers")

    # Deleting the Secret takes the Provider out again, naming the Secret.
    kubectl("delete", "secret", "ses-creds", "-n", ns)
    gone = wait_for(lambda: (c := _condition(kubectl, ns, "ses", "Ready")) and c["status"] == "False" and c,
                    what="Ready False after Secret deletion")
    assert "ses-creds" in gone["message"]
    assert operator_env.routing().latest() == {}


def test_invalid_settings_reported(operator_env: OperatorEnv, kubectl: Any) -> None:
    ns = operator_env.namespace
    operator_env.operator()
    kubectl("apply", "-f", "-", input=secret_manifest("mg-creds", ns, {"apiKey": "key-0123456789"}))
    kubectl("apply", "-f", "-", input=provider_manifest(
        "mg", ns, package="provider-mailgun", secret="mg-creds",
        settings={"domain": "mg.acme.example", "from": "noreply@acme.example", "region": "mars"}))
    ready = wait_for(lambda: (c := _condition(kubectl, ns, "mg", "Ready")) and c["status"] == "False" and c,
                     what="Ready False")
    assert ready["reason"] == "InvalidSettings"
    assert "spec.settings.region" in ready["message"]
    lastTransition = ready["lastTransitionTime"]
    kubectl("patch", "provider", "mg", "-n", ns, "--type=merge", "-p", '{"spec": {"settings": {"region": "eu"}}}')
    kubectl("wait", "--for=condition=Ready", "--timeout=30s", "provider/mg", "-n", ns)
    assert _condition(kubectl, ns, "mg", "Ready")["lastTransitionTime"] >= lastTransition  # type: ignore[index]
