"""Prometheus metrics of one worker process, served at ``/metrics`` on the worker's web port.

A private registry (not the global default) so tests and several apps in one
process do not collide; ``render()`` gives the exposition text.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import CONTENT_TYPE_LATEST

from sendpipe.core.outcomes import HealthState

__all__ = ["CONTENT_TYPE", "Metrics"]

CONTENT_TYPE = CONTENT_TYPE_LATEST

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_HEALTH_VALUE = {
    HealthState.UNKNOWN: 0,
    HealthState.HEALTHY: 1,
    HealthState.DEGRADED: 2,
    HealthState.UNHEALTHY: 3,
}


class Metrics:
    """Every metric the worker exports, registered in one private registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._children: dict[tuple[Any, tuple[str, ...]], Any] = {}
        r = self.registry
        self.messages = Counter(
            "sendpipe_messages", "Terminal delivery events by channel and status.", ["channel", "status", "reason"], registry=r
        )
        self.sends = Counter(
            "sendpipe_attempts",
            "Provider attempts by channel, provider and outcome.",
            ["channel", "provider", "outcome"],
            registry=r,
        )
        self.attempt_latency = Histogram(
            "sendpipe_attempt_latency_seconds",
            "Latency of one provider attempt.",
            ["channel", "provider"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.failovers = Counter(
            "sendpipe_failovers", "Attempts that moved on to the next provider.", ["channel", "provider"], registry=r
        )
        self.dlq = Counter("sendpipe_dlq", "Messages sent to the dead-letter topic, by reason code.", ["reason"], registry=r)
        self.duplicates = Counter(
            "sendpipe_duplicates_skipped", "Redelivered messages skipped by the dedupe table.", ["channel"], registry=r
        )
        self.outcomes = Counter(
            "sendpipe_health_outcomes", "Outcome records folded into provider health by this worker.", registry=r
        )
        self.in_flight = Gauge("sendpipe_in_flight", "Messages being processed now.", registry=r)
        self.dedupe_entries = Gauge(
            "sendpipe_dedupe_entries", "Terminal results held for duplicate suppression (capped).", registry=r
        )
        self.waiting = Gauge(
            "sendpipe_waiting", "Messages waiting for an ejected or throttled provider to recover.", registry=r
        )
        self.health = Gauge(
            "sendpipe_provider_health",
            "Published health per provider: 0 unknown, 1 healthy, 2 degraded, 3 unhealthy.",
            ["namespace", "channel", "provider", "uid"],
            registry=r,
        )

    def child(self, metric: Any, *values: str) -> Any:
        """``metric.labels(*values)``, cached: prometheus_client's lookup costs a few µs per call, per message."""
        key = (metric, values)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*values)
        return found

    def set_health(self, *, namespace: str, channel: str, provider: str, uid: str, state: HealthState) -> None:
        self.health.labels(namespace, channel, provider, uid).set(_HEALTH_VALUE[state])

    def render(self) -> bytes:
        return generate_latest(self.registry)
