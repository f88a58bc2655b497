"""Bad Provider manifests are rejected by the API server itself (CRD schema + CEL), naming the problem."""

from __future__ import annotations

import json
from typing import Any

import pytest

pytestmark = pytest.mark.integration


def _provider(spec: dict[str, Any], namespace: str, name: str = "bad") -> str:
    return json.dumps({"apiVersion": "sendpipe.io/v1alpha1", "kind": "Provider",
                       "metadata": {"name": name, "namespace": namespace}, "spec": spec})


GOOD: dict[str, Any] = {
    "package": "provider-sendgrid",
    "priority": 10,
    "credentialsSecretRef": {"name": "sg-creds"},
    "settings": {"from": "noreply@acme.example"},
}

# (case id, spec, substrings the API server's message must contain)
BAD_SPECS: list[tuple[str, dict[str, Any], list[str]]] = [
    ("unknown-package", {**GOOD, "package": "provider-nope"}, ["spec.package", "provider-nope"]),
    ("missing-package", {k: v for k, v in GOOD.items() if k != "package"}, ["spec.package", "Required"]),
    ("channel-not-matching-package", {**GOOD, "channel": "sms"}, ["channel must match the package"]),
    ("unknown-channel", {**GOOD, "channel": "fax"}, ["spec.channel", "fax"]),
    ("negative-priority", {**GOOD, "priority": -1}, ["spec.priority", "greater than or equal to 0"]),
    ("priority-too-large", {**GOOD, "priority": 2_000_000}, ["spec.priority", "less than or equal to"]),
    ("priority-wrong-type", {**GOOD, "priority": "high"}, ["spec.priority", "integer"]),
    ("enabled-wrong-type", {**GOOD, "enabled": "yes"}, ["spec.enabled", "boolean"]),
    ("missing-secret-ref", {k: v for k, v in GOOD.items() if k != "credentialsSecretRef"},
     ["spec.credentialsSecretRef", "Required"]),
    ("secret-ref-bad-name", {**GOOD, "credentialsSecretRef": {"name": "Not_A_Name"}},
     ["spec.credentialsSecretRef.name"]),
    ("missing-required-setting", {**GOOD, "package": "provider-ses", "settings": {"from": "a@b.example"}},
     ["provider-ses requires settings.region"]),
    ("settings-wrong-type", {**GOOD, "settings": "from=me"}, ["spec.settings", "object"]),
    ("display-name-too-long", {**GOOD, "displayName": "x" * 200}, ["spec.displayName", "128"]),
]


@pytest.mark.parametrize(("case", "spec", "expected"), BAD_SPECS, ids=[case for case, _, _ in BAD_SPECS])
def test_bad_manifest_rejected(
    case: str, spec: dict[str, Any], expected: list[str], kubectl: Any, provider_crd: Any, unique_namespace: str
) -> None:
    result = kubectl.run("apply", "-f", "-", input=_provider(spec, unique_namespace))
    assert result.returncode != 0, f"{case}: accepted: {result.stdout}"
    for fragment in expected:
        assert fragment in result.stderr, f"{case}: {fragment!r} not in: {result.stderr}"


def test_unknown_field_rejected_with_strict_validation(kubectl: Any, provider_crd: Any, unique_namespace: str) -> None:
    manifest = _provider({**GOOD, "prioritty": 5}, unique_namespace)
    result = kubectl.run("apply", "--validate=strict", "-f", "-", input=manifest)
    assert result.returncode != 0
    assert 'unknown field "spec.prioritty"' in result.stderr


def test_good_manifest_accepted(kubectl: Any, provider_crd: Any, unique_namespace: str) -> None:
    kubectl("apply", "--validate=strict", "-f", "-", input=_provider(GOOD, unique_namespace, name="good"))
