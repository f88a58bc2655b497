"""Smoke: one worker delivers one email through the simulator and reports it."""

from __future__ import annotations

from sendpipe.core.outcomes import DeliveryStatus
from tests.worker.harness import Bench, Events, WorkerProcess, email, produce


async def test_one_email_is_sent(bench: Bench, sim, worker: WorkerProcess) -> None:
    primary = bench.provider(sim, "provider-sendgrid", name="sg", priority=10)
    await bench.publish_routing("acme", "email", [primary])
    await produce(bench.bootstrap, bench.send_topic("email"), [(b"m1", email("m1", "acme"))])
    async with Events(bench.bootstrap, bench.topics.events) as events:
        got = await events.wait_ids({"m1"}, timeout=30)
    assert got["m1"].status is DeliveryStatus.SENT, (got["m1"], worker.tail())
    assert got["m1"].provider == "sg"
