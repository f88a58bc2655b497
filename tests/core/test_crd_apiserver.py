"""The generated CRD on a real kube-apiserver: it is accepted, and its rules accept and refuse what they should."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from sendpipe.stack.kubectl import Kubectl

REPO = Path(__file__).resolve().parents[2]
CRD = REPO / "crds" / "provider.yaml"


@pytest.fixture(scope="module")
def crd_applied(kubectl: Kubectl) -> None:
    kubectl("apply", "--server-side", "--force-conflicts", "--field-manager=sendpipe-tests", "-f", str(CRD))
    kubectl("wait", "--for=condition=Established", "crd/providers.sendpipe.io", "--timeout=60s")


def provider(spec: dict[str, Any], name: str = "p") -> str:
    return yaml.safe_dump({"apiVersion": "sendpipe.io/v1alpha1", "kind": "Provider",
                           "metadata": {"name": name}, "spec": spec})


def dry_run(kubectl: Kubectl, namespace: str, manifest: str) -> str:
    result = kubectl.run("apply", "--dry-run=server", "--validate=strict", "-n", namespace, "-f", "-", input=manifest)
    return result.stdout if result.returncode == 0 else "REFUSED " + result.stderr


SES = {"package": "provider-ses", "credentialsSecretRef": {"name": "ses"},
       "settings": {"region": "us-east-1", "from": "noreply@acme.example"}}

CASES = [
    ("valid", SES | {"channel": "email", "priority": 10}, None),
    ("channel of another package", SES | {"channel": "sms"}, "spec.channel must match the package's channel"),
    ("required setting missing", SES | {"settings": {"from": "a@b.example"}}, "provider-ses requires settings.region"),
    ("no settings at all", {"package": "provider-mailgun", "credentialsSecretRef": {"name": "m"}},
     "provider-mailgun requires settings.domain and settings.from"),
    ("twilio without sender", {"package": "provider-twilio-sms", "credentialsSecretRef": {"name": "t"}},
     "requires settings.from or settings.messagingServiceSid"),
    ("twilio with service", {"package": "provider-twilio-sms", "credentialsSecretRef": {"name": "t"},
                             "settings": {"messagingServiceSid": "MG" + "0" * 32}}, None),
    ("unknown spec field", SES | {"prority": 1}, 'unknown field "spec.prority"'),
    ("unknown package", SES | {"package": "provider-pigeon"}, 'Unsupported value: "provider-pigeon"'),
    ("priority out of range", SES | {"priority": -1}, "spec.priority"),
    ("empty secret name", SES | {"credentialsSecretRef": {"name": ""}}, "credentialsSecretRef.name must not be empty"),
    ("no secret ref", {k: v for k, v in SES.items() if k != "credentialsSecretRef"}, "credentialsSecretRef"),
]


@pytest.mark.parametrize(("spec", "refusal"), [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_providers_are_validated_by_the_api_server(
    crd_applied: None, kubectl: Kubectl, unique_namespace: str, spec: dict[str, Any], refusal: str | None
) -> None:
    output = dry_run(kubectl, unique_namespace, provider(spec))
    if refusal is None:
        assert "created (server dry run)" in output, output
    else:
        assert output.startswith("REFUSED") and refusal in output, output


def test_every_example_provider_is_accepted(crd_applied: None, kubectl: Kubectl, unique_namespace: str) -> None:
    documents = [
        doc for path in sorted((REPO / "examples").rglob("*.yaml")) for doc in yaml.safe_load_all(path.read_text())
        if isinstance(doc, dict) and doc.get("kind") == "Provider"
    ]
    assert documents, "no example Providers found"
    for doc in documents:
        doc["metadata"].pop("namespace", None)
        output = dry_run(kubectl, unique_namespace, yaml.safe_dump(doc))
        assert "created (server dry run)" in output, f"{doc['metadata']['name']}: {output}"


def test_printer_columns_show_spec_and_status(crd_applied: None, kubectl: Kubectl, unique_namespace: str) -> None:
    kubectl("apply", "-n", unique_namespace, "-f", "-", input=provider(SES, name="production-ses"))
    status = ('{"status": {"channel": "email", "health": "degraded", "errorRate": 0.07, "conditions": '
              '[{"type": "Ready", "status": "True", "reason": "Published", "message": "",'
              ' "lastTransitionTime": "2026-01-01T00:00:00Z"}]}}')
    kubectl("patch", "provider", "production-ses", "-n", unique_namespace, "--subresource=status",
            "--type=merge", "-p", status)
    header, row = kubectl("get", "prov", "-n", unique_namespace).splitlines()
    assert header.split()[:9] == ["NAME", "CHANNEL", "PACKAGE", "PRIORITY", "ENABLED", "HEALTH", "ERROR", "RATE", "READY"]
    assert row.split()[:8] == ["production-ses", "email", "provider-ses", "100", "true", "degraded", "0.07", "True"]


def test_status_rejects_an_unknown_health(crd_applied: None, kubectl: Kubectl, unique_namespace: str) -> None:
    kubectl("apply", "-n", unique_namespace, "-f", "-", input=provider(SES, name="p"))
    result = kubectl.run("patch", "provider", "p", "-n", unique_namespace, "--subresource=status", "--type=merge",
                         "-p", '{"status": {"health": "great"}}')
    assert result.returncode != 0 and "status.health" in result.stderr
