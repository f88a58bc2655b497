"""The per-message pipeline: validate → dedupe → plan → attempt → emit exactly one terminal result.

Framework-free on purpose: the dispatcher (``runtime.py``) hands in the raw
record, and two small ports (``Outputs`` to produce, ``DedupeStore`` for
terminal results) are all it writes to; it learns only when the message is
finished. Every path ends in exactly one of: a DeliveryEvent (SENT or
FAILED), a DLQ record, a skip (already delivered), or a requeue (handed back
during a rebalance or shutdown while waiting for a provider to recover). The
record's offset is released for commit only after that.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from pydantic import ValidationError

from sendpipe.core import health as core_health
from sendpipe.core import routing
from sendpipe.core.messages import (
    EmailRequest,
    ProviderUid,
    RequestTooLarge,
    SmsRequest,
    WhatsAppRequest,
    describe_validation_error,
    parse_send_request,
)
from sendpipe.core.outcomes import Channel, DeliveryStatus, FailureReason, Outcome
from sendpipe.core.records import RoutedProvider
from sendpipe.providers import ConfigurationError, PreparedSend, ProviderClient, get_adapter
from sendpipe.providers.result import SendResult
from sendpipe.worker.dlq import DlqReason
from sendpipe.worker.metrics import Metrics
from sendpipe.worker.views import CredentialCache, CredentialsUnavailable, Views

__all__ = ["Delivery", "DedupeStore", "Finish", "Incoming", "Outputs", "Unusable", "validate"]

log = logging.getLogger(__name__)

AnyRequest = EmailRequest | SmsRequest | WhatsAppRequest
_WAIT_POLL_SECONDS = 0.25
# A prepared plan is used as it is when nothing it was made from has changed since (routing, verdicts,
# throttles) and it is this young: what time alone changes (an ejection or a Retry-After running out)
# may wait that long for the next plan.
_PLAN_FRESH_SECONDS = 0.1


class Finish(enum.Enum):
    """How a message left the pipeline (all of them mean: its offset may be released)."""

    EVENT = "event"
    DLQ = "dlq"
    DUPLICATE = "duplicate"
    REQUEUED = "requeued"


Fields = dict[str, Any]
"""A wire model's keyword arguments (``DeliveryEvent``, ``Attempt``). The outputs build
the models when they write a batch: back to back, validation and JSON stay in the CPU's caches, which
measured cheaper than building each model where the message finishes (see ``outbox.py``)."""


class Outputs(Protocol):
    """Where the pipeline's records go: buffered for the next transaction (``outbox.py``), outcomes at once."""

    async def terminal(self, event: Fields, *, source_partition: int) -> None:
        """A ``DeliveryEvent``'s fields (its attempts as fields too)."""

    def outcome(
        self,
        provider: RoutedProvider,
        *,
        namespace: str,
        channel: Channel,
        outcome: Outcome,
        at: float,
        latency_ms: float,
        probe: bool,
        retry_after_seconds: float | None,
    ) -> None:
        """One attempt's outcome, for its provider's health owner (``at``: epoch seconds)."""

    async def dlq(self, *, raw: bytes, key: bytes | None, source: str, reason: DlqReason, detail: str) -> None: ...

    async def requeue(self, *, raw: bytes, key: bytes | None, topic: str, partition: int) -> None: ...


class DedupeStore(Protocol):
    def seen(self, message_id: str) -> bool: ...


@dataclass(frozen=True, slots=True)
class Unusable:
    """Why a record cannot be delivered (it goes to the DLQ with this reason)."""

    reason: DlqReason
    detail: str


def validate(raw: bytes, *, channel: Channel, topic: str) -> AnyRequest | Unusable:
    """The record's SendRequest, if it is a valid one of the topic's channel."""
    try:
        request = parse_send_request(raw)
    except RequestTooLarge as exc:
        return Unusable(DlqReason.OVERSIZED, str(exc))
    except ValidationError as exc:
        return Unusable(DlqReason.INVALID, describe_validation_error(exc))
    if request.channel is not channel:
        return Unusable(DlqReason.WRONG_CHANNEL, f"channel {request.channel.value!r} sent to the {channel.value} topic {topic}")
    return request


@dataclass(slots=True, kw_only=True)  # not frozen: a frozen __init__ costs ~1 µs more per message
class Incoming:
    """One record of a send topic, as the intake received it, with its validated request."""

    raw: bytes
    key: bytes | None
    topic: str
    partition: int
    offset: int
    channel: Channel
    received_at: datetime
    request: AnyRequest | Unusable
    first: FirstAttempt | None = None  # set by ``Delivery.prepare``; taken by the first attempt


@dataclass(slots=True)  # not frozen, like ``Incoming``
class FirstAttempt:
    """A message's plan and first attempt, prepared with its chunk (``Delivery.prepare``)."""

    plan: routing.Plan
    planned_at: float
    state: tuple[int, int]  # the views' and the throttles' versions the plan was made at
    send: PreparedSend  # the plan's first attempt, sent only if the plan itself is used


class Delivery:
    """Delivers messages of all channels for one worker process; one instance per process."""

    def __init__(
        self,
        *,
        views: Views,
        credentials: CredentialCache,
        client: ProviderClient,
        outputs: Outputs,
        dedupe: DedupeStore,
        metrics: Metrics,
        max_wait_seconds: float,
        should_hand_back: Callable[[], bool] = lambda: False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._views = views
        self._credentials = credentials
        self._client = client
        self._out = outputs
        self._dedupe = dedupe
        self._metrics = metrics
        self._max_wait = max_wait_seconds
        self._should_hand_back = should_hand_back
        self._clock = clock
        self.throttled_until: dict[ProviderUid, float] = {}
        self._throttles_version = 0
        self.probes_in_flight: set[ProviderUid] = set()
        self._in_progress: dict[str, list[asyncio.Future[None]]] = {}  # by id: who waits for it to finish

    def prepare(self, chunk: Iterable[Incoming]) -> None:
        """Plan each deliverable message of a chunk and build its first attempt, back to back.

        Why ahead of sending: building a provider request (the adapter's call and its
        encoding) measured ~30% cheaper repeated at once than where each message starts, since
        the code stays in the CPU's caches; the same holds for validation (``runtime.py``).
        The plan is made again when the message starts if a verdict, a routing change or a
        throttle came in meanwhile (``_PLAN_FRESH_SECONDS``).
        """
        now = self._clock()
        state = (self._views.version, self._throttles_version)
        # Planning is a pure function of what is constant during this loop: one plan per (namespace, channel).
        routes: dict[tuple[str, Channel], routing.Route] = {}
        for incoming in chunk:
            request = incoming.request
            if isinstance(request, Unusable):
                continue
            route = routes.get((request.namespace, request.channel))
            if route is None:
                route = routes[request.namespace, request.channel] = self._plan(request, now)
            if not isinstance(route, routing.Plan) or route.attempts[0].probe:
                continue  # a probe is claimed when it starts
            provider = route.attempts[0].provider
            try:
                send = self._prepare_attempt(request, provider)
            except (CredentialsUnavailable, LookupError, ConfigurationError):
                continue  # the attempt itself reports it
            incoming.first = FirstAttempt(route, now, state, send)

    def _plan(self, request: AnyRequest, now: float) -> routing.Route:
        return routing.plan_route(
            self._views.record_for(request.namespace, request.channel),
            namespace=request.namespace,
            channel=request.channel,
            health=self._views.health,
            throttled_until=self.throttled_until,
            probes_in_flight=self.probes_in_flight,
            now=now,
        )

    def _prepared_plan(self, incoming: Incoming, now: float) -> routing.Plan | None:
        first = incoming.first
        if first is None or now - first.planned_at > _PLAN_FRESH_SECONDS:
            return None
        return first.plan if first.state == (self._views.version, self._throttles_version) else None

    def _prepare_attempt(self, request: AnyRequest, provider: RoutedProvider) -> PreparedSend:
        resolved = self._credentials.resolve(provider)
        return get_adapter(provider.package).prepare(
            request, credentials=resolved.credentials, settings=resolved.settings, client=self._client
        )

    async def handle(self, incoming: Incoming) -> Finish:
        """Process one record to its terminal output. Raises only on output failure (then: do not release it)."""
        request = incoming.request
        if isinstance(request, Unusable):
            return await self._to_dlq(incoming, request.reason, request.detail)
        while (earlier := self._in_progress.get(request.id)) is not None:
            # The same id twice in flight: the first one decides (a skip once its result is remembered).
            waiter = asyncio.get_running_loop().create_future()
            earlier.append(waiter)
            await waiter
        if self._dedupe.seen(request.id):
            self._metrics.duplicates.labels(request.channel.value).inc()
            return Finish.DUPLICATE
        record = self._views.record_for(request.namespace, request.channel)
        if record is None and not self._views.knows_namespace(request.namespace):
            detail = f"namespace {request.namespace!r} has no routing records (no Provider published there)"
            return await self._to_dlq(incoming, DlqReason.UNKNOWN_NAMESPACE, detail)
        waiters = self._in_progress[request.id] = []
        try:
            return await self._deliver(request, incoming)
        finally:
            del self._in_progress[request.id]
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)

    async def _to_dlq(self, incoming: Incoming, reason: DlqReason, detail: str) -> Finish:
        await self._out.dlq(raw=incoming.raw, key=incoming.key, source=incoming.topic, reason=reason, detail=detail)
        self._metrics.dlq.labels(reason.value).inc()
        log.info(
            "message to DLQ",
            extra={"reason": reason.value, "topic": incoming.topic, "partition": incoming.partition, "offset": incoming.offset},
        )
        return Finish.DLQ

    async def _deliver(self, request: AnyRequest, incoming: Incoming) -> Finish:
        attempts: list[Fields] = []
        received = incoming.received_at.timestamp()
        expires = request.expires_at.timestamp() if request.expires_at is not None else None
        wait_deadline = expires if expires is not None else received + self._max_wait
        waiting = False
        try:
            while True:
                now = self._clock()
                if expires is not None and now >= expires:
                    return await self._fail(
                        request, incoming, attempts, FailureReason.EXPIRED, "expiresAt passed before delivery"
                    )
                route = self._prepared_plan(incoming, now) or self._plan(request, now)
                if isinstance(route, routing.NoProviderConfigured):
                    return await self._fail(
                        request, incoming, attempts, FailureReason.NO_PROVIDER_CONFIGURED,
                        f"no enabled, Ready {request.channel.value} provider in namespace {request.namespace}",
                    )
                if isinstance(route, routing.WaitUntil):
                    if route.at > wait_deadline or now >= wait_deadline:
                        return await self._fail(
                            request, incoming, attempts, FailureReason.NO_HEALTHY_PROVIDER,
                            "every provider was ejected or throttled until the message's deadline",
                        )
                    if self._should_hand_back():
                        await self._out.requeue(
                            raw=incoming.raw, key=incoming.key, topic=incoming.topic, partition=incoming.partition
                        )
                        return Finish.REQUEUED
                    if not waiting:
                        self._metrics.waiting.inc()
                        waiting = True
                    # Re-plan at least every poll interval: a fresh verdict may end the wait early.
                    await asyncio.sleep(max(0.0, min(route.at, wait_deadline, now + _WAIT_POLL_SECONDS) - now))
                    continue
                tried = len(attempts)
                finish = await self._try_plan(request, incoming, route, attempts)
                if finish is not None:
                    return finish
                if len(attempts) == tried:
                    await asyncio.sleep(_WAIT_POLL_SECONDS)  # every planned probe was taken by another message
                    continue
                if all(a["outcome"] is Outcome.THROTTLED for a in attempts[tried:]):
                    continue  # every candidate throttled: wait for the earliest Retry-After, like an ejection
                return await self._fail(
                    request, incoming, attempts, FailureReason.ALL_PROVIDERS_FAILED,
                    f"all {len(attempts)} attempts failed",
                )
        finally:
            if waiting:
                self._metrics.waiting.dec()

    async def _try_plan(
        self, request: AnyRequest, incoming: Incoming, plan: routing.Plan, attempts: list[Fields]
    ) -> Finish | None:
        """Try the plan in order; a Finish on SENT or REJECTED, None when every attempt failed over."""
        first, incoming.first = incoming.first, None
        # Only with its own plan: a newer plan may come from newer routing (e.g. rotated credentials).
        prepared = first.send if first is not None and plan is first.plan else None
        for index, planned in enumerate(plan.attempts):
            provider = planned.provider
            if planned.probe:
                if provider.uid in self.probes_in_flight:
                    continue
                self.probes_in_flight.add(provider.uid)
            try:
                attempt, result = await self._attempt(
                    request, provider, probe=planned.probe, prepared=prepared if index == 0 else None
                )
            finally:
                if planned.probe:
                    self.probes_in_flight.discard(provider.uid)
            attempts.append(attempt)
            if result.outcome is Outcome.SUCCESS:
                return await self._finish(
                    request, incoming, attempts, status=DeliveryStatus.SENT, delivered_by=attempt
                )
            if result.outcome is Outcome.REJECTED:
                return await self._fail(
                    request, incoming, attempts, FailureReason.REJECTED, attempt["error"] or "rejected by the provider"
                )
            if index < len(plan.attempts) - 1:
                self._metrics.failovers.labels(request.channel.value, provider.name).inc()
        return None

    async def _fail(
        self, request: AnyRequest, incoming: Incoming, attempts: list[Fields], reason: FailureReason, detail: str
    ) -> Finish:
        return await self._finish(
            request, incoming, attempts, status=DeliveryStatus.FAILED, reason=reason, detail=detail
        )

    async def _finish(
        self,
        request: AnyRequest,
        incoming: Incoming,
        attempts: list[Fields],
        *,
        status: DeliveryStatus,
        delivered_by: Fields | None = None,
        reason: FailureReason | None = None,
        detail: str | None = None,
    ) -> Finish:
        event = {
            "id": request.id,
            "namespace": request.namespace,
            "channel": request.channel,
            "status": status,
            "provider": delivered_by["provider"] if delivered_by else None,
            "provider_uid": delivered_by["provider_uid"] if delivered_by else None,
            "provider_message_id": delivered_by["provider_message_id"] if delivered_by else None,
            "reason": reason,
            "detail": detail[:2048] if detail else None,
            "attempts": attempts,
            "metadata": request.metadata,
            "received_at": incoming.received_at,
            "completed_at": datetime.now(tz=UTC),
        }
        await self._out.terminal(event, source_partition=incoming.partition)
        self._metrics.messages.add((request.channel, status, reason or ""))
        return Finish.EVENT

    async def _attempt(
        self, request: AnyRequest, provider: RoutedProvider, *, probe: bool, prepared: PreparedSend | None
    ) -> tuple[Fields, SendResult]:
        started = self._clock()
        started_monotonic = time.monotonic()
        try:
            if prepared is None:
                prepared = self._prepare_attempt(request, provider)
            # Bounded by the provider's timeout: the HTTP client and the SMTP adapter each enforce it
            # (a second timer here cost ~2% of the worker's CPU, profiled).
            result = await prepared.send()
        except CredentialsUnavailable as exc:
            result = SendResult(outcome=Outcome.FAIL_AUTH, error=str(exc))
        except LookupError as exc:
            result = SendResult(outcome=Outcome.FAIL_PROVIDER, error=f"no adapter: {exc}")
        latency_ms = result.latency_ms or (time.monotonic() - started_monotonic) * 1000.0
        now = self._clock()
        if result.outcome is Outcome.THROTTLED:
            self.throttled_until[provider.uid] = core_health.throttle_deadline(result.retry_after_seconds, now=now)
            self._throttles_version += 1
        self._metrics.sends.add((request.channel, provider.name, result.outcome))
        self._metrics.attempt_latency.observe((request.channel, provider.name), latency_ms / 1000.0)
        latency_ms = round(latency_ms, 3)
        self._out.outcome(
            provider,
            namespace=request.namespace,
            channel=request.channel,
            outcome=result.outcome,
            at=now,
            latency_ms=latency_ms,
            probe=probe,
            retry_after_seconds=result.retry_after_seconds,
        )
        attempt = {
            "provider": provider.name,
            "provider_uid": provider.uid,
            "package": provider.package,
            "outcome": result.outcome,
            "http_status": result.http_status,
            "latency_ms": latency_ms,
            "error": result.error[:1024] if result.error else None,
            "possible_duplicate": result.possible_duplicate,
            "probe": probe,
            "provider_message_id": result.provider_message_id,
            "started_at": datetime.fromtimestamp(started, tz=UTC),
        }
        return attempt, result
