"""Outage of the primary under steady traffic: ejected within about a second, probed and healthy again, nothing lost."""

from __future__ import annotations

import asyncio
import time

from aiokafka import AIOKafkaProducer

from sendpipe.core.outcomes import DeliveryStatus, HealthState, Outcome
from sendpipe.core.records import HealthVerdict
from tests.worker.harness import Bench, Events, Verdicts, email

RATE_PER_SECOND = 40


async def _steady(bench: Bench, namespace: str, *, seconds: float, start: int) -> list[str]:
    producer = AIOKafkaProducer(bootstrap_servers=bench.bootstrap, linger_ms=0)
    await producer.start()
    ids: list[str] = []
    try:
        deadline = time.monotonic() + seconds
        n = start
        while time.monotonic() < deadline:
            message_id = f"{namespace}-{n}"
            await producer.send(bench.send_topic("email"), email(message_id, namespace), key=message_id.encode())
            ids.append(message_id)
            n += 1
            await asyncio.sleep(1 / RATE_PER_SECOND)
        await producer.flush()
    finally:
        await producer.stop()
    return ids


async def test_outage_ejects_probes_and_recovers_without_loss(bench: Bench, sim, worker_factory) -> None:
    worker = worker_factory(health_ejection_base_seconds=3)
    await worker.wait_ready()
    ns = "outage"
    primary = bench.provider(sim, "provider-sendgrid", name="primary", priority=10)
    secondary = bench.provider(sim, "provider-mailgun", name="secondary", priority=20)
    await bench.publish_routing(ns, "email", [primary, secondary])

    ids = await _steady(bench, ns, seconds=2.0, start=0)
    outage_start = time.time()
    sim.set_fault("provider-sendgrid", outage="503")
    ids += await _steady(bench, ns, seconds=2.5, start=len(ids))
    sim.clear_faults()
    outage_end = time.time()
    ids += await _steady(bench, ns, seconds=5.0, start=len(ids))

    async with Events(bench.bootstrap, bench.topics.events) as events:
        await events.wait_ids(set(ids), timeout=60)
        by_id = events.by_id()
    assert set(by_id) == set(ids) and all(len(v) == 1 for v in by_id.values()), "exactly one event per message"
    assert all(v[0].status is DeliveryStatus.SENT for v in by_id.values()), "nothing lost: the secondary took over"

    # First attempts that still went to the failing primary (probes excluded).
    first_attempts = [v[0].attempts[0] for v in by_id.values()]
    failing_firsts = [
        a for a in first_attempts
        if a.provider == "primary" and not a.probe and outage_start <= a.started_at.timestamp() <= outage_end
        and a.outcome is not Outcome.SUCCESS
    ]
    last = max((a.started_at.timestamp() for a in failing_firsts), default=outage_start)
    reaction = last - outage_start
    print(f"\noutage reaction: {len(failing_firsts)} first attempts to the failing primary, last {reaction:.3f}s after the outage began")
    assert reaction < 1.5, f"primary still tried first {reaction:.2f}s into the outage"

    async with Verdicts(bench.bootstrap, bench.topics.health) as verdicts:
        await verdicts.until(lambda: len(verdicts.records) > 0, timeout=10)
        await verdicts.poll(1.0)
        parsed = [HealthVerdict.model_validate_json(r.value) for r in verdicts.records]
        states = [v.state for v in parsed if v.provider_uid == primary.uid]
    assert HealthState.UNHEALTHY in states, states
    assert states[-1] is HealthState.HEALTHY, f"probed and healthy again: {states}"
    recovered = [
        a for a in first_attempts
        if a.provider == "primary" and not a.probe and a.outcome is Outcome.SUCCESS and a.started_at.timestamp() > outage_end
    ]
    assert recovered, "after recovery new messages go to the primary first again"
    probes = [a for v in by_id.values() for a in v[0].attempts if a.probe]
    assert probes, "the primary was probed with live sends"
