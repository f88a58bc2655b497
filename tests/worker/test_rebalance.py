"""A message waiting for an ejected provider does not hold up a rebalance: it is handed back and delivered once."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

from sendpipe.core.outcomes import Channel, DeliveryStatus, HealthState
from sendpipe.core.provider import WindowCounts
from sendpipe.core.records import HealthVerdict
from tests.worker.harness import Bench, Events, email, produce


async def test_waiting_message_is_handed_back_on_rebalance_and_delivered_once(bench: Bench, sim, worker_factory) -> None:
    settings = {"health_publish_interval_seconds": 600, "max_wait_seconds": 60}
    w1 = worker_factory("w1", **settings)
    await w1.wait_ready()
    down = bench.provider(sim, "provider-sendgrid", name="down", priority=1)
    await bench.publish_routing("rebal", "email", [down])
    ends = datetime.now(tz=UTC) + timedelta(seconds=12)
    verdict = HealthVerdict(
        provider_uid=down.uid, namespace="rebal", channel=Channel.EMAIL, provider="down", state=HealthState.UNHEALTHY,
        error_rate=1.0, window=WindowCounts(sends=20, failures=20), consecutive_failures=20,
        ejected_until=ends, observed_at=datetime.now(tz=UTC),
    )
    await produce(bench.bootstrap, bench.topics.health, [(down.uid.encode(), verdict.to_json_bytes())])
    await asyncio.sleep(0.5)
    ids = [f"r-{i}" for i in range(8)]
    await produce(bench.bootstrap, bench.send_topic("email"), [(i.encode(), email(i, "rebal")) for i in ids])
    await asyncio.sleep(1.5)  # all of them are waiting in w1 now
    w2 = worker_factory("w2", **settings)
    started = time.monotonic()
    await asyncio.gather(w1.wait_ready(timeout=30), w2.wait_ready(timeout=30))
    rebalance_seconds = time.monotonic() - started
    assert rebalance_seconds < 10, "the waiting messages did not hold the rebalance until their provider recovered"
    async with Events(bench.bootstrap, bench.topics.events) as events:
        await events.until(lambda: {r.key.decode() for r in events.records} >= set(ids), timeout=40, what="events")
        await events.poll(2.0)
        by_id = events.by_id()
    assert all(len(by_id[i]) == 1 and by_id[i][0].status is DeliveryStatus.SENT for i in ids)
    assert all(by_id[i][0].attempts[0].started_at >= ends - timedelta(seconds=0.1) for i in ids)
    requeued = w1.json("/stats")["finished"]["requeued"]
    print(f"\nrebalance took {rebalance_seconds:.1f}s; {requeued} waiting messages handed back by w1")
    assert requeued >= 1
