"""SIGTERM mid-stream: the worker drains what is in flight, exits cleanly; after a restart nothing is lost or doubled."""

from __future__ import annotations

import asyncio
import time

from tests.worker.harness import Bench, Events, email, produce

TOTAL = 1500


async def test_sigterm_drains_and_restart_loses_nothing(bench: Bench, sim, worker_factory) -> None:
    worker = worker_factory("w1")
    await worker.wait_ready()
    await bench.publish_routing("term", "email", [bench.provider(sim, "provider-sendgrid", name="sg", priority=1)])
    sim.set_fault("provider-sendgrid", latency_ms=20, latency_max_ms=60)
    ids = [f"t-{i}" for i in range(TOTAL)]
    async with Events(bench.bootstrap, bench.topics.events) as events:
        await produce(bench.bootstrap, bench.send_topic("email"), [(i.encode(), email(i, "term")) for i in ids])
        await events.until(lambda: len(events.records) >= 300, timeout=60, what="some events")
        started = time.monotonic()
        code = await asyncio.to_thread(worker.stop, 60)
        stop_seconds = time.monotonic() - started
        assert code == 0, worker.tail()
        assert len(events.records) < TOTAL or stop_seconds < 30
        restarted = worker_factory("w1-again")
        await restarted.wait_ready()
        await events.until(lambda: {r.key.decode() for r in events.records} >= set(ids), timeout=120, what="all")
        await events.poll(2.0)
        by_id = events.by_id()
    assert set(by_id) == set(ids)
    doubled = [i for i, found in by_id.items() if len(found) > 1]
    assert not doubled, f"{len(doubled)} messages with two terminal events"
    print(f"\nSIGTERM: stopped in {stop_seconds:.1f}s; duplicates skipped after restart: {restarted.json('/stats')['finished']['duplicate']}")
