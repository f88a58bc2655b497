"""The chart's RBAC on the real kube-apiserver: the operator does its whole job as its ServiceAccount, and no more.

Each test renders the chart (`helm template --include-crds`) under a unique
release name, applies the CRD and the RBAC objects, takes a token for the
operator's ServiceAccount (TokenRequest API) and runs `sendpipe operator`
with a kubeconfig carrying only that token and the chart's generated sealing
key. The operator always watches one namespace here, also with the
cluster-wide ClusterRole: a cluster-wide operator on the shared test stack
would write statuses on every other test's Providers. What the cluster-wide
role allows across namespaces is checked with `kubectl auth can-i`.
"""

from __future__ import annotations

import base64
import json
import os
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s

from sendpipe.core.sealing import Keyring
from sendpipe.stack import StackInfo
from sendpipe.stack.kubectl import Kubectl
from tests.chart.conftest import Helm, one
from tests.chart.identity import Identity, apply_rbac, identity
from tests.support.operator import (
    OperatorProcess,
    free_port,
    produce,
    provider_manifest,
    read_topic,
    secret_manifest,
    wait_for,
)

pytestmark = pytest.mark.integration

# Checked against every field but the timestamp, whose milliseconds can read "403".
_DENIAL = re.compile(r"\b403\b|forbidden|permissions", re.IGNORECASE)


@dataclass(frozen=True)
class Install:
    """One rendered release applied to the API server: its namespaces, objects and identities."""

    release: str
    release_namespace: str
    watched: str
    other: str
    objects: list[dict[str, Any]]
    operator: Identity
    worker: Identity


def _namespace(k8s_api: k8s.ApiClient, prefix: str) -> str:
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    k8s.CoreV1Api(k8s_api).create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=name)))
    return name


def _install(*, helm: Helm, stack: StackInfo, kubectl: Kubectl, k8s_api: k8s.ApiClient, tmp_path: Path,
             namespaced: bool) -> Install:
    release = f"sp{uuid.uuid4().hex[:8]}"
    release_ns, watched, other = (_namespace(k8s_api, p) for p in ("chart-rel", "chart-acme", "chart-other"))
    values = {"operator": {"watchNamespaces": [watched]}} if namespaced else None
    objects = helm.template(values=values, release=release, namespace=release_ns)
    for obj in objects:  # `helm template` leaves namespaced objects without a namespace; `helm install` adds it
        if obj["kind"] in ("ServiceAccount", "Secret"):
            obj["metadata"].setdefault("namespace", release_ns)
    apply_rbac(kubectl, objects)
    fullname = f"{release}-sendpipe"
    return Install(
        release=release, release_namespace=release_ns, watched=watched, other=other, objects=objects,
        operator=identity(stack=stack, admin=kubectl, name=f"{fullname}-operator", namespace=release_ns,
                          workdir=tmp_path),
        worker=identity(stack=stack, admin=kubectl, name=f"{fullname}-worker", namespace=release_ns,
                        workdir=tmp_path),
    )


@pytest.fixture
def started(tmp_path: Path) -> Iterator[list[OperatorProcess]]:
    processes: list[OperatorProcess] = []
    yield processes
    for process in processes:
        if process.process is not None:
            process.stop()


def _run_operator(install: Install, *, kafka_bootstrap: str, tmp_path: Path,
                  started: list[OperatorProcess]) -> tuple[OperatorProcess, dict[str, str], Path]:
    """`sendpipe operator` as the chart's operator ServiceAccount, with the chart's env and generated key."""
    deployment = one(install.objects, "Deployment", "-operator")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    chart_env = {e["name"]: e["value"] for e in container["env"] if "value" in e}
    secret = one(install.objects, "Secret", "-sealing-key")
    keys_file = tmp_path / "keys.json"
    keys_file.write_bytes(base64.b64decode(secret["data"]["keys.json"]))
    suffix = uuid.uuid4().hex[:10]
    topics = {"routing": f"test.routing.{suffix}", "health": f"test.health.{suffix}"}
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("SENDPIPE_") and key != "KUBECONFIG"}
    env.update(chart_env)  # the pod's environment; only addresses, ports, files and topic names replaced below
    env.update({
        "SENDPIPE_OPERATOR_NAMESPACES": chart_env["SENDPIPE_OPERATOR_NAMESPACES"] or install.watched,
        "SENDPIPE_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "SENDPIPE_OPERATOR_KUBECONFIG": str(install.operator.kubeconfig),
        "SENDPIPE_OPERATOR_PROBE_HOST": "127.0.0.1",
        "SENDPIPE_OPERATOR_PROBE_PORT": str(port),
        "SENDPIPE_OPERATOR_HEALTH_WRITE_INTERVAL_SECONDS": "2",
        "SENDPIPE_TOPICS_REPLICATION_FACTOR": "1",
        "SENDPIPE_TOPICS_ROUTING": topics["routing"],
        "SENDPIPE_TOPICS_HEALTH": topics["health"],
        "SENDPIPE_SEALING_KEYS_FILE": str(keys_file),
    })
    assert env["SENDPIPE_OPERATOR_NAMESPACES"] == install.watched
    process = OperatorProcess(env=env, log_path=tmp_path / "operator.log", probe_port=port)
    started.append(process)
    process.start()
    return process, topics, keys_file


def _verdict(uid: str, ns: str, name: str) -> bytes:
    now = datetime.now(UTC).isoformat()
    return json.dumps({
        "providerUid": uid, "namespace": ns, "channel": "email", "provider": name, "state": "unhealthy",
        "errorRate": 0.5, "window": {"sends": 40, "failures": 20}, "consecutiveFailures": 5,
        "observedAt": now, "lastTransitionTime": now,
    }).encode()


def _does_the_whole_job(install: Install, *, kubectl: Kubectl, kafka_bootstrap: str, tmp_path: Path,
                        started: list[OperatorProcess]) -> None:
    """Secret + Provider → Ready, sealed routing record, health verdict in status and an Event; no 403 logged."""
    ns = install.watched
    operator, topics, keys_file = _run_operator(install, kafka_bootstrap=kafka_bootstrap, tmp_path=tmp_path,
                                                started=started)
    value = f"SG.{uuid.uuid4().hex}"
    kubectl("apply", "-f", "-", input=secret_manifest("sg-creds", ns, {"apiKey": value}))
    kubectl("apply", "-f", "-", input=provider_manifest("sg", ns, secret="sg-creds"))
    kubectl("wait", "--for=condition=Ready", "--timeout=60s", "provider/sg", "-n", ns)
    provider = json.loads(kubectl("get", "provider", "sg", "-n", ns, "-o", "json"))
    uid = provider["metadata"]["uid"]

    record = wait_for(lambda: read_topic(kafka_bootstrap, topics["routing"]).latest().get(f"{ns}/email"),
                      what="routing record")
    (entry,) = record["providers"]
    assert entry["uid"] == uid
    sealed = Keyring.from_path(keys_file).unseal(entry["sealedCredentials"], provider_uid=uid)
    assert sealed == {"apiKey": value}, "not sealed with the chart's generated key"

    produce(kafka_bootstrap, topics["health"], uid, _verdict(uid, ns, "sg"))
    wait_for(lambda: json.loads(kubectl("get", "provider", "sg", "-n", ns, "-o", "json"))["status"].get("health")
             == "unhealthy", timeout=20, what="health written back into status")

    def events() -> list[dict[str, Any]]:
        items = json.loads(kubectl("get", "events", "-n", ns, "--field-selector", "involvedObject.name=sg",
                                   "-o", "json"))["items"]
        return [e for e in items if e["reason"] == "ProviderUnhealthy"]

    (event,) = wait_for(events, timeout=20, what="a ProviderUnhealthy Event")
    assert event["type"] == "Warning" and event["source"]["component"] == "sendpipe-operator"

    code, body = operator.healthz()
    assert code == 200 and body["kubernetes"]["synced"] is True, body
    denied = [line for line in operator.lines() if _DENIAL.search(json.dumps({**line, "time": None}))]
    assert not denied, f"the operator was denied something it needs: {denied[:3]}"
    assert operator.stop() == 0


def _grant_namespace_watching(install: Install, *, kubectl: Kubectl) -> None:
    name = f"{install.release}-test-namespace-watch"
    kubectl("create", "clusterrole", name, "--verb=list,watch", "--resource=namespaces")
    kubectl("create", "clusterrolebinding", name, f"--clusterrole={name}",
            f"--serviceaccount={install.operator.namespace}:{install.operator.name}")


def _is_denied_the_rest(install: Install, *, stack: StackInfo, kubectl: Kubectl, workdir: Path) -> None:
    """As the operator: no deleting, creating or editing Providers, no touching Secrets; the worker: nothing."""
    ns, op = install.watched, install.operator
    kubectl("apply", "-f", "-", input=secret_manifest("victim-creds", ns, {"apiKey": "SG.x"}))
    kubectl("apply", "-f", "-", input=provider_manifest("victim", ns, secret="victim-creds"))
    op.forbidden("delete", "provider", "victim", "-n", ns)
    op.forbidden("create", "-f", "-", input=provider_manifest("intruder", ns))
    op.forbidden("patch", "provider", "victim", "-n", ns, "--type=merge", "-p", '{"spec":{"priority":1}}')
    op.forbidden("delete", "secret", "victim-creds", "-n", ns)
    op.forbidden("create", "-f", "-", input=secret_manifest("planted", ns, {"k": "v"}))
    op.forbidden("get", "pods", "-n", ns)
    op.forbidden("create", "namespace", f"x-{uuid.uuid4().hex[:6]}")
    op.forbidden("delete", "crd", "providers.sendpipe.io")
    op.forbidden("get", "clusterroles")
    assert kubectl("get", "provider", "victim", "-n", ns, "-o", "name").strip() == "provider.sendpipe.io/victim"

    worker = install.worker
    for args in (("get", "providers", "-n", ns), ("get", "secrets", "-n", install.release_namespace),
                 ("get", "secrets", "-n", ns), ("get", "events", "-n", ns), ("get", "namespaces"),
                 ("get", "configmaps", "-n", install.release_namespace)):
        worker.forbidden(*args)
    # exactly what any authenticated identity gets (self reviews, discovery): compared with a fresh, unbound account
    kubectl("create", "serviceaccount", "baseline", "-n", install.release_namespace)
    baseline = identity(stack=stack, admin=kubectl, name="baseline", namespace=install.release_namespace,
                        workdir=workdir)

    def rules(who: Identity) -> list[str]:
        listing = who.kubectl("auth", "can-i", "--list", "-n", install.release_namespace)
        return sorted(line.strip() for line in listing.splitlines()[1:] if line.strip())

    assert rules(worker) == rules(baseline)


def test_namespaced_chart_operator_works_and_is_confined(
    helm: Helm, stack: StackInfo, kubectl: Kubectl, k8s_api: k8s.ApiClient, kafka_bootstrap: str, tmp_path: Path,
    started: list[OperatorProcess],
) -> None:
    install = _install(helm=helm, stack=stack, kubectl=kubectl, k8s_api=k8s_api, tmp_path=tmp_path, namespaced=True)
    _does_the_whole_job(install, kubectl=kubectl, kafka_bootstrap=kafka_bootstrap, tmp_path=tmp_path,
                        started=started)
    _is_denied_the_rest(install, stack=stack, kubectl=kubectl, workdir=tmp_path)
    op = install.operator
    # Secrets and Providers exist for it only in the namespace it serves
    kubectl("apply", "-f", "-", input=secret_manifest("elsewhere-creds", install.other, {"apiKey": "SG.y"}))
    op.forbidden("get", "secret", "elsewhere-creds", "-n", install.other)
    op.forbidden("get", "secrets", "-n", install.release_namespace)  # its own: the sealing key is mounted
    op.forbidden("get", "secrets", "--all-namespaces")
    op.forbidden("get", "providers", "-n", install.other)
    op.forbidden("get", "providers", "--all-namespaces")
    assert op.can_i("watch", "secrets", namespace=install.watched)
    assert not op.can_i("watch", "secrets", namespace=install.other)


def test_cluster_wide_chart_operator_works_and_is_confined(
    helm: Helm, stack: StackInfo, kubectl: Kubectl, k8s_api: k8s.ApiClient, kafka_bootstrap: str, tmp_path: Path,
    started: list[OperatorProcess],
) -> None:
    install = _install(helm=helm, stack=stack, kubectl=kubectl, k8s_api=k8s_api, tmp_path=tmp_path, namespaced=False)
    cluster_rules = one(install.objects, "ClusterRole", "-operator")["rules"]
    assert not [rule for rule in cluster_rules if "namespaces" in rule["resources"]]
    # Run for one namespace (see the module docstring), Kopf lists and watches namespaces, which it never
    # does cluster-wide, so the chart's cluster-wide role rightly lacks that rule: granted here by the test.
    _grant_namespace_watching(install, kubectl=kubectl)
    _does_the_whole_job(install, kubectl=kubectl, kafka_bootstrap=kafka_bootstrap, tmp_path=tmp_path,
                        started=started)
    _is_denied_the_rest(install, stack=stack, kubectl=kubectl, workdir=tmp_path)
    op = install.operator
    # what a cluster-wide Kopf operator lists and watches, in every namespace
    for verb in ("list", "watch"):
        assert op.can_i(verb, "providers.sendpipe.io") and op.can_i(verb, "secrets")
    assert op.can_i("patch", "providers.sendpipe.io", namespace=install.other, subresource="status")
    assert op.can_i("create", "events", namespace=install.other)
    for verb in ("create", "update", "delete", "deletecollection"):
        assert not op.can_i(verb, "providers.sendpipe.io") and not op.can_i(verb, "secrets")
