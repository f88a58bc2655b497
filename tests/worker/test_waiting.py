"""Every candidate ejected: the message waits for the earliest recovery without blocking others, or fails at its deadline."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest

from sendpipe.core.outcomes import Channel, DeliveryStatus, FailureReason, HealthState, Outcome
from sendpipe.core.provider import WindowCounts
from sendpipe.core.records import HealthVerdict, RoutedProvider
from tests.worker.harness import Bench, Events, WorkerProcess, email, produce


def _ejected(provider: RoutedProvider, namespace: str, seconds: float) -> bytes:
    now = datetime.now(tz=UTC)
    return HealthVerdict(
        provider_uid=provider.uid, namespace=namespace, channel=Channel.EMAIL, provider=provider.name,
        state=HealthState.UNHEALTHY, error_rate=1.0, window=WindowCounts(sends=20, failures=20),
        consecutive_failures=20, ejected_until=now + timedelta(seconds=seconds), observed_at=now,
    ).to_json_bytes()


@pytest.fixture
async def quiet_worker(worker_factory) -> WorkerProcess:
    process = worker_factory(health_publish_interval_seconds=600, max_wait_seconds=30)
    await process.wait_ready()
    return process


async def test_waits_for_recovery_without_blocking_others_then_fails_at_expiry(
    bench: Bench, sim, quiet_worker: WorkerProcess
) -> None:
    down = bench.provider(sim, "provider-sendgrid", name="down", priority=1)
    await bench.publish_routing("waiting", "email", [down])
    await bench.publish_routing("flowing", "email", [bench.provider(sim, "provider-mailgun", name="up", priority=1)])
    ejection_ends = time.time() + 3.0
    await produce(bench.bootstrap, bench.topics.health, [(down.uid.encode(), _ejected(down, "waiting", 3.0))])
    await asyncio.sleep(0.5)
    expires_soon = (datetime.now(tz=UTC) + timedelta(seconds=1)).isoformat()
    started = time.time()
    await produce(
        bench.bootstrap,
        bench.send_topic("email"),
        [
            (b"w-1", email("w-1", "waiting")),
            (b"w-expiring", email("w-expiring", "waiting", expiresAt=expires_soon)),
            *((f"f-{i}".encode(), email(f"f-{i}", "flowing")) for i in range(20)),
        ],
    )
    async with Events(bench.bootstrap, bench.topics.events) as events:
        flowing = await events.wait_ids({f"f-{i}" for i in range(20)}, timeout=20)
        assert all(e.status is DeliveryStatus.SENT for e in flowing.values())
        assert time.time() - started < 2.5, "other messages were not blocked by the waiting one"
        expiring = (await events.wait_ids({"w-expiring"}, timeout=10))["w-expiring"]
        assert expiring.status is DeliveryStatus.FAILED and expiring.reason is FailureReason.NO_HEALTHY_PROVIDER
        assert expiring.attempts == []
        waited = (await events.wait_ids({"w-1"}, timeout=20))["w-1"]
    assert waited.status is DeliveryStatus.SENT
    assert waited.attempts[0].started_at.timestamp() >= ejection_ends - 0.05, "it waited for the ejection to end"
    assert [(a.provider, a.outcome, a.probe) for a in waited.attempts] == [("down", Outcome.SUCCESS, True)]


async def test_stays_in_its_group_while_every_slot_waits(bench: Bench, sim, worker_factory) -> None:
    """All slots hold waiting messages for longer than max.poll.interval: the intake polls taking nothing,
    so the worker keeps its partitions (no rebalance, nothing handed back) and delivers everything after."""
    worker = worker_factory(
        max_in_flight=3, max_poll_interval_seconds=4, max_wait_seconds=60, health_publish_interval_seconds=600
    )
    await worker.wait_ready()
    down = bench.provider(sim, "provider-sendgrid", name="down", priority=1)
    await bench.publish_routing("stuck", "email", [down])
    await produce(bench.bootstrap, bench.topics.health, [(down.uid.encode(), _ejected(down, "stuck", 12.0))])
    await asyncio.sleep(0.5)
    ids = [f"s-{i}" for i in range(8)]
    await produce(bench.bootstrap, bench.send_topic("email"), [(i.encode(), email(i, "stuck")) for i in ids])
    async with Events(bench.bootstrap, bench.topics.events) as events:
        delivered = await events.wait_ids(set(ids), timeout=60)
        await asyncio.sleep(1.0)
        by_id = events.by_id()
    assert all(e.status is DeliveryStatus.SENT for e in delivered.values())
    assert {i: len(by_id[i]) for i in ids} == {i: 1 for i in ids}
    log = worker.log_path.read_text(errors="replace")
    assert log.count("send partitions assigned") == 1, "the worker left its group while its slots waited"
    assert "polled to stay in the group" in log
