"""Kopf handlers: thin adapters from watch events to the runtime.

Providers and the Secrets they reference are followed with ``on.event``
(level-triggered: every event re-derives the Provider's state, so nothing
depends on Kopf's per-change bookkeeping and no finalizer blocks deletion).
A Kopf index of Secret references filters the Secret stream to the Secrets
that matter; Kopf fills every index before any handler runs, so the initial
Secret listing is already filtered correctly.
"""

from __future__ import annotations

from typing import Any

import kopf

from sendpipe.core.provider import GROUP, PLURAL, VERSION
from sendpipe.operator.runtime import Runtime

__all__ = ["registry"]

registry = kopf.OperatorRegistry()


def _runtime(memo: Any) -> Runtime:
    runtime = memo.runtime
    assert isinstance(runtime, Runtime)
    return runtime


@kopf.on.login(registry=registry)
def login(memo: kopf.Memo, **_: Any) -> kopf.ConnectionInfo:
    """Kopf uses the same credentials as the operator's own client (kubeconfig or in-cluster)."""
    config = _runtime(memo).kube.api.configuration
    header = str(config.get_api_key_with_prefix("BearerToken") or config.get_api_key_with_prefix("authorization") or "")
    scheme, _sep, token = header.partition(" ")
    if header and not token:
        scheme, token = "", header
    return kopf.ConnectionInfo(
        server=config.host, ca_path=config.ssl_ca_cert, insecure=not config.verify_ssl,
        username=config.username or None, password=config.password or None,
        scheme=scheme or None, token=token or None,
        certificate_path=config.cert_file, private_key_path=config.key_file,
    )


@kopf.on.startup(registry=registry)
async def startup(memo: kopf.Memo, **_: Any) -> None:
    _runtime(memo).start()


@kopf.on.cleanup(registry=registry)
async def cleanup(memo: kopf.Memo, **_: Any) -> None:
    runtime = _runtime(memo)
    await runtime.stop()
    await runtime.kube.close()


@kopf.on.probe(id="kafka", registry=registry)
async def kafka_probe(memo: kopf.Memo, **_: Any) -> dict[str, Any]:
    """A failed probe is permanent for this request (Kopf would otherwise retry it while the caller waits)."""
    try:
        return await _runtime(memo).check_kafka()
    except Exception as exc:
        raise kopf.PermanentError(f"Kafka: {type(exc).__name__}: {exc}") from None


@kopf.on.probe(id="kubernetes", registry=registry)
async def kubernetes_probe(memo: kopf.Memo, **_: Any) -> dict[str, Any]:
    try:
        return await _runtime(memo).check_kubernetes()
    except Exception as exc:
        raise kopf.PermanentError(f"Kubernetes API: {type(exc).__name__}: {exc}") from None


@kopf.index(GROUP, VERSION, PLURAL, registry=registry)
def provider_secrets(namespace: str | None, spec: kopf.Spec, **_: Any) -> dict[tuple[str, str], bool]:
    ref = spec.get("credentialsSecretRef")
    name = ref.get("name") if isinstance(ref, dict) else None
    return {(namespace, name): True} if namespace and isinstance(name, str) else {}


@kopf.on.event(GROUP, VERSION, PLURAL, registry=registry)
async def provider_event(type: str | None, body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    runtime = _runtime(memo)
    if type == "DELETED":
        runtime.forget_provider(str(body["metadata"]["uid"]))
    else:
        await runtime.observe_provider(body)


def _secret_wanted(namespace: str | None, name: str | None, memo: kopf.Memo, **kwargs: Any) -> bool:
    provider_secrets: kopf.Index[Any, Any] = kwargs["provider_secrets"]
    if namespace is None or name is None:
        return False
    return (namespace, name) in provider_secrets or _runtime(memo).is_sealing_secret(namespace, name)


@kopf.on.event("v1", "secrets", when=_secret_wanted, registry=registry)
async def secret_event(type: str | None, namespace: str | None, name: str, body: kopf.Body, memo: kopf.Memo,
                       **_: Any) -> None:
    data = None if type == "DELETED" else dict(body.get("data") or {})
    await _runtime(memo).observe_secret(str(namespace), name, data)


