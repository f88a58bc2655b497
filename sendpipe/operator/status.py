"""A Provider's desired ``/status`` from the model, and the single writer that patches it.

Status is written only when it differs from what the API server last showed,
so an idle operator makes no writes and a restart rewrites nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sendpipe.core.outcomes import HealthState
from sendpipe.core.provider import ConditionType
from sendpipe.core.records import HealthVerdict
from sendpipe.operator import conditions
from sendpipe.operator.kube import KubeClient, KubeError
from sendpipe.operator.model import Model, ProviderEntry, Publication

__all__ = ["StatusWriter", "desired_status", "describe_verdict"]

log = logging.getLogger(__name__)


def describe_verdict(verdict: HealthVerdict) -> str:
    """E.g. 'error rate 34% over last 100 sends (34 failed), 2 consecutive failures'."""
    parts = [
        f"error rate {verdict.error_rate:.0%} over last {verdict.window.sends} sends ({verdict.window.failures} failed)",
        f"{verdict.consecutive_failures} consecutive failure{'s' if verdict.consecutive_failures != 1 else ''}",
    ]
    if verdict.ejected_until is not None:
        parts.append(f"ejected until {conditions.timestamp(verdict.ejected_until)}")
    if verdict.probing:
        parts.append("probing with live sends")
    text = ", ".join(parts)
    # The health owner's reason adds news only for ejection, probing and recovery; otherwise it restates the figures.
    restates_figures = verdict.reason.startswith(("error rate", "too few samples"))
    return f"{text}: {verdict.reason}" if verdict.reason and not restates_figures else text


def _healthy_condition(verdict: HealthVerdict | None, generation: int | None) -> dict[str, Any]:
    kind = ConditionType.HEALTHY
    if verdict is None:
        return conditions.make(kind, None, reason="NoVerdict", message="no health verdict yet (no sends)",
                               generation=generation)
    message = describe_verdict(verdict)
    if verdict.state is HealthState.UNKNOWN:
        return conditions.make(kind, None, reason="NotEnoughData", message=message, generation=generation)
    if verdict.state is HealthState.HEALTHY:
        return conditions.make(kind, True, reason="Healthy", message=message, generation=generation)
    reason = "Degraded" if verdict.state is HealthState.DEGRADED else "Unhealthy"
    return conditions.make(kind, False, reason=reason, message=message, generation=generation)


def _published_condition(entry: ProviderEntry, generation: int | None) -> dict[str, Any]:
    kind = ConditionType.PUBLISHED
    if not entry.validation.ok:
        return conditions.make(kind, False, reason="NotValid", message="left out of routing: see Ready",
                               generation=generation)
    if not entry.enabled:
        return conditions.make(kind, False, reason="Disabled", message="spec.enabled is false: left out of routing",
                               generation=generation)
    if entry.publication is Publication.PUBLISHED:
        return conditions.make(kind, True, reason="Published",
                               message=f"routing record {entry.key} at rank {entry.rank}", generation=generation)
    if entry.publication is Publication.FAILED:
        return conditions.make(kind, False, reason="PublishFailed", message=entry.publish_error, generation=generation)
    return conditions.make(kind, None, reason="Pending", message="waiting to be published", generation=generation)


def _ready_condition(entry: ProviderEntry, generation: int | None) -> dict[str, Any]:
    kind = ConditionType.READY
    validation = entry.validation
    if not validation.spec_check.ok:
        return conditions.make(kind, False, reason=validation.spec_check.reason,
                               message=validation.spec_check.message, generation=generation)
    if not validation.credentials_check.ok:
        return conditions.make(kind, False, reason="CredentialsInvalid",
                               message=validation.credentials_check.message, generation=generation)
    if not entry.enabled:
        return conditions.make(kind, False, reason="Disabled", message="spec.enabled is false", generation=generation)
    if entry.publication is Publication.PUBLISHED:
        return conditions.make(kind, True, reason="Ready", message=f"routed in {entry.key} at rank {entry.rank}",
                               generation=generation)
    if entry.publication is Publication.FAILED:
        return conditions.make(kind, False, reason="PublishFailed", message=entry.publish_error, generation=generation)
    return conditions.make(kind, None, reason="Pending", message="waiting to be published", generation=generation)


def desired_status(entry: ProviderEntry, *, now: datetime) -> dict[str, Any]:
    """The full status; absent figures are omitted (the patch nulls them out)."""
    generation = entry.generation
    credentials = entry.validation.credentials_check
    wanted = [
        _ready_condition(entry, generation),
        conditions.make(ConditionType.CREDENTIALS_VALID, credentials.ok, reason=credentials.reason,
                        message=credentials.message, generation=generation),
        _published_condition(entry, generation),
        _healthy_condition(entry.health, generation),
    ]
    previous = entry.observed_status.get("conditions") or []
    status: dict[str, Any] = {
        "observedGeneration": generation,
        "conditions": conditions.merge(previous, wanted, now=now),
        "health": (entry.health.state if entry.health else HealthState.UNKNOWN).value,
    }
    if entry.validation.channel is not None:
        status["channel"] = entry.validation.channel.value
    if entry.publication is Publication.PUBLISHED and entry.rank is not None:
        status["rank"] = entry.rank
    verdict = entry.health
    if verdict is not None:
        status["errorRate"] = round(verdict.error_rate, 4)
        status["window"] = {"sends": verdict.window.sends, "failures": verdict.window.failures}
        status["consecutiveFailures"] = verdict.consecutive_failures
        if verdict.ejected_until is not None:
            status["ejectedUntil"] = conditions.timestamp(verdict.ejected_until)
        if verdict.last_transition_time is not None:
            status["lastTransitionTime"] = conditions.timestamp(verdict.last_transition_time)
    return {key: value for key, value in status.items() if value is not None}


def _normalise(status: dict[str, Any]) -> dict[str, Any]:
    normalised = {key: value for key, value in status.items() if value is not None}
    if isinstance(normalised.get("errorRate"), int | float):
        normalised["errorRate"] = float(normalised["errorRate"])
    return normalised


def status_patch(observed: dict[str, Any], desired: dict[str, Any]) -> dict[str, Any] | None:
    """A JSON merge patch from ``observed`` to ``desired``; None when nothing differs."""
    if _normalise(observed) == _normalise(desired):
        return None
    patch: dict[str, Any] = dict(desired)
    for key in observed:
        if key not in desired:
            patch[key] = None
    return patch


class StatusWriter:
    def __init__(self, *, model: Model, kube: KubeClient, concurrency: int) -> None:
        self._model = model
        self._kube = kube
        self._limit = asyncio.Semaphore(concurrency)
        self.writes = 0

    async def write(self, uids: Iterable[str]) -> list[str]:
        """Patch the status of each Provider that needs it; returns the uids to retry later."""
        now = datetime.now(UTC)
        jobs = []
        for uid in set(uids):
            entry = self._model.providers.get(uid)
            if entry is None or entry.publication is Publication.PENDING and entry.routable:
                continue  # gone, or its routing record is not reconciled yet (avoid flapping to Unknown)
            patch = status_patch(entry.observed_status, desired_status(entry, now=now))
            if patch is not None:
                jobs.append(self._patch(entry, patch))
        results = await asyncio.gather(*jobs)
        return [uid for uid in results if uid is not None]

    async def _patch(self, entry: ProviderEntry, patch: dict[str, Any]) -> str | None:
        async with self._limit:
            try:
                status = await self._kube.patch_provider_status(entry.ref, patch)
            except KubeError as exc:
                log.warning("status patch failed; retrying", extra={"provider": f"{entry.ref.namespace}/{entry.ref.name}",
                                                                    "error": str(exc)})
                return entry.uid
        self.writes += 1
        current = self._model.providers.get(entry.uid)
        if status is not None and current is not None:
            current.observed_status = status
        return None
