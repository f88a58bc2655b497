"""Per-call cost of the two hot paths of sendpipe.core: planning a route and one health update.

Run: ``python bench/core_routing_health.py [ITERATIONS]``. Prints p50/p99 per
call (each call timed alone with perf_counter_ns, after a warm-up), against the
targets of issue 3: routing p50 < 20 µs for 10 providers, health p50 < 10 µs.
Figures, not a timed test: the machine is shared, so read them as indicative.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from time import perf_counter_ns

from sendpipe.core.health import ProviderHealth, ProviderIdentity
from sendpipe.core.messages import ProviderUid
from sendpipe.core.outcomes import Channel, HealthState, Outcome
from sendpipe.core.provider import WindowCounts
from sendpipe.core.records import HealthVerdict, RoutedProvider, RoutingRecord
from sendpipe.core.routing import Plan, plan_route

NOW = 1_700_000_000.0


def percentiles(samples: list[int]) -> tuple[float, float]:
    samples.sort()
    return samples[len(samples) // 2] / 1000, samples[int(len(samples) * 0.99)] / 1000


def measure(name: str, call: Callable[[], object], *, iterations: int, target_us: float | None) -> float:
    for _ in range(iterations // 10):
        call()
    samples = []
    for _ in range(iterations):
        start = perf_counter_ns()
        call()
        samples.append(perf_counter_ns() - start)
    p50, p99 = percentiles(samples)
    verdict = "" if target_us is None else f"  target p50 < {target_us:g} µs: {'ok' if p50 < target_us else 'MISSED'}"
    print(f"{name:<48} p50 {p50:7.2f} µs   p99 {p99:7.2f} µs{verdict}")
    return p50


def routing_case() -> Callable[[], object]:
    providers = [
        RoutedProvider(uid=ProviderUid(f"uid-{i}"), name=f"provider-{i}", package="provider-ses",
                       priority=(i * 7) % 5, sealed_credentials="sealed", timeout_seconds=10)
        for i in range(10)
    ]
    record = RoutingRecord(namespace="acme", channel=Channel.EMAIL, providers=providers,
                           published_at=datetime.fromtimestamp(NOW, tz=UTC))
    states = [HealthState.HEALTHY] * 5 + [HealthState.UNKNOWN, HealthState.DEGRADED, HealthState.DEGRADED,
                                          HealthState.UNHEALTHY, HealthState.UNHEALTHY]
    health = {
        p.uid: HealthVerdict(
            provider_uid=p.uid, namespace="acme", channel=Channel.EMAIL, provider=p.name, state=state,
            error_rate=0.01, window=WindowCounts(sends=100, failures=1), consecutive_failures=0,
            ejected_until=datetime.fromtimestamp(NOW + (30 if i == 8 else -1), tz=UTC) if i >= 8 else None,
            probing=i == 9, observed_at=datetime.fromtimestamp(NOW, tz=UTC),
        )
        for i, (p, state) in enumerate(zip(providers, states, strict=True))
    }
    throttled = {ProviderUid("uid-3"): NOW + 2.0}
    in_flight: set[ProviderUid] = set()

    def call() -> object:
        return plan_route(record, namespace="acme", channel=Channel.EMAIL, health=health,
                          throttled_until=throttled, probes_in_flight=in_flight, now=NOW)

    plan = call()
    assert isinstance(plan, Plan) and len(plan.attempts) == 8, plan
    return call


def health_case() -> tuple[Callable[[], object], ProviderHealth]:
    health, rng = ProviderHealth(), random.Random(1)
    outcomes = [Outcome.FAIL_PROVIDER if i % 50 == 0 else Outcome.SUCCESS for i in range(1000)]
    for i in range(200):  # a full window of 100
        health.observe(outcomes[i % 1000], now=NOW + i * 0.05, rng=rng)
    clock = [NOW + 10.0]
    index = [0]

    def call() -> object:
        clock[0] += 0.05
        index[0] += 1
        return health.observe(outcomes[index[0] % 1000], now=clock[0], rng=rng)

    return call, health


def main() -> None:
    iterations = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    print(f"sendpipe.core hot paths, {iterations} timed calls each, Python {sys.version.split()[0]}")
    routing = measure("routing: plan for 10 providers", routing_case(), iterations=iterations, target_us=20)
    update, health = health_case()
    observed = measure("health: one update (full window of 100)", update, iterations=iterations, target_us=10)
    identity = ProviderIdentity(ProviderUid("uid-0"), "acme", Channel.EMAIL, "provider-0")
    measure("health: verdict() (publishing, not per update)", lambda: health.verdict(identity, now=NOW + 1e4),
            iterations=iterations // 10, target_us=None)
    record = health.to_record()
    measure(f"health: to_record() ({len(record)} bytes)", health.to_record, iterations=iterations // 10, target_us=None)
    measure("health: from_record()", lambda: ProviderHealth.from_record(record), iterations=iterations // 10,
            target_us=None)
    print(f"summary: routing p50 {routing:.2f} µs (target 20), health update p50 {observed:.2f} µs (target 10)")


if __name__ == "__main__":
    main()
