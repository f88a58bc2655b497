"""The routing planner: order, skips, probe turns, and the three kinds of result."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sendpipe.core.messages import ProviderUid
from sendpipe.core.outcomes import Channel, HealthState
from sendpipe.core.provider import WindowCounts
from sendpipe.core.records import HealthVerdict, RoutedProvider, RoutingRecord
from sendpipe.core.routing import (
    NoProviderConfigured,
    Plan,
    PlannedAttempt,
    Route,
    RoutingRecordMismatch,
    WaitUntil,
    plan_route,
)

NOW = 1_700_000_000.0


def at(seconds: float) -> datetime:
    return datetime.fromtimestamp(NOW + seconds, tz=UTC)


def provider(name: str, priority: int = 10) -> RoutedProvider:
    return RoutedProvider(
        uid=ProviderUid(f"uid-{name}"), name=name, package="provider-ses", priority=priority,
        sealed_credentials="sealed", timeout_seconds=10,
    )


def record(*providers: RoutedProvider, namespace: str = "acme", channel: Channel = Channel.EMAIL) -> RoutingRecord:
    return RoutingRecord(namespace=namespace, channel=channel, providers=list(providers), published_at=at(-60))


def verdict(
    name: str,
    state: HealthState,
    *,
    ejected_until: datetime | None = None,
    probing: bool = False,
    throttled_until: datetime | None = None,
) -> HealthVerdict:
    return HealthVerdict(
        provider_uid=ProviderUid(f"uid-{name}"), namespace="acme", channel=Channel.EMAIL, provider=name,
        state=state, error_rate=0.0, window=WindowCounts(), consecutive_failures=0, ejected_until=ejected_until,
        probing=probing, throttled_until=throttled_until, observed_at=at(-1),
    )


def route(
    rec: RoutingRecord | None,
    *verdicts: HealthVerdict,
    throttled: dict[str, float] | None = None,
    in_flight: frozenset[str] = frozenset(),
) -> Route:
    return plan_route(
        rec,
        namespace="acme",
        channel=Channel.EMAIL,
        health={v.provider_uid: v for v in verdicts},
        throttled_until={ProviderUid(f"uid-{n}"): t for n, t in (throttled or {}).items()},
        probes_in_flight={ProviderUid(f"uid-{n}") for n in in_flight},
        now=NOW,
    )


def names(result: Route) -> list[str]:
    assert isinstance(result, Plan)
    return [f"{a.provider.name}{'?' if a.probe else ''}" for a in result.attempts]


class TestResults:
    def test_no_record_or_empty_record_is_no_provider_configured(self) -> None:
        assert route(None) == NoProviderConfigured("acme", Channel.EMAIL)
        assert route(record()) == NoProviderConfigured("acme", Channel.EMAIL)

    @pytest.mark.parametrize(("namespace", "channel"), [("globex", Channel.EMAIL), ("acme", Channel.SMS)])
    def test_a_record_of_another_namespace_or_channel_is_refused(self, namespace: str, channel: Channel) -> None:
        with pytest.raises(RoutingRecordMismatch, match="cannot route"):
            route(record(provider("a"), namespace=namespace, channel=channel))

    def test_all_ejected_or_throttled_waits_for_the_earliest_recovery(self) -> None:
        result = route(
            record(provider("a"), provider("b"), provider("c")),
            verdict("a", HealthState.UNHEALTHY, ejected_until=at(30)),
            verdict("b", HealthState.HEALTHY, throttled_until=at(20)),
            throttled={"c": NOW + 12.5},
        )
        assert result == WaitUntil(NOW + 12.5)

    def test_an_ejected_and_throttled_provider_waits_for_both(self) -> None:
        result = route(
            record(provider("a")), verdict("a", HealthState.UNHEALTHY, ejected_until=at(5)), throttled={"a": NOW + 9}
        )
        assert result == WaitUntil(NOW + 9)

    def test_only_probe_in_flight_waits_a_little(self) -> None:
        result = route(record(provider("a")), verdict("a", HealthState.UNHEALTHY, probing=True), in_flight=frozenset({"a"}))
        assert result == WaitUntil(NOW + 1.0)


class TestOrder:
    def test_healthy_and_unknown_by_priority_then_name_then_degraded(self) -> None:
        result = route(
            record(provider("zeta", 5), provider("beta", 20), provider("alpha", 20), provider("gamma", 1),
                   provider("delta", 30)),
            verdict("gamma", HealthState.DEGRADED),
            verdict("alpha", HealthState.HEALTHY),
            verdict("delta", HealthState.UNKNOWN),
        )
        assert names(result) == ["zeta", "alpha", "beta", "delta", "gamma"]

    def test_throttled_and_ejected_are_skipped(self) -> None:
        result = route(
            record(provider("a", 1), provider("b", 2), provider("c", 3), provider("d", 4)),
            verdict("a", HealthState.UNHEALTHY, ejected_until=at(10)),
            verdict("b", HealthState.DEGRADED, throttled_until=at(1)),
            throttled={"c": NOW + 0.5},
        )
        assert names(result) == ["d"]

    def test_a_throttle_deadline_that_has_passed_is_ignored(self) -> None:
        result = route(record(provider("a")), verdict("a", HealthState.HEALTHY, throttled_until=at(0)),
                       throttled={"a": NOW})
        assert names(result) == ["a"]


class TestProbes:
    def test_the_probe_goes_first(self) -> None:
        result = route(
            record(provider("primary", 1), provider("backup", 50)),
            verdict("backup", HealthState.UNHEALTHY, ejected_until=at(-1), probing=True),
        )
        assert names(result) == ["backup?", "primary"]

    def test_an_expired_ejection_is_a_probe_turn_even_before_the_verdict_says_probing(self) -> None:
        result = route(record(provider("a"), provider("b")), verdict("a", HealthState.UNHEALTHY, ejected_until=at(0)))
        assert names(result) == ["a?", "b"]

    def test_one_probe_first_others_last(self) -> None:
        result = route(
            record(provider("a", 1), provider("b", 2), provider("c", 3), provider("d", 4)),
            verdict("c", HealthState.UNHEALTHY, probing=True),
            verdict("a", HealthState.UNHEALTHY, probing=True),
            verdict("b", HealthState.DEGRADED),
        )
        assert names(result) == ["a?", "d", "b", "c?"]

    def test_no_second_probe_while_one_is_in_flight(self) -> None:
        result = route(
            record(provider("a", 1), provider("b", 2)),
            verdict("a", HealthState.UNHEALTHY, probing=True),
            in_flight=frozenset({"a"}),
        )
        assert names(result) == ["b"]

    def test_a_throttled_probing_provider_waits(self) -> None:
        result = route(record(provider("a")), verdict("a", HealthState.UNHEALTHY, probing=True),
                       throttled={"a": NOW + 3})
        assert result == WaitUntil(NOW + 3)

    def test_planned_attempt_defaults_to_not_a_probe(self) -> None:
        assert PlannedAttempt(provider("a")).probe is False
