"""The health state machine, rule by rule, with both sides of every boundary."""

from __future__ import annotations

import random
from collections.abc import Iterable
from datetime import UTC, datetime

import pytest

from sendpipe.core.health import DEFAULT_POLICY, HealthPolicy, Phase, ProviderHealth, ProviderIdentity, throttle_deadline
from sendpipe.core.messages import ProviderUid
from sendpipe.core.outcomes import Channel, HealthState, Outcome
from sendpipe.core.records import OutcomeBatch

S, F = Outcome.SUCCESS, Outcome.FAIL_PROVIDER
T0 = 1_700_000_000.0
IDENTITY = ProviderIdentity(ProviderUid("uid-1"), "acme", Channel.EMAIL, "production-ses")


class EdgeRandom(random.Random):
    """uniform() returns one end of the range: the jitter's lower or upper bound."""

    def __init__(self, upper: bool) -> None:
        super().__init__(0)
        self.upper = upper

    def uniform(self, a: float, b: float) -> float:
        return b if self.upper else a


def feed(health: ProviderHealth, outcomes: Iterable[Outcome], *, start: float = T0, step: float = 0.01) -> float:
    """Observe outcomes ``step`` seconds apart; return the time of the last one."""
    rng = random.Random(7)
    now = start
    for index, outcome in enumerate(outcomes):
        now = start + index * step
        health.observe(outcome, now=now, rng=rng)
    return now


def state_of(health: ProviderHealth) -> HealthState:
    """The state, read afresh (mypy would keep a narrowed ``health.state`` across mutations)."""
    return health.state


def spread(failures: int, total: int) -> list[Outcome]:
    """``total`` outcomes with ``failures`` failures spread evenly (never two in a row below 50%)."""
    return [F if (i + 1) * failures // total > i * failures // total else S for i in range(total)]


# A policy that judges only a full window of 10,000, so rates like 4.99% are exact.
WIDE = HealthPolicy(window_size=10_000, min_samples=10_000, max_consecutive_failures=10_000, max_age_seconds=3600)


class TestMinimumSamples:
    def test_19_samples_are_unknown_even_with_a_high_error_rate(self) -> None:
        health = ProviderHealth()
        feed(health, [F, S] * 9 + [F])  # 10 failures of 19, never 5 in a row
        assert health.samples == 19
        assert health.state is HealthState.UNKNOWN

    def test_the_20th_sample_is_judged(self) -> None:
        health = ProviderHealth()
        feed(health, [S] * 20)
        assert health.state is HealthState.HEALTHY

    def test_unknown_before_any_outcome(self) -> None:
        assert ProviderHealth().state is HealthState.UNKNOWN


class TestErrorRateBoundaries:
    @pytest.mark.parametrize(
        ("failures", "expected"),
        [
            (499, HealthState.HEALTHY),  # 4.99%
            (500, HealthState.DEGRADED),  # 5.00%: degraded is inclusive
            (2500, HealthState.DEGRADED),  # 25.00%: still degraded
            (2501, HealthState.UNHEALTHY),  # 25.01%: unhealthy
        ],
    )
    def test_exact_rates(self, failures: int, expected: HealthState) -> None:
        health = ProviderHealth(WIDE)
        feed(health, spread(failures, 10_000))
        assert health.error_rate == failures / 10_000
        assert health.state is expected

    @pytest.mark.parametrize(
        ("outcomes", "expected"),
        [
            ([F] + [S] * 19, HealthState.DEGRADED),  # 1/20 = 5%
            ([S] * 20, HealthState.HEALTHY),
            (spread(5, 20), HealthState.DEGRADED),  # 25%
            (spread(6, 20), HealthState.UNHEALTHY),  # 30%
        ],
    )
    def test_default_policy(self, outcomes: list[Outcome], expected: HealthState) -> None:
        health = ProviderHealth()
        feed(health, outcomes)
        assert health.state is expected

    def test_unhealthy_by_rate_ejects(self) -> None:
        health = ProviderHealth()
        feed(health, spread(6, 20))
        assert health.phase is Phase.EJECTED
        assert health.ejections == 1


class TestHysteresis:
    def degraded_at_five_percent(self) -> ProviderHealth:
        # 200 leading failures, then one failure and 299 more spread over the rest: 500/10,000.
        health = ProviderHealth(WIDE)
        feed(health, [F] * 200 + [F] + spread(299, 9_799))
        assert health.state is HealthState.DEGRADED
        return health

    def test_exactly_three_percent_stays_degraded(self) -> None:
        health = self.degraded_at_five_percent()
        feed(health, [S] * 200, start=T0 + 200)
        assert health.failures == 300
        assert health.state is HealthState.DEGRADED

    def test_below_three_percent_becomes_healthy(self) -> None:
        health = self.degraded_at_five_percent()
        feed(health, [S] * 201, start=T0 + 200)
        assert health.failures == 299
        assert health.state is HealthState.HEALTHY

    def test_between_three_and_five_percent_a_healthy_one_stays_healthy(self) -> None:
        health = ProviderHealth(WIDE)
        feed(health, spread(400, 10_000))
        assert health.state is HealthState.HEALTHY


class TestConsecutiveFailures:
    def test_four_in_a_row_is_not_yet_unhealthy(self) -> None:
        health = ProviderHealth()
        feed(health, [S] * 30 + [F] * 4)
        assert health.state is HealthState.DEGRADED  # 4/34
        assert health.consecutive_failures == 4

    def test_the_fifth_in_a_row_ejects_even_below_min_samples(self) -> None:
        health = ProviderHealth()
        feed(health, [F] * 4)
        assert health.state is HealthState.UNKNOWN
        feed(health, [F], start=T0 + 1)
        assert state_of(health) is HealthState.UNHEALTHY
        assert health.phase is Phase.EJECTED

    def test_a_success_resets_the_streak(self) -> None:
        health = ProviderHealth()
        feed(health, [F] * 4 + [S] + [F] * 4)
        assert health.consecutive_failures == 4
        assert health.state is HealthState.UNKNOWN

    def test_rejected_and_throttled_do_not_break_a_streak(self) -> None:
        health = ProviderHealth()
        feed(health, [F, F, Outcome.REJECTED, F, Outcome.THROTTLED, F])
        assert health.consecutive_failures == 4


def eject(health: ProviderHealth, *, at: float, rng: random.Random | None = None) -> float:
    for _ in range(DEFAULT_POLICY.max_consecutive_failures):
        health.observe(F, now=at, rng=rng or random.Random(1))
    assert health.phase is Phase.EJECTED
    assert health.ejected_until is not None
    return health.ejected_until


class TestEjection:
    @pytest.mark.parametrize(("k", "base"), [(1, 30.0), (2, 60.0), (5, 150.0), (10, 300.0), (11, 300.0)])
    @pytest.mark.parametrize("upper", [False, True])
    def test_duration_is_30s_times_k_capped_with_10_percent_jitter(self, k: int, base: float, upper: bool) -> None:
        health = ProviderHealth()
        rng = EdgeRandom(upper)
        now = T0
        until = eject(health, at=now, rng=rng)
        for _ in range(k - 1):  # each failed probe ejects again with k + 1
            now = until
            health.observe(F, now=now, rng=rng)
            assert health.ejected_until is not None
            until = health.ejected_until
        assert health.ejections == k
        expected = base * (1.1 if upper else 0.9)
        assert until - now == pytest.approx(expected)

    def test_jitter_stays_within_bounds_for_any_seed(self) -> None:
        for seed in range(200):
            health = ProviderHealth()
            until = eject(health, at=T0, rng=random.Random(seed))
            assert 27.0 <= until - T0 <= 33.0

    def test_counted_outcomes_during_ejection_are_ignored(self) -> None:
        health = ProviderHealth()
        until = eject(health, at=T0)
        before = health.to_record()
        health.observe(S, now=T0 + 1, rng=random.Random(0))
        health.observe(F, now=T0 + 2, rng=random.Random(0))
        assert health.ejected_until == until
        assert health.samples == ProviderHealth.from_record(before).samples

    def test_probing_starts_exactly_at_ejected_until(self) -> None:
        health = ProviderHealth()
        until = eject(health, at=T0)
        assert not health.tick(now=until - 0.001, rng=random.Random(0))
        assert not health.is_probing(until - 0.001)
        assert health.tick(now=until, rng=random.Random(0))  # a verdict change: probing
        assert health.phase is Phase.PROBING
        assert health.state is HealthState.UNHEALTHY


class TestProbing:
    def probing(self) -> tuple[ProviderHealth, float]:
        health = ProviderHealth()
        until = eject(health, at=T0)
        health.tick(now=until, rng=random.Random(0))
        return health, until

    def test_the_third_probe_success_recovers_and_clears_the_window(self) -> None:
        health, until = self.probing()
        assert not health.observe(S, now=until + 1, rng=random.Random(0))
        assert not health.observe(S, now=until + 2, rng=random.Random(0))
        assert health.state is HealthState.UNHEALTHY and health.probe_successes == 2
        assert health.observe(S, now=until + 3, rng=random.Random(0))
        assert state_of(health) is HealthState.HEALTHY
        assert health.phase is Phase.ACTIVE
        assert (health.samples, health.failures, health.consecutive_failures, health.ejections) == (0, 0, 0, 0)
        assert health.ejected_until is None

    def test_a_recovered_provider_stays_healthy_until_judged_on_a_full_minimum(self) -> None:
        health, until = self.probing()
        feed(health, [S, S, S], start=until + 1)
        feed(health, [S] * 10 + [F] * 4 + [S] * 5, start=until + 10)  # 19 samples, 4 failures
        assert health.state is HealthState.HEALTHY
        feed(health, [S], start=until + 20)  # 20th sample: 4/20 = 20%
        assert state_of(health) is HealthState.DEGRADED

    def test_a_failed_probe_ejects_again_with_k_plus_one(self) -> None:
        health, until = self.probing()
        health.observe(S, now=until + 1, rng=random.Random(0))
        assert health.observe(Outcome.FAIL_NETWORK, now=until + 2, rng=EdgeRandom(upper=False))
        assert health.phase is Phase.EJECTED
        assert health.ejections == 2
        assert health.ejected_until == pytest.approx(until + 2 + 54.0)

    def test_rejected_during_probing_is_neither_success_nor_failure(self) -> None:
        health, until = self.probing()
        health.observe(Outcome.REJECTED, now=until + 1, rng=random.Random(0))
        assert health.phase is Phase.PROBING and health.probe_successes == 0


class TestExpiry:
    def test_an_entry_exactly_300s_old_is_kept_and_an_older_one_dropped(self) -> None:
        health = ProviderHealth()
        feed(health, [S] * 20, step=0.0)
        health.tick(now=T0 + 300.0, rng=random.Random(0))
        assert health.samples == 20
        assert health.tick(now=T0 + 300.001, rng=random.Random(0))  # healthy -> unknown
        assert health.samples == 0
        assert health.state is HealthState.UNKNOWN

    def test_window_keeps_the_last_100(self) -> None:
        health = ProviderHealth()
        feed(health, [F] + [S] * 100)
        assert (health.samples, health.failures) == (100, 0)

    def test_time_never_runs_backwards(self) -> None:
        health = ProviderHealth()
        health.observe(S, now=T0 + 10, rng=random.Random(0))
        health.observe(S, now=T0, rng=random.Random(0))
        health.tick(now=T0 + 310.0, rng=random.Random(0))
        assert health.samples == 2


class TestThrottling:
    @pytest.mark.parametrize(("retry_after", "pause"), [(None, 1.0), (5.0, 5.0), (60.0, 60.0), (600.0, 60.0), (-3, 0.0)])
    def test_retry_after_is_capped(self, retry_after: float | None, pause: float) -> None:
        assert throttle_deadline(retry_after, now=T0) == T0 + pause
        health = ProviderHealth()
        health.observe(Outcome.THROTTLED, now=T0, rng=random.Random(0), retry_after=retry_after)
        assert health.throttled_until == T0 + pause

    def test_throttled_is_exclusive_of_its_deadline_and_never_shortened(self) -> None:
        health = ProviderHealth()
        health.observe(Outcome.THROTTLED, now=T0, rng=random.Random(0), retry_after=30)
        health.observe(Outcome.THROTTLED, now=T0 + 1, rng=random.Random(0), retry_after=1)
        assert health.is_throttled(T0 + 29.999)
        assert not health.is_throttled(T0 + 30)

    @pytest.mark.parametrize("outcome", [Outcome.THROTTLED, Outcome.REJECTED])
    def test_uncounted_outcomes_change_no_figures(self, outcome: Outcome) -> None:
        health = ProviderHealth()
        feed(health, spread(3, 40))
        figures = (health.state, health.error_rate, health.samples, health.consecutive_failures)
        changed = health.observe(outcome, now=T0 + 1, rng=random.Random(0))
        assert not changed
        assert (health.state, health.error_rate, health.samples, health.consecutive_failures) == figures


class TestPublishing:
    def test_first_publish_transitions_at_once_figures_every_10s(self) -> None:
        health = ProviderHealth()
        assert health.should_publish(T0)
        health.mark_published(T0)
        assert not health.should_publish(T0 + 100)  # nothing changed
        health.observe(S, now=T0 + 1, rng=random.Random(0))
        assert not health.should_publish(T0 + 9.999)
        assert health.should_publish(T0 + 10.0)
        health.mark_published(T0 + 10)
        feed(health, [F] * 5, start=T0 + 11)  # a transition
        assert health.should_publish(T0 + 11.1)

    def test_observe_reports_verdict_changes_only(self) -> None:
        health = ProviderHealth()
        changes = [health.observe(S, now=T0 + i, rng=random.Random(0)) for i in range(21)]
        assert changes == [False] * 19 + [True, False]  # unknown -> healthy at the 20th


class TestVerdict:
    def test_fields(self) -> None:
        health = ProviderHealth()
        feed(health, [S] * 19 + [F], step=1.0)
        verdict = health.verdict(IDENTITY, now=T0 + 20)
        assert verdict.provider_uid == "uid-1" and verdict.provider == "production-ses"
        assert verdict.state is HealthState.DEGRADED
        assert verdict.error_rate == 0.05
        assert (verdict.window.sends, verdict.window.failures) == (20, 1)
        assert verdict.consecutive_failures == 1
        assert verdict.last_transition_time == datetime.fromtimestamp(T0 + 19, tz=UTC)
        assert verdict.observed_at == datetime.fromtimestamp(T0 + 20, tz=UTC)
        assert not verdict.probing and verdict.ejected_until is None and verdict.throttled_until is None
        assert "5.0%" in verdict.reason

    def test_ejected_then_probing(self) -> None:
        health = ProviderHealth()
        until = eject(health, at=T0)
        ejected = health.verdict(IDENTITY, now=T0 + 1)
        assert ejected.state is HealthState.UNHEALTHY and not ejected.probing
        assert ejected.ejected_until == datetime.fromtimestamp(until, tz=UTC)
        assert "5 consecutive failures" in ejected.reason
        assert health.verdict(IDENTITY, now=until).probing  # even before a tick

    def test_throttled_until_while_in_the_future(self) -> None:
        health = ProviderHealth()
        health.observe(Outcome.THROTTLED, now=T0, rng=random.Random(0), retry_after=5)
        assert health.verdict(IDENTITY, now=T0 + 1).throttled_until == datetime.fromtimestamp(T0 + 5, tz=UTC)
        assert health.verdict(IDENTITY, now=T0 + 5).throttled_until is None

    def test_identity_of_an_outcome_batch(self) -> None:
        batch = OutcomeBatch(
            provider_uid=ProviderUid("uid-1"), namespace="acme", channel=Channel.EMAIL, provider="production-ses",
            outcomes=[Outcome.SUCCESS], at=[T0], latency_ms=[3.0],
        )
        assert ProviderIdentity.of(batch) == IDENTITY


class TestRecord:
    def test_round_trip_preserves_state(self) -> None:
        health = ProviderHealth()
        feed(health, spread(10, 100), step=0.123)
        eject(health, at=T0 + 20)
        health.observe(Outcome.THROTTLED, now=T0 + 21, rng=random.Random(0), retry_after=3)
        health.mark_published(T0 + 21)
        copy = ProviderHealth.from_record(health.to_record())
        assert copy == health
        assert repr(copy) == repr(health)
        assert (copy.error_rate, copy.throttled_until, copy.ejected_until) == (
            health.error_rate, health.throttled_until, health.ejected_until,
        )

    def test_a_full_window_is_compact(self) -> None:
        health = ProviderHealth()
        feed(health, spread(3, 100))
        assert len(health.to_record()) < 520

    def test_a_smaller_window_keeps_the_newest_entries(self) -> None:
        health = ProviderHealth()
        feed(health, [F] * 2 + [S] * 2 + [F] + [S] * 20)
        copy = ProviderHealth.from_record(health.to_record(), policy=HealthPolicy(window_size=21, min_samples=20))
        assert (copy.samples, copy.failures) == (21, 1)

    @pytest.mark.parametrize("data", [b"", b"\x02" + bytes(80), ProviderHealth().to_record() + b"\x00"])
    def test_rejects_garbage(self, data: bytes) -> None:
        with pytest.raises(ValueError):
            ProviderHealth.from_record(data)


class TestPolicy:
    @pytest.mark.parametrize(
        "changes",
        [
            {"min_samples": 0},
            {"min_samples": 200},
            {"recover_below": 0.06},
            {"unhealthy_above": 1.0},
            {"ejection_jitter": 1.0},
            {"probe_successes": 0},
            {"ejection_base_seconds": 0},
            {"throttle_cap_seconds": -1},
        ],
    )
    def test_rejects_inconsistent_settings(self, changes: dict[str, float]) -> None:
        with pytest.raises(ValueError):
            HealthPolicy(**changes)  # type: ignore[arg-type]

    def test_defaults_are_the_architecture_numbers(self) -> None:
        policy = DEFAULT_POLICY
        assert (policy.window_size, policy.max_age_seconds, policy.min_samples) == (100, 300.0, 20)
        assert (policy.degraded_at, policy.unhealthy_above, policy.recover_below) == (0.05, 0.25, 0.03)
        assert (policy.max_consecutive_failures, policy.probe_successes) == (5, 3)
        assert (policy.ejection_base_seconds, policy.ejection_cap_seconds, policy.ejection_jitter) == (30.0, 300.0, 0.1)
        assert policy.publish_interval_seconds == 10.0
