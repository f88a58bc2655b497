"""The operator's own Kubernetes calls: Secret reads, Provider lists, status patches and Events.

Kopf watches; everything the operator writes goes through here, so there is
one writer of each Provider's status. The official client is synchronous:
calls run in a small thread pool so the event loop never blocks on I/O.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import os
import socket
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException

from sendpipe.core.provider import GROUP, KIND, PLURAL, VERSION

__all__ = ["KubeClient", "KubeError", "ObjectRef", "decode_secret_data", "load_api_client"]

MERGE_PATCH = "application/merge-patch+json"


class KubeError(RuntimeError):
    """A Kubernetes API call failed for a reason other than 'not found'; worth retrying later."""


@dataclass(frozen=True, slots=True)
class ObjectRef:
    """Enough of a Provider to address it and to name it in an Event."""

    namespace: str
    name: str
    uid: str
    api_version: str = f"{GROUP}/{VERSION}"
    kind: str = KIND


def load_api_client(kubeconfig: Path | None, *, pool_size: int = 8) -> k8s.ApiClient:
    """An ApiClient from ``kubeconfig``; without one, in-cluster, else $KUBECONFIG / ~/.kube/config."""
    configuration = k8s.Configuration()
    if kubeconfig is not None and os.pathsep in str(kubeconfig):
        kubeconfig = None  # a $KUBECONFIG list: the client library merges it itself
    if kubeconfig is not None:
        k8s_config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=str(kubeconfig), client_configuration=configuration
        )
    else:
        try:
            k8s_config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
        except k8s_config.ConfigException:
            k8s_config.load_kube_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    configuration.connection_pool_maxsize = pool_size
    return k8s.ApiClient(configuration)


def decode_secret_data(data: dict[str, str] | None) -> tuple[dict[str, str], list[str]]:
    """A Secret's base64 ``data`` as text; the second item names the entries that are not UTF-8 text."""
    decoded: dict[str, str] = {}
    bad: list[str] = []
    for key, value in (data or {}).items():
        try:
            decoded[key] = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, ValueError, UnicodeDecodeError):
            bad.append(key)
    return decoded, bad


class KubeClient:
    def __init__(self, api: k8s.ApiClient, *, component: str, workers: int = 8) -> None:
        self.api = api
        self.component = component
        self.instance = socket.gethostname()
        self._core = k8s.CoreV1Api(api)
        self._custom = k8s.CustomObjectsApi(api)
        self._version = k8s.VersionApi(api)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="kube")

    async def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        await asyncio.to_thread(self.api.close)

    async def _call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, lambda: fn(*args, **kwargs))

    async def ping(self) -> str:
        """The API server's version; raises KubeError when it cannot be reached."""
        try:
            info = await self._call(self._version.get_code, _request_timeout=5)
        except Exception as exc:
            raise KubeError(f"Kubernetes API unreachable: {type(exc).__name__}") from None
        return str(info.git_version)

    async def get_secret_data(self, namespace: str, name: str) -> dict[str, str] | None:
        """The Secret's raw (base64) ``data``; None if it does not exist."""
        try:
            secret = await self._call(self._core.read_namespaced_secret, name, namespace, _request_timeout=10)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise KubeError(f"reading Secret {namespace}/{name} failed: HTTP {exc.status} {exc.reason}") from None
        return {str(key): str(value) for key, value in (secret.data or {}).items()}

    async def get_provider(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            body = await self._call(
                self._custom.get_namespaced_custom_object, GROUP, VERSION, namespace, PLURAL, name, _request_timeout=10
            )
            return dict(body)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise KubeError(f"reading Provider {namespace}/{name} failed: HTTP {exc.status} {exc.reason}") from None

    async def list_providers(self, namespaces: list[str]) -> list[dict[str, Any]]:
        """Every Provider in ``namespaces`` (all namespaces when empty)."""
        try:
            if not namespaces:
                result = await self._call(self._custom.list_cluster_custom_object, GROUP, VERSION, PLURAL,
                                          _request_timeout=60)
                return list(result.get("items", []))
            items: list[dict[str, Any]] = []
            for namespace in namespaces:
                result = await self._call(self._custom.list_namespaced_custom_object, GROUP, VERSION, namespace,
                                          PLURAL, _request_timeout=60)
                items.extend(result.get("items", []))
            return items
        except ApiException as exc:
            raise KubeError(f"listing Providers failed: HTTP {exc.status} {exc.reason}") from None

    async def patch_provider(self, namespace: str, name: str, patch: dict[str, Any]) -> dict[str, Any]:
        """A JSON merge patch of a Provider (spec/metadata)."""
        try:
            body = await self._call(
                self._custom.patch_namespaced_custom_object, GROUP, VERSION, namespace, PLURAL, name, patch,
                _content_type=MERGE_PATCH, _request_timeout=10,
            )
            return dict(body)
        except ApiException as exc:
            raise KubeError(f"patching Provider {namespace}/{name} failed: HTTP {exc.status} {exc.reason}") from None

    async def patch_provider_status(self, ref: ObjectRef, status: dict[str, Any]) -> dict[str, Any] | None:
        """Merge-patch ``/status``; returns the new status, or None if the Provider is gone."""
        try:
            body = await self._call(
                self._custom.patch_namespaced_custom_object_status, GROUP, VERSION, ref.namespace, PLURAL, ref.name,
                {"status": status}, _content_type=MERGE_PATCH, _request_timeout=10,
            )
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise KubeError(
                f"patching status of Provider {ref.namespace}/{ref.name} failed: HTTP {exc.status} {exc.reason}"
            ) from None
        return dict(body.get("status") or {})

    async def post_event(self, ref: ObjectRef, *, type_: str, reason: str, message: str) -> None:
        """Record a core/v1 Event on the Provider (best effort: failures raise KubeError)."""
        now = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        body = {
            "metadata": {"generateName": f"{ref.name}.", "namespace": ref.namespace},
            "involvedObject": {"apiVersion": ref.api_version, "kind": ref.kind, "name": ref.name,
                               "namespace": ref.namespace, "uid": ref.uid},
            "type": type_,
            "reason": reason,
            "message": message[:1024],
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
            "source": {"component": self.component},
            "reportingComponent": self.component,
            "reportingInstance": self.instance,
        }
        try:
            await self._call(self._core.create_namespaced_event, ref.namespace, body, _request_timeout=10)
        except ApiException as exc:
            raise KubeError(f"posting an Event on {ref.namespace}/{ref.name} failed: HTTP {exc.status}") from None
