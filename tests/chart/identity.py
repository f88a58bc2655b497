"""Acting as one of the chart's ServiceAccounts against the real kube-apiserver.

The chart's RBAC objects are applied as rendered; a token for the
ServiceAccount comes from the TokenRequest API (`kubectl create token`,
which needs only kube-apiserver and its signing key), and a kubeconfig
carrying that token is what the operator subprocess and kubectl use. No
impersonation header: the requests are authenticated as the ServiceAccount
itself, exactly as in a pod.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from sendpipe.stack import StackInfo
from sendpipe.stack.kubectl import Kubectl

RBAC_KINDS = ("ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding")


@dataclass(frozen=True)
class Identity:
    """A ServiceAccount's kubeconfig and a kubectl bound to it."""

    name: str
    namespace: str
    kubeconfig: Path
    kubectl: Kubectl

    @property
    def username(self) -> str:
        return f"system:serviceaccount:{self.namespace}:{self.name}"

    def forbidden(self, *args: str, input: str | None = None) -> str:
        """Run kubectl as this identity and assert the API server answered 403 Forbidden; return stderr."""
        result = self.kubectl.run(*args, input=input)
        assert result.returncode != 0, f"kubectl {' '.join(args)} as {self.username} was allowed:\n{result.stdout}"
        assert "Forbidden" in result.stderr or "forbidden" in result.stderr, result.stderr
        assert self.username in result.stderr, result.stderr
        return result.stderr

    def can_i(self, verb: str, resource: str, *, namespace: str | None = None, subresource: str = "") -> bool:
        args = ["auth", "can-i", verb, resource, *([f"--subresource={subresource}"] if subresource else [])]
        args += ["--all-namespaces"] if namespace is None else ["-n", namespace]
        result = self.kubectl.run(*args)
        answer = result.stdout.strip()
        assert answer in ("yes", "no"), result.stdout + result.stderr
        return answer == "yes"


def apply_rbac(kubectl: Kubectl, objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Apply the rendered CRD (server-side, shared by every test) and the rendered RBAC objects."""
    crds = [o for o in objects if o["kind"] == "CustomResourceDefinition"]
    for crd in crds:
        kubectl("apply", "--server-side", "--force-conflicts", "-f", "-", input=json.dumps(crd))
        kubectl("wait", "--for=condition=Established", "--timeout=60s", f"crd/{crd['metadata']['name']}")
    rbac = [o for o in objects if o["kind"] in RBAC_KINDS]
    kubectl("apply", "-f", "-", input=yaml.safe_dump_all(rbac))
    return rbac


def identity(*, stack: StackInfo, admin: Kubectl, name: str, namespace: str, workdir: Path) -> Identity:
    """A kubeconfig for ServiceAccount ``namespace/name`` with a fresh one-hour token."""
    token = admin("create", "token", name, "-n", namespace, "--duration=1h").strip()
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "stack", "cluster": {"server": stack.api_server_url,
                                                    "certificate-authority": str(stack.ca_cert)}}],
        "users": [{"name": name, "user": {"token": token}}],
        "contexts": [{"name": name, "context": {"cluster": "stack", "user": name, "namespace": namespace}}],
        "current-context": name,
    }
    path = workdir / f"kubeconfig-{namespace}-{name}"
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    return Identity(name=name, namespace=namespace, kubeconfig=path,
                    kubectl=Kubectl(binary=admin.binary, kubeconfig=path))
