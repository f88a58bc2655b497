"""Every environment variable the chart sets is a setting SendPipe reads, with a value it accepts.

Settings ignore unknown variables, so a misspelt name in a template would
silently fall back to a default; and a value the settings reject would only
show as a crash-looping pod. Both are caught here, for several value sets.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import AliasChoices
from pydantic_settings import BaseSettings

from sendpipe.settings import KafkaSettings, OperatorSettings, SealingSettings, TopicSettings, WorkerSettings
from tests.chart.conftest import Helm, one

COMMON: tuple[type[BaseSettings], ...] = (KafkaSettings, TopicSettings, SealingSettings)
READERS: dict[str, tuple[type[BaseSettings], ...]] = {
    "operator": (*COMMON, OperatorSettings),
    "worker": (*COMMON, WorkerSettings),
}
# Read by the `sendpipe` root command itself (--log-level's envvar).
CLI_VARIABLES = {"SENDPIPE_LOG_LEVEL"}


def _names(settings: type[BaseSettings]) -> set[str]:
    prefix = str(settings.model_config.get("env_prefix", ""))
    names: set[str] = set()
    for field_name, field in settings.model_fields.items():
        names.add(f"{prefix}{field_name}".upper())
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names.update(str(choice).upper() for choice in alias.choices)
        elif isinstance(alias, str):
            names.add(alias.upper())
    return names


VALUE_SETS: dict[str, dict[str, Any] | None] = {
    "defaults": None,
    "namespaced-debug": {"operator": {"watchNamespaces": ["acme", "globex"], "logLevel": "DEBUG"},
                         "worker": {"logLevel": "WARNING", "maxInFlight": 50, "dedupeMaxEntries": 200000}},
    "sasl-ssl": {"kafka": {"securityProtocol": "SASL_SSL", "saslMechanism": "SCRAM-SHA-256",
                           "saslSecret": "kafka-user", "tlsSecret": "kafka-ca"}},
}


@pytest.mark.parametrize("values", list(VALUE_SETS.values()), ids=list(VALUE_SETS))
@pytest.mark.parametrize("component", ["operator", "worker"])
def test_chart_env_is_read_and_accepted(helm: Helm, monkeypatch: pytest.MonkeyPatch, component: str,
                                        values: dict[str, Any] | None) -> None:
    objects = helm.template(values=values)
    (container,) = one(objects, "Deployment", f"-{component}")["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value", "from-a-secret") for e in container["env"]}
    readers = READERS[component]
    known = set().union(*(_names(s) for s in readers)) | CLI_VARIABLES
    assert not set(env) - known, f"the {component} reads no such settings: {sorted(set(env) - known)}"

    import os

    for name in [n for n in os.environ if n.startswith("SENDPIPE_") or n == "KUBECONFIG"]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    for settings in readers:
        settings()  # raises ValidationError on a value the component would reject at start
