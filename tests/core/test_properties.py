"""Property-based tests (hypothesis) of routing and health: invariants over random inputs."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

from hypothesis import event, given, settings
from hypothesis import strategies as st

from sendpipe.core.catalog import CATALOG, get_package
from sendpipe.core.health import HealthPolicy, Phase, ProviderHealth, ProviderIdentity
from sendpipe.core.messages import ProviderUid
from sendpipe.core.outcomes import Channel, HealthState, Outcome
from sendpipe.core.provider import ProviderResource, WindowCounts
from sendpipe.core.records import HealthVerdict, RoutedProvider, RoutingRecord
from sendpipe.core.routing import NoProviderConfigured, Plan, WaitUntil, plan_route, select_candidates

NOW = 1_700_000_000.0
NAMESPACES = ("acme", "globex")
settings.register_profile("sendpipe", max_examples=150, deadline=None)
settings.load_profile("sendpipe")


def utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)


@st.composite
def resources(draw: st.DrawFn, namespace: str, channel: Channel) -> list[ProviderResource]:
    """Providers of many namespaces and channels, most of them of the target (namespace, channel)."""
    count = draw(st.integers(min_value=0, max_value=12) | st.integers(min_value=8, max_value=12))
    out = []
    own = sorted(name for name, info in CATALOG.items() if info.channel is channel)
    for index in range(count):
        package = draw(st.sampled_from(own) if draw(st.integers(0, 3)) else st.sampled_from(sorted(CATALOG)))
        ready = draw(st.sampled_from(["True"] * 6 + ["False", "Unknown", None]))
        conditions = [] if ready is None else [
            {"type": "Ready", "status": ready, "reason": "Checked", "lastTransitionTime": "2026-01-01T00:00:00Z"}
        ]
        spec: dict[str, Any] = {
            "package": package,
            "priority": draw(st.integers(min_value=0, max_value=3)),
            "enabled": draw(st.integers(0, 4)) > 0,
            "credentialsSecretRef": {"name": "creds"},
        }
        if draw(st.booleans()):
            spec["channel"] = draw(st.sampled_from([get_package(package).channel, *Channel]))
        out.append(ProviderResource.model_validate({
            "metadata": {"name": f"p{draw(st.integers(0, 9))}-{index}", "namespace": draw(st.sampled_from([namespace, namespace, *NAMESPACES])),
                         "uid": f"uid-{index}"},
            "spec": spec,
            "status": {"conditions": conditions},
        }))
    return out


def verdicts(uids: list[str]) -> st.SearchStrategy[dict[ProviderUid, HealthVerdict]]:
    offset = st.one_of(st.none(), st.floats(min_value=-100, max_value=100))

    def build(entries: list[tuple[str, HealthState, float | None, bool, float | None]]) -> dict[ProviderUid, HealthVerdict]:
        return {
            ProviderUid(uid): HealthVerdict(
                provider_uid=ProviderUid(uid), namespace="acme", channel=Channel.EMAIL, provider=uid, state=state,
                error_rate=0.0, window=WindowCounts(), consecutive_failures=0,
                ejected_until=None if ejected is None else utc(NOW + ejected), probing=probing,
                throttled_until=None if throttled is None else utc(NOW + throttled), observed_at=utc(NOW),
            )
            for uid, state, ejected, probing, throttled in entries
        }

    entry = st.tuples(st.sampled_from(uids), st.sampled_from(list(HealthState)), offset, st.booleans(), offset)
    return st.lists(entry, max_size=len(uids)).map(build) if uids else st.just({})


@given(data=st.data(), namespace=st.sampled_from(NAMESPACES), channel=st.sampled_from(list(Channel)))
def test_plans_respect_namespace_channel_readiness_and_order(
    data: st.DataObject, namespace: str, channel: Channel
) -> None:
    everything = data.draw(resources(namespace, channel))
    chosen = select_candidates(everything, namespace=namespace, channel=channel)
    by_uid = {str(r.metadata["uid"]): r for r in everything}
    record = RoutingRecord(namespace=namespace, channel=channel, published_at=utc(NOW), providers=[
        RoutedProvider(uid=ProviderUid(str(r.metadata["uid"])), name=str(r.metadata["name"]), package=r.spec.package,
                       priority=r.spec.priority, sealed_credentials="x", timeout_seconds=5)
        for r in chosen
    ])
    uids = [str(r.metadata["uid"]) for r in everything]
    health = data.draw(verdicts(uids))
    throttled = data.draw(st.dictionaries(st.sampled_from(uids), st.floats(-50, 50)) if uids else st.just({}))
    throttled_until = {ProviderUid(u): NOW + t for u, t in throttled.items()}
    in_flight = data.draw(st.frozensets(st.sampled_from(uids)) if uids else st.just(frozenset()))

    result = plan_route(record, namespace=namespace, channel=channel, health=health,
                        throttled_until=throttled_until, probes_in_flight={ProviderUid(u) for u in in_flight}, now=NOW)
    event(f"{type(result).__name__} of {min(len(chosen), 3)}+ candidates")

    def throttle(uid: str) -> float:
        deadline = throttled_until.get(ProviderUid(uid), 0.0)
        v = health.get(ProviderUid(uid))
        if v is not None and v.throttled_until is not None:
            deadline = max(deadline, v.throttled_until.timestamp())
        return deadline

    def usable(uid: str) -> bool:
        v = health.get(ProviderUid(uid))
        if throttle(uid) > NOW:
            return False
        if v is not None and v.state is HealthState.UNHEALTHY:
            ejected = v.ejected_until is not None and v.ejected_until.timestamp() > NOW
            return not ejected and uid not in in_flight
        return True

    if not chosen:
        assert result == NoProviderConfigured(namespace, channel)
        return
    if isinstance(result, WaitUntil):
        assert result.at > NOW
        assert not any(usable(str(r.metadata["uid"])) for r in chosen)
        return
    assert isinstance(result, Plan)
    planned = [str(a.provider.uid) for a in result.attempts]
    assert len(planned) == len(set(planned))
    assert set(planned) == {str(r.metadata["uid"]) for r in chosen if usable(str(r.metadata["uid"]))}
    for attempt in result.attempts:
        resource = by_uid[str(attempt.provider.uid)]
        assert resource.metadata["namespace"] == namespace
        assert get_package(resource.spec.package).channel is channel
        assert resource.spec.channel in (None, channel)
        assert resource.spec.enabled
        assert resource.status is not None
        assert [c.status.value for c in resource.status.conditions if c.type == "Ready"] == ["True"]
        v = health.get(attempt.provider.uid)
        assert attempt.probe == (v is not None and v.state is HealthState.UNHEALTHY)
    # Tiers: [probe], healthy/unknown, degraded, [probes]; each tier ordered by (priority, name).
    middle = [a for a in result.attempts if not a.probe]
    probes = [i for i, a in enumerate(result.attempts) if a.probe]
    assert all(i == 0 or i >= len(middle) + (1 if probes and probes[0] == 0 else 0) for i in probes)

    def tier(uid: ProviderUid) -> int:
        v = health.get(uid)
        return 1 if v is not None and v.state is HealthState.DEGRADED else 0

    keys = [(tier(a.provider.uid), a.provider.priority, a.provider.name) for a in middle]
    assert keys == sorted(keys)
    if result.attempts[0].probe is False:
        first = health.get(result.attempts[0].provider.uid)
        assert first is None or first.state is not HealthState.UNHEALTHY


# -- health ------------------------------------------------------------------------------

OUTCOMES = st.lists(
    st.tuples(st.sampled_from(list(Outcome)), st.floats(min_value=0, max_value=40), st.one_of(st.none(), st.floats(0, 90))),
    max_size=150,
)
SMALL = HealthPolicy(window_size=30, min_samples=10, max_age_seconds=120, ejection_base_seconds=5)


def replay(outcomes: list[tuple[Outcome, float, float | None]], seed: int, policy: HealthPolicy) -> list[Any]:
    health, rng, now, trace = ProviderHealth(policy), random.Random(seed), NOW, []
    identity = ProviderIdentity(ProviderUid("u"), "acme", Channel.SMS, "p")
    for outcome, step, retry_after in outcomes:
        now += step
        changed = health.observe(outcome, now=now, rng=rng, retry_after=retry_after)
        trace.append((changed, health.verdict(identity, now=now).to_json_bytes()))
    return trace


@given(outcomes=OUTCOMES, seed=st.integers(0, 2**32), policy=st.sampled_from([SMALL, HealthPolicy()]))
def test_replaying_the_same_outcomes_gives_the_same_verdicts(
    outcomes: list[tuple[Outcome, float, float | None]], seed: int, policy: HealthPolicy
) -> None:
    assert replay(outcomes, seed, policy) == replay(outcomes, seed, policy)


@given(outcomes=OUTCOMES, seed=st.integers(0, 2**32), extra=st.sampled_from([Outcome.REJECTED, Outcome.THROTTLED]))
def test_rejected_and_throttled_never_change_the_error_rate(
    outcomes: list[tuple[Outcome, float, float | None]], seed: int, extra: Outcome
) -> None:
    health, rng, now = ProviderHealth(SMALL), random.Random(seed), NOW
    for outcome, step, retry_after in outcomes:
        now += step
        health.observe(outcome, now=now, rng=rng, retry_after=retry_after)
        before = (health.error_rate, health.samples, health.failures, health.state, health.phase,
                  health.consecutive_failures, health.ejected_until)
        assert not health.observe(extra, now=now, rng=rng, retry_after=retry_after)
        after = (health.error_rate, health.samples, health.failures, health.state, health.phase,
                 health.consecutive_failures, health.ejected_until)
        assert after == before


@given(outcomes=OUTCOMES, seed=st.integers(0, 2**32), cut=st.integers(0, 150))
def test_record_round_trip_preserves_state_and_future(
    outcomes: list[tuple[Outcome, float, float | None]], seed: int, cut: int
) -> None:
    original, now = ProviderHealth(SMALL), NOW
    rng = random.Random(seed)
    for outcome, step, retry_after in outcomes[:cut]:
        now += step
        original.observe(outcome, now=now, rng=rng, retry_after=retry_after)
    copy = ProviderHealth.from_record(original.to_record(), policy=SMALL)
    assert copy == original
    rng_a, rng_b = random.Random(seed + 1), random.Random(seed + 1)
    for outcome, step, retry_after in outcomes[cut:]:
        now += step
        assert original.observe(outcome, now=now, rng=rng_a, retry_after=retry_after) == copy.observe(
            outcome, now=now, rng=rng_b, retry_after=retry_after
        )
    assert copy == original


@given(outcomes=OUTCOMES, seed=st.integers(0, 2**32))
def test_invariants_hold_after_every_update(outcomes: list[tuple[Outcome, float, float | None]], seed: int) -> None:
    health, rng, now = ProviderHealth(SMALL), random.Random(seed), NOW
    for outcome, step, retry_after in outcomes:
        now += step
        ejections = health.ejections
        health.observe(outcome, now=now, rng=rng, retry_after=retry_after)
        assert 0 <= health.failures <= health.samples <= SMALL.window_size
        assert 0.0 <= health.error_rate <= 1.0
        assert (health.state is HealthState.UNHEALTHY) == (health.phase is not Phase.ACTIVE)
        if health.ejections > ejections:
            assert health.ejected_until is not None
            duration = min(SMALL.ejection_base_seconds * health.ejections, SMALL.ejection_cap_seconds)
            assert duration * 0.9 <= health.ejected_until - now <= duration * 1.1
