"""The health owner: table value round trip, publish decisions, partition hand-over, held table writes."""

from __future__ import annotations

import random
from sendpipe.core.health import HealthPolicy
from sendpipe.core.messages import ProviderUid
from sendpipe.core.outcomes import Channel, HealthState, Outcome
from sendpipe.core.records import OutcomeBatch
from sendpipe.worker.health_agent import HealthOwner, HeldWrites, WindowDelta, decode_value, encode_value


def _batch(*outcomes: Outcome, uid: str = "u1") -> OutcomeBatch:
    return OutcomeBatch(
        provider_uid=ProviderUid(uid), namespace="acme", channel=Channel.EMAIL, provider="sg",
        outcomes=list(outcomes), at=[1000.0] * len(outcomes), latency_ms=[12.5] * len(outcomes),
    )


def test_first_outcome_and_transitions_are_due_at_once_unchanged_figures_are_not() -> None:
    owner = HealthOwner(policy=HealthPolicy(), rng=random.Random(1))
    owned = owner.adopt(_batch(Outcome.SUCCESS), partition=2)
    assert owner.observe(owned, Outcome.SUCCESS, at=1000.0), "a provider's first verdict goes out at once"
    owner.publish(owned, now=1000.0)
    assert not owner.observe(owned, Outcome.SUCCESS, at=1001.0), "changed figures wait for the publish interval"
    due = [owner.observe(owned, Outcome.FAIL_PROVIDER, at=1002.0 + second) for second in range(5)]
    assert due == [False] * 4 + [True] and owned.health.state is HealthState.UNHEALTHY, "5 failures in a row: at once"
    verdict = owner.publish(owned, now=1007.0)
    assert verdict.state is HealthState.UNHEALTHY and verdict.ejected_until is not None


def test_a_provider_is_adopted_once_and_moves_with_its_partition() -> None:
    owner = HealthOwner(policy=HealthPolicy())
    owned = owner.adopt(_batch(Outcome.SUCCESS), partition=2)
    assert owned.identity.uid == "u1" and owned.identity.name == "sg" and owned.partition == 2
    assert owner.adopt(_batch(Outcome.SUCCESS), partition=3) is owned and owned.partition == 3


def test_table_value_round_trip_keeps_identity_partition_and_state() -> None:
    owner = HealthOwner(policy=HealthPolicy(), rng=random.Random(1))
    owned = owner.adopt(_batch(Outcome.FAIL_AUTH), partition=3)
    owner.observe(owned, Outcome.FAIL_AUTH, at=1000.0)
    decoded = decode_value(encode_value(owned), policy=HealthPolicy())
    assert decoded.partition == 3 and decoded.identity == owned.identity
    assert decoded.health == owned.health


def test_revoked_partitions_are_forgotten_and_restored_ones_loaded() -> None:
    owner = HealthOwner(policy=HealthPolicy())
    a = owner.adopt(_batch(Outcome.SUCCESS, uid="a"), partition=0)
    b = owner.adopt(_batch(Outcome.SUCCESS, uid="b"), partition=1)
    owner.forget_partitions({1})
    assert set(owner.owned) == {"a"}
    other = HealthOwner(policy=HealthPolicy())
    other.load([encode_value(b), b"garbage"])
    assert set(other.owned) == {"b"}


def test_window_delta_aggregates_a_batch() -> None:
    delta = WindowDelta()
    delta.add(_batch(Outcome.SUCCESS, Outcome.FAIL_PROVIDER), event="e1")
    delta.add(_batch(Outcome.FAIL_PROVIDER, Outcome.THROTTLED), event="e2")
    assert delta.sends == 4 and delta.latency_ms == 50.0
    assert delta.failures == {"FAIL_PROVIDER": 2, "THROTTLED": 1}
    assert delta.last_event == "e2"


def test_held_writes_come_due_per_provider_after_the_interval() -> None:
    held = HeldWrites(interval=0.5, window_seconds=60.0)
    held.add(_batch(Outcome.SUCCESS, uid="a"), "ea1", timestamp=1000.0, now=10.0)
    held.add(_batch(Outcome.SUCCESS, uid="b"), "eb1", timestamp=1000.0, now=10.3)
    held.add(_batch(Outcome.FAIL_PROVIDER, uid="a"), "ea2", timestamp=1001.0, now=10.4)
    assert held.take(now=10.4) == ([], []), "nothing is due before its interval"
    providers, figures = held.take(now=10.5)
    assert providers == ["a"] and [(uid, d.sends, d.failures, d.last_event) for uid, d in figures] == [
        ("a", 2, {"FAIL_PROVIDER": 1}, "ea2")
    ]
    assert held.take(now=10.6) == ([], []), "b's interval has not passed"
    providers, figures = held.take(now=10.8)
    assert providers == ["b"] and figures[0][1].sends == 1
    assert held.take(now=99.0) == ([], []), "nothing is held any more"


def test_held_figures_are_split_at_window_boundaries_and_written_oldest_first() -> None:
    held = HeldWrites(interval=0.5, window_seconds=60.0)
    held.add(_batch(Outcome.SUCCESS), "late", timestamp=1260.5, now=0.0)
    held.add(_batch(Outcome.SUCCESS), "early", timestamp=1199.9, now=0.1)
    held.add(_batch(Outcome.SUCCESS), "late2", timestamp=1261.0, now=0.2)
    _, figures = held.take(now=0.0, everything=True)
    assert [(d.sends, d.last_event) for _, d in figures] == [(1, "early"), (2, "late2")]

