"""Routing: the ordered plan of attempts for one message (ARCHITECTURE §5 "Routing").

Why it exists: the worker must never pick a provider of another namespace or
channel, must prefer healthy providers by priority, and must give ejected
providers their probe turn without flooding them. Keeping that decision a pure
function of (routing record, published verdicts, local throttling, probes in
flight, now) makes it exhaustively testable and fast (it runs once per message).

Order of a plan:

1. at most one probe first: the best (priority, name) provider whose ejection
   has ended and whose probe is not already in flight in this worker. Probing
   first means recovery is measured with live traffic even for a backup that
   healthy primaries would otherwise shadow forever; the cost is bounded (one
   message per provider per worker at a time, and a failed probe fails over);
2. healthy and unknown providers by (priority, name);
3. degraded providers by (priority, name);
4. any other probe-eligible providers, as a last resort (each marked probe).

Skipped: ejected providers (``now < ejectedUntil``), throttled ones
(``now < throttledUntil``, the later of the local deadline and the verdict's),
and probing ones whose probe is already in flight here. If every candidate is
skipped the result is ``WaitUntil`` the earliest moment one becomes usable.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Set
from dataclasses import dataclass
from datetime import UTC, datetime
from operator import attrgetter
from typing import TypeAlias

from sendpipe.core.catalog import get_package
from sendpipe.core.messages import ProviderUid
from sendpipe.core.outcomes import Channel, HealthState
from sendpipe.core.provider import ConditionStatus, ConditionType, ProviderResource
from sendpipe.core.records import HealthVerdict, RoutedProvider, RoutingRecord

__all__ = [
    "DEFAULT_PROBE_WAIT_SECONDS",
    "NoProviderConfigured",
    "Plan",
    "PlannedAttempt",
    "Route",
    "RoutingRecordMismatch",
    "WaitUntil",
    "is_ready",
    "plan_route",
    "resource_channel",
    "select_candidates",
]

DEFAULT_PROBE_WAIT_SECONDS = 1.0
"""How long to wait when the only usable providers have a probe in flight in this worker."""


@dataclass(frozen=True, slots=True)
class PlannedAttempt:
    """One provider to try, in order.

    ``probe`` attempts are live sends to a provider whose ejection has ended.
    The worker adds the uid to its probes-in-flight set when it starts such an
    attempt (and removes it when the attempt ends), and skips a probe attempt
    whose uid is already in flight by then (another message took the turn).
    """

    provider: RoutedProvider
    probe: bool = False


@dataclass(frozen=True, slots=True)
class Plan:
    attempts: tuple[PlannedAttempt, ...]


@dataclass(frozen=True, slots=True)
class NoProviderConfigured:
    """No enabled, Ready provider serves (namespace, channel): the message fails at once."""

    namespace: str
    channel: Channel


@dataclass(frozen=True, slots=True)
class WaitUntil:
    """Every candidate is ejected, throttled or being probed: retry at ``at`` (epoch seconds)."""

    at: float


Route: TypeAlias = Plan | NoProviderConfigured | WaitUntil


class RoutingRecordMismatch(ValueError):
    """A routing record of another namespace or channel was passed for a message: a lookup bug."""


_ORDER = attrgetter("priority", "name")
_UNHEALTHY = HealthState.UNHEALTHY
_DEGRADED = HealthState.DEGRADED


def plan_route(
    record: RoutingRecord | None,
    *,
    namespace: str,
    channel: Channel,
    health: Mapping[ProviderUid, HealthVerdict],
    throttled_until: Mapping[ProviderUid, float],
    probes_in_flight: Set[ProviderUid],
    now: float,
    probe_wait_seconds: float = DEFAULT_PROBE_WAIT_SECONDS,
) -> Route:
    """The plan for one message of (namespace, channel) at ``now`` (epoch seconds).

    ``health`` is the published verdicts by provider uid (a provider without a
    verdict is unknown: routed like healthy); ``throttled_until`` is this
    worker's own deadlines from THROTTLED outcomes.
    """
    if record is None or not record.providers:
        return NoProviderConfigured(namespace, channel)
    if record.namespace != namespace or record.channel is not channel:
        raise RoutingRecordMismatch(
            f"routing record {record.key} cannot route a message of {namespace}/{channel.value}"
        )
    now_dt = datetime.fromtimestamp(now, tz=UTC)
    first: list[RoutedProvider] = []
    degraded: list[RoutedProvider] = []
    probes: list[RoutedProvider] = []
    earliest = float("inf")
    for provider in record.providers:
        uid = provider.uid
        throttle = throttled_until.get(uid, 0.0)
        verdict = health.get(uid)
        if verdict is not None:
            if verdict.throttled_until is not None and verdict.throttled_until > now_dt:
                throttle = max(throttle, verdict.throttled_until.timestamp())
            state = verdict.state
            if state is _UNHEALTHY:
                ejected_until = verdict.ejected_until
                if ejected_until is not None and ejected_until > now_dt:
                    earliest = min(earliest, max(ejected_until.timestamp(), throttle))
                elif throttle > now:
                    earliest = min(earliest, throttle)
                elif uid in probes_in_flight:
                    earliest = min(earliest, now + probe_wait_seconds)
                else:
                    probes.append(provider)
                continue
            if throttle > now:
                earliest = min(earliest, throttle)
            elif state is _DEGRADED:
                degraded.append(provider)
            else:
                first.append(provider)
        elif throttle > now:
            earliest = min(earliest, throttle)
        else:
            first.append(provider)

    if not (first or degraded or probes):
        return WaitUntil(earliest)
    attempts: list[PlannedAttempt] = []
    if probes:
        probes.sort(key=_ORDER)
        attempts.append(PlannedAttempt(probes[0], probe=True))
    if len(first) > 1:
        first.sort(key=_ORDER)
    attempts.extend(PlannedAttempt(provider) for provider in first)
    if len(degraded) > 1:
        degraded.sort(key=_ORDER)
    attempts.extend(PlannedAttempt(provider) for provider in degraded)
    attempts.extend(PlannedAttempt(provider, probe=True) for provider in probes[1:])
    return Plan(tuple(attempts))


# -- candidate selection (what the operator publishes) -------------------------------------


def resource_channel(resource: ProviderResource) -> Channel:
    """The channel a Provider serves: its spec's, else its package's."""
    return resource.spec.channel or get_package(resource.spec.package).channel


def is_ready(resource: ProviderResource) -> bool:
    """The Ready condition is True (and, when it says so, about the current generation)."""
    if resource.status is None:
        return False
    generation = resource.metadata.get("generation")
    for condition in resource.status.conditions:
        if condition.type == ConditionType.READY:
            if condition.status is not ConditionStatus.TRUE:
                return False
            observed = condition.observed_generation
            return observed is None or generation is None or observed == generation
    return False


def select_candidates(
    resources: Iterable[ProviderResource], *, namespace: str, channel: Channel
) -> list[ProviderResource]:
    """The routing candidates of (namespace, channel): enabled, Ready, ordered by (priority, name).

    Never a Provider of another namespace or channel; a package whose declared
    channel disagrees with the package's own is not a candidate of either.
    """
    chosen = [
        resource
        for resource in resources
        if resource.metadata.get("namespace") == namespace
        and resource.spec.enabled
        and resource_channel(resource) is channel
        and get_package(resource.spec.package).channel is channel
        and is_ready(resource)
    ]
    chosen.sort(key=lambda resource: (resource.spec.priority, str(resource.metadata.get("name", ""))))
    return chosen
