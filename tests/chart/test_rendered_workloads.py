"""What `helm template` renders: hardened pods, probes, resources, scrape annotations, the PDB, both RBAC modes."""

from __future__ import annotations

from typing import Any

import pytest

from tests.chart.conftest import Helm, find, one

NAMESPACED: dict[str, Any] = {"operator": {"watchNamespaces": ["acme", "globex"]}}


@pytest.fixture(scope="module")
def rendered(helm: Helm) -> list[dict[str, Any]]:
    return helm.template()


def _pod(objects: list[dict[str, Any]], component: str) -> dict[str, Any]:
    spec: dict[str, Any] = one(objects, "Deployment", f"-{component}")["spec"]["template"]
    return spec


@pytest.mark.parametrize("component", ["operator", "worker"])
def test_pods_run_non_root_read_only_without_capabilities(rendered: list[dict[str, Any]], component: str) -> None:
    pod = _pod(rendered, component)["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    (container,) = pod["containers"]
    security = container["securityContext"]
    assert security["runAsNonRoot"] is True and security["runAsUser"] != 0
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert security["seccompProfile"] == {"type": "RuntimeDefault"}
    # a read-only root needs somewhere writable for temporary files
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert "/tmp" in mounts


@pytest.mark.parametrize("component", ["operator", "worker"])
def test_pods_have_probes_resources_and_the_cli_command(rendered: list[dict[str, Any]], component: str) -> None:
    (container,) = _pod(rendered, component)["spec"]["containers"]
    assert container["args"] == [component]
    assert container["livenessProbe"]["httpGet"]["port"] == "http"
    assert container["readinessProbe"]["httpGet"]["port"] == "http"
    assert container["resources"]["requests"]["cpu"] and container["resources"]["requests"]["memory"]
    assert container["resources"]["limits"]["memory"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"http": 8080}
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["SENDPIPE_KAFKA_BOOTSTRAP"] == "kafka:9092"
    assert env["SENDPIPE_SEALING_KEYS_FILE"] == "/etc/sendpipe/sealing/keys.json"


def test_worker_has_no_kubernetes_credentials_and_a_data_volume(rendered: list[dict[str, Any]]) -> None:
    pod = _pod(rendered, "worker")["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["serviceAccountName"].endswith("-worker")
    service_account = one(rendered, "ServiceAccount", "-worker")
    assert service_account["automountServiceAccountToken"] is False
    (container,) = pod["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["SENDPIPE_WORKER_WEB_PORT"] == "8080"
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    assert mounts[env["SENDPIPE_WORKER_DATA_DIR"]] == "data"
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"


def test_scrape_annotations_point_at_the_metrics_endpoint(rendered: list[dict[str, Any]], helm: Helm) -> None:
    annotations = _pod(rendered, "worker")["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == "8080" and annotations["prometheus.io/path"] == "/metrics"
    # the operator serves only its health probe, so it is not advertised for scraping
    assert "prometheus.io/scrape" not in (_pod(rendered, "operator")["metadata"].get("annotations") or {})
    quiet = helm.template(values={"metrics": {"scrapeAnnotations": False}})
    assert "prometheus.io/scrape" not in (_pod(quiet, "worker")["metadata"].get("annotations") or {})


def test_operator_is_a_single_replica_recreated(rendered: list[dict[str, Any]]) -> None:
    deployment = one(rendered, "Deployment", "-operator")
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    assert _pod(rendered, "operator")["spec"]["serviceAccountName"].endswith("-operator")


def test_worker_pdb_selects_the_worker_pods(rendered: list[dict[str, Any]], helm: Helm) -> None:
    pdb = one(rendered, "PodDisruptionBudget", "-worker")
    assert pdb["spec"]["minAvailable"] == 1
    labels = _pod(rendered, "worker")["metadata"]["labels"]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert one(rendered, "Deployment", "-worker")["spec"]["replicas"] == 2
    assert not find(helm.template(values={"worker": {"podDisruptionBudget": {"enabled": False}}}),
                    "PodDisruptionBudget")


def test_sealing_key_secret_is_generated_and_kept(rendered: list[dict[str, Any]], helm: Helm) -> None:
    import base64
    import json

    secret = one(rendered, "Secret", "-sealing-key")
    assert secret["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    keys = json.loads(base64.b64decode(secret["data"]["keys.json"]))
    assert keys["active"] in keys["keys"] and len(base64.b64decode(keys["keys"][keys["active"]])) == 32
    for component in ("operator", "worker"):
        volumes = {v["name"]: v for v in _pod(rendered, component)["spec"]["volumes"]}
        assert volumes["sealing-key"]["secret"]["secretName"] == secret["metadata"]["name"]
    existing = helm.template(values={"sealingKey": {"existingSecret": "my-keys"}})
    assert not find(existing, "Secret")
    volumes = {v["name"]: v for v in _pod(existing, "worker")["spec"]["volumes"]}
    assert volumes["sealing-key"]["secret"]["secretName"] == "my-keys"


def test_kafka_security_settings_reach_both_pods(helm: Helm) -> None:
    objects = helm.template(values={"kafka": {"bootstrap": "k1:9093,k2:9093", "securityProtocol": "SASL_SSL",
                                              "saslMechanism": "SCRAM-SHA-512", "saslSecret": "kafka-user",
                                              "tlsSecret": "kafka-ca"}})
    for component in ("operator", "worker"):
        (container,) = _pod(objects, component)["spec"]["containers"]
        env = {e["name"]: e for e in container["env"]}
        assert env["SENDPIPE_KAFKA_BOOTSTRAP"]["value"] == "k1:9093,k2:9093"
        assert env["SENDPIPE_KAFKA_SECURITY_PROTOCOL"]["value"] == "SASL_SSL"
        assert env["SENDPIPE_KAFKA_SASL_MECHANISM"]["value"] == "SCRAM-SHA-512"
        assert env["SENDPIPE_KAFKA_SASL_PASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": "kafka-user",
                                                                                   "key": "password"}
        mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
        assert env["SENDPIPE_KAFKA_SSL_CAFILE"]["value"] == f"{mounts['kafka-tls']}/ca.crt"


def test_crd_is_rendered_with_include_crds(rendered: list[dict[str, Any]]) -> None:
    crd = one(rendered, "CustomResourceDefinition")
    assert crd["metadata"]["name"] == "providers.sendpipe.io"


def test_cluster_wide_mode_has_one_cluster_role_and_no_roles(rendered: list[dict[str, Any]]) -> None:
    assert not find(rendered, "Role") and not find(rendered, "RoleBinding")
    role = one(rendered, "ClusterRole", "-operator")
    resources = {r for rule in role["rules"] for r in rule["resources"]}
    assert {"providers", "providers/status", "secrets", "events"} <= resources
    binding = one(rendered, "ClusterRoleBinding", "-operator")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "sp-sendpipe-operator",
                                    "namespace": "sendpipe"}]
    operator_env = {e["name"]: e.get("value") for e in _pod(rendered, "operator")["spec"]["containers"][0]["env"]}
    assert operator_env["SENDPIPE_OPERATOR_NAMESPACES"] == ""


def test_namespaced_mode_grants_secrets_only_in_watched_namespaces(helm: Helm) -> None:
    objects = helm.template(values=NAMESPACED)
    roles = find(objects, "Role")
    assert sorted(r["metadata"]["namespace"] for r in roles) == ["acme", "globex"]
    assert sorted(b["metadata"]["namespace"] for b in find(objects, "RoleBinding")) == ["acme", "globex"]
    for cluster_role in find(objects, "ClusterRole"):
        resources = {r for rule in cluster_role["rules"] for r in rule["resources"]}
        assert not resources & {"secrets", "providers", "providers/status", "events"}, cluster_role["rules"]
    operator_env = {e["name"]: e.get("value") for e in _pod(objects, "operator")["spec"]["containers"][0]["env"]}
    assert operator_env["SENDPIPE_OPERATOR_NAMESPACES"] == "acme,globex"


def test_no_rule_grants_wildcards_or_writes_beyond_status_and_events(helm: Helm) -> None:
    for values in (None, NAMESPACED):
        objects = helm.template(values=values)
        for role in [*find(objects, "ClusterRole"), *find(objects, "Role")]:
            for rule in role["rules"]:
                assert "*" not in rule["verbs"] and "*" not in rule["resources"] and "*" not in rule["apiGroups"]
                writes = set(rule["verbs"]) - {"get", "list", "watch"}
                if writes:
                    assert set(rule["resources"]) <= {"providers/status", "events"}, rule
