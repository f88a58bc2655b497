"""`helm lint --strict` is clean in both RBAC modes, and values.schema.json rejects what it should."""

from __future__ import annotations

from typing import Any

import pytest

from tests.chart.conftest import CHART, Helm

NAMESPACED: dict[str, Any] = {"operator": {"watchNamespaces": ["acme", "globex"]}}


@pytest.mark.parametrize("values", [None, NAMESPACED], ids=["cluster-wide", "namespaced"])
def test_lint_strict_is_clean(helm: Helm, values: dict[str, Any] | None) -> None:
    result = helm.run("lint", "--strict", str(CHART), values=values)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 chart(s) failed" in result.stdout
    assert "[WARNING]" not in result.stdout and "[ERROR]" not in result.stdout, result.stdout


def test_binary_is_the_pinned_version(helm: Helm) -> None:
    from sendpipe.settings import StackSettings
    from sendpipe.stack.helm import helm_version

    assert helm_version(helm.binary) == StackSettings().helm_version


@pytest.mark.parametrize(
    ("values", "complaint"),
    [
        ({"worker": {"replicas": -1}}, "replicas"),
        ({"worker": {"replicaz": 2}}, "replicaz"),
        ({"unknownTopLevel": True}, "unknownTopLevel"),
        ({"kafka": {"bootstrap": ""}}, "bootstrap"),
        ({"kafka": {"securityProtocol": "TLS"}}, "securityProtocol"),
        ({"kafka": {"saslMechanism": "GSSAPI"}}, "saslMechanism"),
        ({"operator": {"watchNamespaces": ["Not_A_Namespace"]}}, "watchNamespaces"),
        ({"operator": {"watchNamespaces": ["acme", "acme"]}}, "watchNamespaces"),
        ({"operator": {"logLevel": "TRACE"}}, "logLevel"),
        ({"worker": {"maxInFlight": 0}}, "maxInFlight"),
        ({"metrics": {"port": 80}}, "port"),
        ({"image": {"pullPolicy": "Sometimes"}}, "pullPolicy"),
        ({"worker": {"resources": {"requests": {"cpu": []}}}}, "cpu"),
        ({"kafka": {"securityProtocol": "SASL_SSL"}}, "saslMechanism"),
        ({"kafka": {"securityProtocol": "SASL_PLAINTEXT", "saslMechanism": "PLAIN"}}, "saslSecret"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_schema_rejects_bad_values(helm: Helm, values: dict[str, Any], complaint: str) -> None:
    for command in (["lint", "--strict", str(CHART)], ["template", "sp", str(CHART)]):
        result = helm.run(*command, values=values)
        assert result.returncode != 0, f"helm {command[0]} accepted {values}"
        output = result.stdout + result.stderr
        assert "values don't meet the specifications of the schema" in output, output
        assert complaint in output, output


@pytest.mark.parametrize(
    "values",
    [
        {"worker": {"replicas": 0}},
        {"worker": {"podDisruptionBudget": {"minAvailable": "50%"}}},
        {"kafka": {"securityProtocol": "SASL_SSL", "saslMechanism": "SCRAM-SHA-512", "saslSecret": "kafka-user",
                   "tlsSecret": "kafka-ca"}},
        {"sealingKey": {"existingSecret": "my-keys"}},
        {"image": {"tag": "dev", "pullPolicy": "Never"}, "imagePullSecrets": [{"name": "regcred"}]},
        {"metrics": {"scrapeAnnotations": False}},
    ],
    ids=["zero-workers", "pdb-percent", "sasl-ssl", "existing-key", "image", "no-scrape"],
)
def test_schema_accepts_documented_values(helm: Helm, values: dict[str, Any]) -> None:
    result = helm.run("lint", "--strict", str(CHART), values=values)
    assert result.returncode == 0, result.stdout + result.stderr
