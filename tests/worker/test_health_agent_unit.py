"""The health owner: table value round trip, publish decisions, partition hand-over, held table writes."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from sendpipe.core.health import HealthPolicy
from sendpipe.core.messages import ProviderUid
from sendpipe.core.outcomes import Channel, HealthState, Outcome
from sendpipe.core.records import OutcomeRecord
from sendpipe.worker.health_agent import HealthOwner, HeldWrites, WindowDelta, decode_value, encode_value


def _record(outcome: Outcome, at: float, uid: str = "u1") -> OutcomeRecord:
    return OutcomeRecord(
        provider_uid=ProviderUid(uid), namespace="acme", channel=Channel.EMAIL, provider="sg",
        outcome=outcome, at=datetime.fromtimestamp(at, tz=UTC), latency_ms=12.5,
    )


def test_first_outcome_and_transitions_are_due_at_once_unchanged_figures_are_not() -> None:
    owner = HealthOwner(policy=HealthPolicy(), rng=random.Random(1))
    owned, due = owner.observe(_record(Outcome.SUCCESS, 1000.0), partition=2)
    assert due, "a provider's first verdict goes out at once"
    owner.publish(owned, now=1000.0)
    _, due = owner.observe(_record(Outcome.SUCCESS, 1001.0), partition=2)
    assert not due, "changed figures wait for the publish interval"
    for second in range(5):
        owned, due = owner.observe(_record(Outcome.FAIL_PROVIDER, 1002.0 + second), partition=2)
    assert due and owned.health.state is HealthState.UNHEALTHY, "5 consecutive failures: published at once"
    verdict = owner.publish(owned, now=1007.0)
    assert verdict.state is HealthState.UNHEALTHY and verdict.ejected_until is not None


def test_table_value_round_trip_keeps_identity_partition_and_state() -> None:
    owner = HealthOwner(policy=HealthPolicy(), rng=random.Random(1))
    owned, _ = owner.observe(_record(Outcome.FAIL_AUTH, 1000.0), partition=3)
    decoded = decode_value(encode_value(owned), policy=HealthPolicy())
    assert decoded.partition == 3 and decoded.identity == owned.identity
    assert decoded.health == owned.health


def test_revoked_partitions_are_forgotten_and_restored_ones_loaded() -> None:
    owner = HealthOwner(policy=HealthPolicy())
    a, _ = owner.observe(_record(Outcome.SUCCESS, 1.0, uid="a"), partition=0)
    b, _ = owner.observe(_record(Outcome.SUCCESS, 1.0, uid="b"), partition=1)
    owner.forget_partitions({1})
    assert set(owner.owned) == {"a"}
    other = HealthOwner(policy=HealthPolicy())
    other.load([encode_value(b), b"garbage"])
    assert set(other.owned) == {"b"}


def test_window_delta_aggregates_a_batch() -> None:
    delta = WindowDelta()
    for outcome in (Outcome.SUCCESS, Outcome.FAIL_PROVIDER, Outcome.FAIL_PROVIDER, Outcome.THROTTLED):
        delta.add(_record(outcome, 1.0), event=outcome)
    assert delta.sends == 4 and delta.latency_ms == 50.0
    assert delta.failures == {"FAIL_PROVIDER": 2, "THROTTLED": 1}
    assert delta.last_event is Outcome.THROTTLED


def test_held_writes_come_due_per_provider_after_the_interval() -> None:
    held = HeldWrites(interval=0.5, window_seconds=60.0)
    held.add([_record(Outcome.SUCCESS, 1.0, uid="a")], "ea1", timestamp=1000.0, now=10.0)
    held.add([_record(Outcome.SUCCESS, 1.0, uid="b")], "eb1", timestamp=1000.0, now=10.3)
    held.add([_record(Outcome.FAIL_PROVIDER, 1.0, uid="a")], "ea2", timestamp=1001.0, now=10.4)
    assert held.take(now=10.4) == ([], []), "nothing is due before its interval"
    providers, figures = held.take(now=10.5)
    assert providers == ["a"] and [(uid, d.sends, d.failures, d.last_event) for uid, d in figures] == [
        ("a", 2, {"FAIL_PROVIDER": 1}, "ea2")
    ]
    assert held.take(now=10.6) == ([], []), "b's interval has not passed"
    providers, figures = held.take(now=10.8)
    assert providers == ["b"] and figures[0][1].sends == 1
    assert held.take(now=99.0) == ([], []), "nothing is held any more"


def test_held_writes_of_one_kafka_record_with_several_providers_go_to_each() -> None:
    held = HeldWrites(interval=0.5, window_seconds=60.0)
    records = [_record(Outcome.SUCCESS, 1.0, uid="a"), _record(Outcome.THROTTLED, 1.0, uid="b"), _record(Outcome.SUCCESS, 1.0, uid="a")]
    held.add(records, "e1", timestamp=1000.0, now=0.0)
    providers, figures = held.take(now=1.0)
    assert providers == ["a", "b"]
    assert [(uid, d.sends, d.latency_ms, d.failures) for uid, d in figures] == [
        ("a", 2, 25.0, {}), ("b", 1, 12.5, {"THROTTLED": 1})
    ]


def test_held_figures_are_split_at_window_boundaries_and_written_oldest_first() -> None:
    held = HeldWrites(interval=0.5, window_seconds=60.0)
    held.add([_record(Outcome.SUCCESS, 1.0)], "late", timestamp=1260.5, now=0.0)
    held.add([_record(Outcome.SUCCESS, 1.0)], "early", timestamp=1199.9, now=0.1)
    held.add([_record(Outcome.SUCCESS, 1.0)], "late2", timestamp=1261.0, now=0.2)
    _, figures = held.take(now=0.0, everything=True)
    assert [(d.sends, d.last_event) for _, d in figures] == [(1, "early"), (2, "late2")]

