"""The local kube-apiserver gives what the operator needs: CRDs with CEL and /status, watches, Secrets, Events."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable

import pytest
from kubernetes import client as k8s
from kubernetes import watch
from kubernetes.client.exceptions import ApiException

from sendpipe.stack.kubectl import Kubectl

GROUP = "smoke.sendpipe.test"
VERSION = "v1"
PLURAL = "widgets"

CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": f"{PLURAL}.{GROUP}"},
    "spec": {
        "group": GROUP,
        "scope": "Namespaced",
        "names": {"plural": PLURAL, "singular": "widget", "kind": "Widget"},
        "versions": [
            {
                "name": VERSION,
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "required": ["min", "max"],
                                "properties": {
                                    "min": {"type": "integer"},
                                    "max": {"type": "integer"},
                                },
                                "x-kubernetes-validations": [
                                    {"rule": "self.min <= self.max", "message": "min must not exceed max"}
                                ],
                            },
                            "status": {
                                "type": "object",
                                "properties": {"phase": {"type": "string"}},
                            },
                        },
                    }
                },
            }
        ],
    },
}


@pytest.fixture(scope="module")
def widget_crd(kubectl: Kubectl) -> str:
    """The test CRD, applied with kubectl and Established."""
    kubectl("apply", "-f", "-", input=json.dumps(CRD))
    kubectl("wait", "--for=condition=Established", "--timeout=60s", f"crd/{PLURAL}.{GROUP}")
    return f"{PLURAL}.{GROUP}"


def _widget(name: str, *, low: int, high: int) -> dict[str, object]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Widget",
        "metadata": {"name": name},
        "spec": {"min": low, "max": high},
    }


def test_custom_resource_cel_status_and_watch(
    widget_crd: str, k8s_api: k8s.ApiClient, unique_namespace: str
) -> None:
    api = k8s.CustomObjectsApi(k8s_api)
    ns = unique_namespace
    created = api.create_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, _widget("good", low=1, high=3))
    assert created["spec"] == {"min": 1, "max": 3}

    with pytest.raises(ApiException) as rejected:
        api.create_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, _widget("bad", low=5, high=1))
    assert rejected.value.status == 422
    assert "min must not exceed max" in str(rejected.value.body)

    patched = api.patch_namespaced_custom_object_status(
        GROUP, VERSION, ns, PLURAL, "good", {"status": {"phase": "Ready"}}
    )
    assert patched["status"] == {"phase": "Ready"}
    # The status subresource ignores spec changes and the main resource ignores status changes.
    assert patched["spec"] == {"min": 1, "max": 3}

    watcher = watch.Watch()
    events = watcher.stream(
        api.list_namespaced_custom_object,
        GROUP,
        VERSION,
        ns,
        PLURAL,
        resource_version=created["metadata"]["resourceVersion"],
        timeout_seconds=10,
    )
    seen: list[tuple[str, dict[str, object]]] = []
    try:
        for event in events:
            seen.append((event["type"], event["object"].get("status", {})))
            if event["object"].get("status") == {"phase": "Ready"}:
                break
    finally:
        # Close the streaming response now, not whenever the generator is collected.
        watcher.stop()
        events.close()
    assert ("MODIFIED", {"phase": "Ready"}) in seen


def test_secret_and_events(k8s_api: k8s.ApiClient, unique_namespace: str) -> None:
    core = k8s.CoreV1Api(k8s_api)
    ns = unique_namespace
    core.create_namespaced_secret(
        ns,
        k8s.V1Secret(metadata=k8s.V1ObjectMeta(name="creds"), string_data={"apiKey": "not-a-real-key"}),
    )
    secret = core.read_namespaced_secret("creds", ns)
    assert set(secret.data) == {"apiKey"}

    core.create_namespaced_event(
        ns,
        k8s.CoreV1Event(
            metadata=k8s.V1ObjectMeta(name=f"smoke.{uuid.uuid4().hex[:8]}"),
            involved_object=k8s.V1ObjectReference(kind="Secret", name="creds", namespace=ns, api_version="v1"),
            reason="Smoke",
            message="events can be recorded",
            type="Normal",
        ),
    )
    listed = core.list_namespaced_event(ns)
    assert [e.reason for e in listed.items] == ["Smoke"]


def test_rbac_denies_then_allows_impersonated_service_account(
    k8s_api: k8s.ApiClient, unique_namespace: str
) -> None:
    ns = unique_namespace
    core = k8s.CoreV1Api(k8s_api)
    core.create_namespaced_service_account(ns, k8s.V1ServiceAccount(metadata=k8s.V1ObjectMeta(name="nobody")))
    as_sa = k8s.ApiClient(
        k8s_api.configuration, header_name="Impersonate-User", header_value=f"system:serviceaccount:{ns}:nobody"
    )
    try:
        with pytest.raises(ApiException) as denied:
            k8s.CoreV1Api(as_sa).list_namespaced_secret(ns)
        assert denied.value.status == 403

        rbac = k8s.RbacAuthorizationV1Api(k8s_api)
        rbac.create_namespaced_role(
            ns,
            k8s.V1Role(
                metadata=k8s.V1ObjectMeta(name="read-secrets"),
                rules=[k8s.V1PolicyRule(api_groups=[""], resources=["secrets"], verbs=["get", "list"])],
            ),
        )
        rbac.create_namespaced_role_binding(
            ns,
            k8s.V1RoleBinding(
                metadata=k8s.V1ObjectMeta(name="nobody-reads-secrets"),
                role_ref=k8s.V1RoleRef(api_group="rbac.authorization.k8s.io", kind="Role", name="read-secrets"),
                subjects=[k8s.RbacV1Subject(kind="ServiceAccount", name="nobody", namespace=ns)],
            ),
        )
        assert _eventually_allowed(lambda: k8s.CoreV1Api(as_sa).list_namespaced_secret(ns))
    finally:
        as_sa.close()


def _eventually_allowed(call: Callable[[], object], *, attempts: int = 50) -> bool:
    """RBAC changes reach the authorizer through an informer: allow a moment."""
    for _ in range(attempts):
        try:
            call()
            return True
        except ApiException as exc:
            if exc.status != 403:
                raise
            time.sleep(0.1)
    return False


def test_kubectl_talks_to_the_stack(kubectl: Kubectl) -> None:
    version = json.loads(kubectl("version", "-o", "json"))
    assert version["serverVersion"]["gitVersion"] == version["clientVersion"]["gitVersion"]
    assert "default" in kubectl("get", "namespaces", "-o", "name")
