"""The kind path without Docker: the script parses, the manifests and the rendered chart pass the real API server.

`scripts/kind-up.sh` needs Docker, which these machines lack; everything it
applies is checked here instead: `kubectl apply --dry-run=server` runs the
API server's full validation (schemas, defaulting, admission) without
creating anything, in a fresh namespace of the local stack.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from sendpipe.stack.kubectl import Kubectl
from tests.chart.conftest import REPO, Helm, find, one

SCRIPT = REPO / "scripts" / "kind-up.sh"
KIND = REPO / "examples" / "kind"


def test_script_is_valid_bash() -> None:
    subprocess.run(["bash", "-n", str(SCRIPT)], check=True)
    assert SCRIPT.stat().st_mode & 0o111, "scripts/kind-up.sh is not executable"


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck not installed (apt-get install shellcheck)")
def test_script_passes_shellcheck() -> None:
    result = subprocess.run(["shellcheck", str(SCRIPT)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout


def test_script_uses_the_files_it_names() -> None:
    text = SCRIPT.read_text()
    for path in ("examples/kind/kafka.yaml", "examples/kind/values.yaml", "charts/sendpipe", "examples/organizations"):
        assert path in text and (REPO / path).exists(), path
    for org in (REPO / "examples" / "organizations").iterdir():
        assert (org / "namespace.yaml").is_file(), f"{org.name}: the script applies <org>/namespace.yaml first"


def test_kind_values_lint_and_point_at_the_kafka_manifest(helm: Helm) -> None:
    values = yaml.safe_load((KIND / "values.yaml").read_text())
    result = helm.run("lint", "--strict", str(REPO / "charts" / "sendpipe"), values=values)
    assert result.returncode == 0, result.stdout + result.stderr
    objects = helm.template(values=values)
    for component in ("operator", "worker"):
        (container,) = one(objects, "Deployment", f"-{component}")["spec"]["template"]["spec"]["containers"]
        assert container["image"] == "sendpipe/sendpipe:dev" and container["imagePullPolicy"] == "Never"
    kafka = [d for d in yaml.safe_load_all((KIND / "kafka.yaml").read_text()) if d]
    service = next(d for d in kafka if d["kind"] == "Service")
    port = service["spec"]["ports"][0]["port"]
    assert values["kafka"]["bootstrap"] == f"{service['metadata']['name']}.kafka.svc.cluster.local:{port}"


def test_kafka_manifest_passes_server_side_validation(kubectl: Kubectl, unique_namespace: str) -> None:
    out = kubectl("apply", "--dry-run=server", "-n", unique_namespace, "-f", str(KIND / "kafka.yaml"))
    assert "service/kafka created (server dry run)" in out and "deployment.apps/kafka created (server dry run)" in out


@pytest.mark.parametrize("values", [None, yaml.safe_load((KIND / "values.yaml").read_text())],
                         ids=["defaults", "kind"])
def test_rendered_chart_passes_server_side_validation(
    helm: Helm, kubectl: Kubectl, unique_namespace: str, values: dict[str, Any] | None
) -> None:
    objects = helm.template(values=values, namespace=unique_namespace, release="dry", include_crds=False)
    namespaced = [o for o in objects if o["kind"] not in ("ClusterRole", "ClusterRoleBinding")]
    out = kubectl("apply", "--dry-run=server", "-n", unique_namespace, "-f", "-",
                  input=yaml.safe_dump_all(namespaced))
    for kind in ("Deployment", "PodDisruptionBudget", "Secret", "ServiceAccount"):
        for obj in find(namespaced, kind):
            assert f"{obj['metadata']['name']} created (server dry run)" in out, out
    cluster = [o for o in objects if o["kind"] in ("ClusterRole", "ClusterRoleBinding")]
    kubectl("apply", "--dry-run=server", "-f", "-", input=yaml.safe_dump_all(cluster))
