"""Kill -9 a worker while 10,000 messages flow, restart it: exactly one terminal event per message, none lost."""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter
from collections.abc import AsyncIterator

import pytest

from sendpipe.core.outcomes import DeliveryStatus
from sendpipe.simulator.server import Simulator
from tests.worker.harness import Bench, Events, produce_steadily

TOTAL = 10_000
RATE_PER_SECOND = 2_000
KILL_AFTER_EVENTS = 3_000


@pytest.fixture
async def big_sim() -> AsyncIterator[Simulator]:
    simulator = Simulator(smtp=False, record_limit=3 * TOTAL)
    await simulator.start()
    yield simulator
    await simulator.stop()


@pytest.mark.slow
async def test_kill_9_mid_stream_loses_nothing_and_emits_one_event_each(bench: Bench, big_sim: Simulator, worker_factory) -> None:
    sim = big_sim
    settings = {"session_timeout_seconds": 6, "max_in_flight": 200}
    w1, w2 = worker_factory("w1", **settings), worker_factory("w2", **settings)
    await asyncio.gather(w1.wait_ready(timeout=90), w2.wait_ready(timeout=90))
    ns = "kill"
    await bench.publish_routing(
        ns,
        "email",
        [
            bench.provider(sim, "provider-sendgrid", name="primary", priority=1, timeout=5),
            bench.provider(sim, "provider-mailgun", name="secondary", priority=2, timeout=5),
        ],
    )
    sim.set_fault("provider-sendgrid", latency_ms=5, latency_max_ms=30)
    ids = [f"{ns}-{i:05d}" for i in range(TOTAL)]

    async with Events(bench.bootstrap, bench.topics.events) as events:
        producing = asyncio.create_task(produce_steadily(bench, ids, ns, rate=RATE_PER_SECOND))
        await events.until(lambda: len(events.records) >= KILL_AFTER_EVENTS, timeout=120, what="events before the kill")
        w1.kill()  # SIGKILL: no shutdown, no commit
        killed_at = len(events.records)
        await asyncio.sleep(1.0)
        w1_again = worker_factory("w1-restarted", **settings)
        await producing
        try:
            await events.until(lambda: {r.key.decode() for r in events.records} >= set(ids), timeout=240, what="all events")
        except AssertionError as exc:
            missing = sorted(set(ids) - {r.key.decode() for r in events.records})
            states = {w.log_path.name: w.json("/stats") for w in (w2, w1_again) if w.proc and w.proc.poll() is None}
            raise AssertionError(f"{exc}; missing {len(missing)} e.g. {missing[:5]}; workers: {json.dumps(states)[:3000]}") from None
        await events.poll(3.0)  # anything late (a duplicate) shows up too
        by_id = events.by_id()
    assert w1_again.proc is not None and w1_again.proc.poll() is None, w1_again.tail()

    counts = Counter({message_id: len(found) for message_id, found in by_id.items()})
    missing = set(ids) - set(by_id)
    duplicated = {message_id: n for message_id, n in counts.items() if n > 1}
    requests_per_id: Counter[str] = Counter()
    for provider in ("provider-sendgrid", "provider-mailgun"):
        for request in sim.requests(provider):
            body = request.body.decode(errors="replace")
            match = re.search(rf"message ({ns}-\d+)", body)
            if match and request.status is not None and request.status < 300:
                requests_per_id[match.group(1)] += 1
    provider_duplicates = sum(n - 1 for n in requests_per_id.values() if n > 1)
    print(
        f"\nkill -9 after {killed_at} events: {len(by_id)} ids with events, {len(missing)} missing, "
        f"{len(duplicated)} with more than one event; provider-side duplicate sends: {provider_duplicates} "
        f"({sum(1 for n in requests_per_id.values() if n > 1)} messages)"
    )
    assert not missing, f"{len(missing)} messages lost, e.g. {sorted(missing)[:5]}"
    assert not duplicated, f"{len(duplicated)} messages with several terminal events, e.g. {json.dumps(dict(list(duplicated.items())[:5]))}"
    assert len(by_id) == TOTAL
    assert all(found[0].status is DeliveryStatus.SENT for found in by_id.values())
