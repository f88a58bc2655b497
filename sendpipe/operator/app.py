"""Wiring: Kopf settings from OperatorSettings, the runtime, and the operator's main coroutine.

Kopf's own bookkeeping (if any handler ever needs it) goes to annotations
under the project's prefix, never to ``status``; watches time out on both
ends so a silently dead connection is replaced; the liveness endpoint runs
the Kafka and Kubernetes probes.
"""

from __future__ import annotations

import asyncio
import logging

import kopf

from sendpipe.operator import handlers
from sendpipe.operator.kube import KubeClient, load_api_client
from sendpipe.operator.runtime import Runtime
from sendpipe.settings import KafkaSettings, OperatorSettings, SealingSettings, TopicSettings

__all__ = ["configure_kopf", "configure_logging", "serve"]

log = logging.getLogger(__name__)

_KOPF_EXTRAS = ("settings", "k8s_skip", "k8s_ref")


def _drop_kopf_extras(record: logging.LogRecord) -> bool:
    """Kopf attaches its whole settings object to per-object records; keep structured logs small."""
    for name in _KOPF_EXTRAS:
        record.__dict__.pop(name, None)
    return True


def configure_logging() -> None:
    """Kopf's per-event success lines and aiohttp's access log only at WARNING and above."""
    for name in ("kopf.objects", "kopf.activities", "aiohttp.access"):
        logging.getLogger(name).setLevel(logging.WARNING)
    for handler in logging.getLogger().handlers:
        handler.addFilter(_drop_kopf_extras)


def configure_kopf(kopf_settings: kopf.OperatorSettings, settings: OperatorSettings) -> None:
    prefix = settings.annotation_prefix
    kopf_settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=prefix)
    kopf_settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=prefix, key="last-handled-configuration"
    )
    kopf_settings.persistence.finalizer = f"{prefix}/finalizer"
    kopf_settings.watching.server_timeout = settings.watch_server_timeout_seconds
    kopf_settings.watching.client_timeout = settings.watch_client_timeout_seconds
    kopf_settings.watching.connect_timeout = 10
    kopf_settings.networking.request_timeout = 60
    kopf_settings.networking.connect_timeout = 10
    # Events are recorded by the operator itself (health transitions); Kopf posts only its errors.
    kopf_settings.posting.level = logging.ERROR
    kopf_settings.posting.reporting_component = settings.component_name
    # Event handlers are level-triggered and cheap: let idle per-object workers go soon.
    kopf_settings.queueing.idle_timeout = 2.0
    kopf_settings.execution.max_workers = 8


async def serve(
    *, settings: OperatorSettings, kafka: KafkaSettings, topics: TopicSettings, sealing: SealingSettings,
    stop_flag: asyncio.Event | None = None,
) -> None:
    """Run the operator until it is signalled (SIGTERM/SIGINT) or ``stop_flag`` is set."""
    configure_logging()
    api = load_api_client(settings.kubeconfig, pool_size=settings.status_concurrency + 2)
    kube = KubeClient(api, component=settings.component_name, workers=settings.status_concurrency + 2)
    runtime = Runtime(settings=settings, kafka=kafka, topics=topics, sealing=sealing, kube=kube)
    kopf_settings = kopf.OperatorSettings()
    configure_kopf(kopf_settings, settings)
    liveness = f"http://{settings.probe_host}:{settings.probe_port}/healthz" if settings.probe_port else None
    log.info("operator starting", extra={
        "namespaces": settings.namespaces or "all", "routing_topic": topics.routing, "health_topic": topics.health,
        "kafka": kafka.bootstrap, "probe": liveness,
    })
    await kopf.operator(
        registry=handlers.registry,
        settings=kopf_settings,
        standalone=True,
        clusterwide=not settings.namespaces,
        namespaces=settings.namespaces,
        liveness_endpoint=liveness,
        memo=kopf.Memo(runtime=runtime),
        stop_flag=stop_flag,
    )
