"""Two workers: the same views, shared load, the same routing decisions from the same verdicts."""

from __future__ import annotations

import asyncio
import time

from sendpipe.core.outcomes import DeliveryStatus, Outcome
from tests.worker.harness import Bench, Events, WorkerProcess, email, produce


async def _both_ready(*workers: WorkerProcess) -> None:
    await asyncio.gather(*(w.wait_ready(timeout=90) for w in workers))
    # After the second join the group rebalances; wait until both report ready again.
    await asyncio.sleep(1.0)
    await asyncio.gather(*(w.wait_ready(timeout=60) for w in workers))


async def _views_converge(w1: WorkerProcess, w2: WorkerProcess, *, timeout: float = 15, until=lambda views: True) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        a, b = await asyncio.gather(asyncio.to_thread(w1.json, "/views"), asyncio.to_thread(w2.json, "/views"))
        if a == b and until(a):
            return a
        if time.monotonic() > deadline:
            raise AssertionError(f"views differ:\n{a}\n{b}")
        await asyncio.sleep(0.3)


async def test_two_workers_share_load_and_route_by_the_same_verdicts(bench: Bench, sim, worker_factory) -> None:
    w1 = worker_factory("w1", health_ejection_base_seconds=60)
    w2 = worker_factory("w2", health_ejection_base_seconds=60)
    await _both_ready(w1, w2)
    ns = "pair"
    primary = bench.provider(sim, "provider-sendgrid", name="primary", priority=10)
    secondary = bench.provider(sim, "provider-mailgun", name="secondary", priority=20)
    await bench.publish_routing(ns, "email", [primary, secondary])
    await bench.publish_routing("second-org", "sms", [bench.provider(sim, "provider-termii", name="sms", priority=1)])

    async with Events(bench.bootstrap, bench.topics.events) as events:
        batch = {f"{ns}-a{i}": email(f"{ns}-a{i}", ns) for i in range(200)}
        await produce(bench.bootstrap, bench.send_topic("email"), [(k.encode(), v) for k, v in batch.items()])
        first = await events.wait_ids(set(batch), timeout=60)
        assert all(e.provider == "primary" for e in first.values())
        s1, s2 = w1.json("/stats")["finished"]["event"], w2.json("/stats")["finished"]["event"]
        assert s1 > 0 and s2 > 0 and s1 + s2 == len(batch), f"load shared: {s1} + {s2}"

        views = await _views_converge(w1, w2, until=lambda v: primary.uid in v["health"])
        assert set(views["routing"]) == {f"{ns}/email", "second-org/sms"}
        assert primary.uid in views["health"], "both hold the owner's verdict of the primary"

        # The primary fails: its owner (one of the two) ejects it; both workers stop using it.
        sim.set_fault("provider-sendgrid", failure_rate=1.0, error="server_error")
        failing = {f"{ns}-b{i}": email(f"{ns}-b{i}", ns) for i in range(40)}
        await produce(bench.bootstrap, bench.send_topic("email"), [(k.encode(), v) for k, v in failing.items()])
        await events.wait_ids(set(failing), timeout=60)
        # The owner folds the burst's outcomes in shortly after the events; both views then agree on it.
        views = await _views_converge(w1, w2, until=lambda v: v["health"].get(primary.uid, [""])[0] == "unhealthy")
        assert views["health"][primary.uid][0] == "unhealthy", views["health"]

        before = (w1.json("/stats")["finished"]["event"], w2.json("/stats")["finished"]["event"])
        after_batch = {f"{ns}-c{i}": email(f"{ns}-c{i}", ns) for i in range(200)}
        await produce(bench.bootstrap, bench.send_topic("email"), [(k.encode(), v) for k, v in after_batch.items()])
        third = await events.wait_ids(set(after_batch), timeout=60)
        sim.clear_faults()
        assert all(e.status is DeliveryStatus.SENT for e in third.values())
        assert all(e.attempts[0].provider == "secondary" and e.attempts[0].outcome is Outcome.SUCCESS for e in third.values())
        after = (w1.json("/stats")["finished"]["event"], w2.json("/stats")["finished"]["event"])
        assert after[0] > before[0] and after[1] > before[1], "both workers routed the ejected-primary batch"
