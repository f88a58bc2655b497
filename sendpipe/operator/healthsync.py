"""Health verdicts from ``sendpipe.health`` into Provider statuses and Events.

A state transition is written at once and recorded as an Event (Warning when
a Provider turns degraded or unhealthy, Normal otherwise); unchanged states
with new figures are written at most every ``interval`` seconds per Provider.
Verdicts for Providers this operator does not know (deleted, another
cluster, not yet listed) are kept in the view and ignored until one appears.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from sendpipe.bus.view import CompactedView
from sendpipe.core.outcomes import HealthState
from sendpipe.core.records import HealthVerdict
from sendpipe.operator.kube import KubeClient, KubeError
from sendpipe.operator.model import Model, ProviderEntry
from sendpipe.operator.status import describe_verdict
from sendpipe.settings import KafkaSettings

__all__ = ["HealthSync", "event_for"]

log = logging.getLogger(__name__)

_BAD = {HealthState.DEGRADED, HealthState.UNHEALTHY}


def event_for(previous: HealthState | None, verdict: HealthVerdict) -> tuple[str, str, str] | None:
    """(type, reason, message) of the Event for a transition; None when the state did not change."""
    if previous is verdict.state:
        return None
    message = f"{(previous or HealthState.UNKNOWN).value} -> {verdict.state.value}: {describe_verdict(verdict)}"
    if verdict.state is HealthState.DEGRADED:
        return "Warning", "ProviderDegraded", message
    if verdict.state is HealthState.UNHEALTHY:
        return "Warning", "ProviderUnhealthy", message
    if previous in _BAD:
        return "Normal", "ProviderRecovered", message
    if verdict.state is HealthState.HEALTHY:
        return "Normal", "ProviderHealthy", message
    return "Normal", "ProviderHealthUnknown", message


def _state(value: object) -> HealthState | None:
    try:
        return HealthState(str(value)) if value else None
    except ValueError:
        return None


class HealthSync:
    def __init__(
        self, *, kafka: KafkaSettings, topic: str, model: Model, kube: KubeClient,
        mark_status: Callable[[str], None], interval: float,
    ) -> None:
        self._model = model
        self._kube = kube
        self._mark = mark_status
        self._interval = interval
        self._pending: dict[str, HealthVerdict] = {}
        self._written_at: dict[str, float] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.events_posted = 0
        self.view: CompactedView[HealthVerdict] = CompactedView(
            settings=kafka, topic=topic, decode=HealthVerdict.model_validate_json, on_change=self._on_change
        )

    async def start(self) -> None:
        """Read the topic in full, then give every known Provider its latest verdict.

        Verdicts replayed during the catch-up are not applied one by one: only
        the latest per Provider counts, compared with the state its status
        already shows, so a restart records no stale transitions.
        """
        await self.view.start()
        await self.view.wait_ready(60)
        for entry in list(self._model.providers.values()):
            verdict = self.view.get(entry.uid)
            if verdict is not None and entry.health is None:
                self._apply(entry, verdict)

    async def stop(self) -> None:
        await self.view.stop()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def attach(self, entry: ProviderEntry, previous: ProviderEntry | None) -> None:
        """Give a (re)observed Provider its health: carried over, or the latest verdict at first sight."""
        if previous is not None:
            entry.health = previous.health
            return
        verdict = self.view.get(entry.uid) if self.view.ready else None
        if verdict is not None:
            self._apply(entry, verdict)

    def _on_change(self, key: str, verdict: HealthVerdict | None) -> None:
        if not self.view.ready:
            return  # catching up: start() applies the latest verdicts once the view is complete
        entry = self._model.providers.get(key)
        if entry is None:
            return  # unknown or deleted Provider: ignored
        if verdict is None:
            entry.health = None
            self._pending.pop(key, None)
            self._mark(key)
            return
        if verdict.provider_uid != key or verdict.namespace != entry.ref.namespace:
            log.warning("verdict does not match its Provider; ignored", extra={"uid": key})
            return
        current = entry.health
        transition = current is None or current.state is not verdict.state or current.probing != verdict.probing \
            or current.ejected_until != verdict.ejected_until
        due = time.monotonic() - self._written_at.get(key, float("-inf")) >= self._interval
        if transition or due:
            self._pending.pop(key, None)
            self._apply(entry, verdict)
        else:
            self._pending[key] = verdict

    def _apply(self, entry: ProviderEntry, verdict: HealthVerdict) -> None:
        previous = entry.health.state if entry.health else _state(entry.observed_status.get("health"))
        entry.health = verdict
        self._written_at[entry.uid] = time.monotonic()
        self._mark(entry.uid)
        event = event_for(previous, verdict)
        if event is not None and not (previous is None and verdict.state is HealthState.UNKNOWN):
            task = asyncio.get_running_loop().create_task(self._post(entry, *event))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _post(self, entry: ProviderEntry, type_: str, reason: str, message: str) -> None:
        try:
            await self._kube.post_event(entry.ref, type_=type_, reason=reason, message=message)
            self.events_posted += 1
            log.info("health transition", extra={"provider": f"{entry.ref.namespace}/{entry.ref.name}",
                                                 "reason": reason, "detail": message})
        except KubeError as exc:
            log.warning("could not record a health Event", extra={"error": str(exc)})

    async def run(self) -> None:
        """Write the throttled figures once their interval has passed."""
        while True:
            await asyncio.sleep(min(1.0, max(self._interval / 4, 0.05)))
            now = time.monotonic()
            for uid, verdict in list(self._pending.items()):
                if now - self._written_at.get(uid, float("-inf")) < self._interval:
                    continue
                del self._pending[uid]
                entry = self._model.providers.get(uid)
                if entry is not None:
                    self._apply(entry, verdict)

    def forget(self, uid: str) -> None:
        self._pending.pop(uid, None)
        self._written_at.pop(uid, None)
