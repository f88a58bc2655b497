"""Fixtures for the operator's integration tests: the CRD, sealing keys, and the operator as a subprocess.

Each test gets its own namespace and its own routing/health topics, and runs
`python -m sendpipe.cli operator` against the real stack, watching only its
namespace. Helpers read whole Kafka topics and apply manifests with kubectl.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.support.operator import (  # re-exported: tests import them from here too
    OperatorProcess,
    Records,
    free_port,
    list_topics,
    make_keys,
    produce,
    provider_manifest,
    read_all_topics,
    read_topic,
    secret_manifest,
    wait_for,
)

__all__ = [
    "CRD", "REPO", "OperatorEnv", "OperatorProcess", "Records", "free_port", "list_topics", "make_keys", "produce",
    "provider_manifest", "read_all_topics", "read_topic", "secret_manifest", "wait_for",
]

REPO = Path(__file__).resolve().parents[2]
CRD = REPO / "crds" / "provider.yaml"


@pytest.fixture(scope="session")
def provider_crd(kubectl: Any) -> Path:
    kubectl("apply", "--server-side", "--force-conflicts", "-f", str(CRD))
    kubectl("wait", "--for=condition=Established", "--timeout=60s", "crd/providers.sendpipe.io")
    return CRD


@dataclass
class OperatorEnv:
    namespace: str
    routing_topic: str
    health_topic: str
    keys_file: Path
    bootstrap: str
    kubeconfig: Path
    env: dict[str, str]
    log_path: Path
    probe_port: int
    started: list[OperatorProcess] = field(default_factory=list)

    def operator(self, *, wait_synced: bool = True, **overrides: str) -> OperatorProcess:
        process = OperatorProcess(env={**self.env, **overrides}, log_path=self.log_path, probe_port=self.probe_port)
        self.started.append(process)
        return process.start(wait_synced=wait_synced)

    def routing(self) -> Records:
        return read_topic(self.bootstrap, self.routing_topic)

    def set_keys(self, keys: dict[str, Any]) -> None:
        self.keys_file.write_text(json.dumps(keys))


@pytest.fixture
def operator_env(
    provider_crd: Path, unique_namespace: str, kafka_bootstrap: str, kubeconfig: Path, tmp_path: Path
) -> Iterator[OperatorEnv]:
    suffix = uuid.uuid4().hex[:10]
    keys_file = tmp_path / "keys.json"
    keys_file.write_text(json.dumps(make_keys("k1", active="k1")))
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("SENDPIPE_")}
    env.update({
        "SENDPIPE_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "SENDPIPE_OPERATOR_KUBECONFIG": str(kubeconfig),
        "SENDPIPE_OPERATOR_NAMESPACES": unique_namespace,
        "SENDPIPE_OPERATOR_PROBE_HOST": "127.0.0.1",
        "SENDPIPE_OPERATOR_PROBE_PORT": str(port),
        "SENDPIPE_OPERATOR_RESYNC_SECONDS": "300",
        "SENDPIPE_OPERATOR_HEALTH_WRITE_INTERVAL_SECONDS": "10",
        "SENDPIPE_TOPICS_ROUTING": f"test.routing.{suffix}",
        "SENDPIPE_TOPICS_HEALTH": f"test.health.{suffix}",
        "SENDPIPE_SEALING_KEYS_FILE": str(keys_file),
    })
    setup = OperatorEnv(
        namespace=unique_namespace, routing_topic=f"test.routing.{suffix}", health_topic=f"test.health.{suffix}",
        keys_file=keys_file, bootstrap=kafka_bootstrap, kubeconfig=kubeconfig, env=env,
        log_path=tmp_path / "operator.log", probe_port=port,
    )
    yield setup
    for process in setup.started:
        if process.process is not None:
            process.stop()
