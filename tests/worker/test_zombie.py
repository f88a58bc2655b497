"""A worker frozen past its session timeout (a zombie) wakes up after its partitions moved on: its buffered
events are refused with its stale offsets (KIP-447 fencing), so every message still has exactly one event.
And if it froze in the middle of a commit, its partitions' new owner waits for that transaction to end."""

from __future__ import annotations

import asyncio
import signal
import time
from collections import Counter
from datetime import UTC, datetime

import pytest
from aiokafka import AIOKafkaProducer, TopicPartition

from sendpipe.bus import admin
from sendpipe.core.messages import DeliveryEvent
from sendpipe.core.outcomes import Channel, DeliveryStatus
from sendpipe.worker.dedupe import DedupeTable, changelog_topic
from tests.worker.harness import Bench, Events, email, produce_steadily

TOTAL = 3_000
RATE_PER_SECOND = 500
SESSION_TIMEOUT_SECONDS = 6  # the broker's group.min.session.timeout.ms


@pytest.mark.slow
async def test_a_frozen_worker_cannot_commit_after_its_partitions_moved(bench: Bench, sim, worker_factory) -> None:
    settings = {"session_timeout_seconds": SESSION_TIMEOUT_SECONDS, "max_in_flight": 100}
    zombie, survivor = worker_factory("zombie", **settings), worker_factory("survivor", **settings)
    await asyncio.gather(zombie.wait_ready(timeout=90), survivor.wait_ready(timeout=90))
    ns = "zombie"
    sim.set_fault("provider-sendgrid", latency_ms=20)
    await bench.publish_routing(ns, "email", [bench.provider(sim, "provider-sendgrid", name="sg", priority=1, timeout=5)])
    ids = [f"{ns}-{i:05d}" for i in range(TOTAL)]
    assert zombie.proc is not None

    async with Events(bench.bootstrap, bench.topics.events) as events:
        producing = asyncio.create_task(produce_steadily(bench, ids, ns, rate=RATE_PER_SECOND))
        await events.until(lambda: len(events.records) >= TOTAL // 5, timeout=60, what="events before the freeze")
        zombie.proc.send_signal(signal.SIGSTOP)  # mid-stream: sends in flight, finished events not yet committed
        await asyncio.sleep(SESSION_TIMEOUT_SECONDS + 4)  # the group moves its partitions to the survivor
        zombie.proc.send_signal(signal.SIGCONT)
        await producing
        await events.until(lambda: {r.key.decode() for r in events.records} >= set(ids), timeout=120, what="all events")
        await asyncio.sleep(2.0)
        await events.poll(2.0)  # a late duplicate from the zombie shows up too
        counts = Counter(r.key.decode() for r in events.records if r.key.decode().startswith(ns))
    duplicated = {message_id: n for message_id, n in counts.items() if n > 1}
    assert not duplicated, f"{len(duplicated)} messages with more than one event, e.g. {list(duplicated.items())[:5]}"
    assert set(counts) == set(ids)
    log = zombie.log_path.read_text(errors="replace")
    fenced = "no longer owns these partitions" in log or "not a member of the consumer group" in log
    assert fenced, f"the zombie was not fenced (no duplicates by luck?):\n{zombie.tail()}"


PENDING = 40
COMMITTED_BY_PREDECESSOR = range(20)  # its transaction commits their offsets: the next owner starts at 20
FINISHED_OUT_OF_ORDER = (25, 26)  # their events and markers are in it too, their offsets are not


async def _predecessors_open_transaction(bench: Bench, ids: list[str], uid: str) -> AIOKafkaProducer:
    """What a worker frozen mid-commit leaves: its transaction's offset commit accepted, the transaction not ended."""
    producer = AIOKafkaProducer(bootstrap_servers=bench.bootstrap, transactional_id=f"frozen-{bench.tag}")
    await producer.start()
    await producer.begin_transaction()
    for i in (*COMMITTED_BY_PREDECESSOR, *FINISHED_OUT_OF_ORDER):
        event = DeliveryEvent(
            id=ids[i], namespace="taken-over", channel=Channel.EMAIL, status=DeliveryStatus.SENT, provider="sg",
            provider_uid=uid, provider_message_id="predecessor", completed_at=datetime.now(UTC),
        )
        marker = DedupeTable.marker(status=DeliveryStatus.SENT.value, partition=0, at=time.time())
        await producer.send(bench.topics.events, event.to_json_bytes(), key=ids[i].encode())
        await producer.send(changelog_topic(bench.app_id), marker, key=ids[i].encode(), partition=0)
    offsets = {TopicPartition(bench.send_topic("email"), 0): len(COMMITTED_BY_PREDECESSOR)}
    await producer.send_offsets_to_transaction(offsets, f"{bench.app_id}-send")
    return producer


@pytest.mark.slow
async def test_a_worker_taking_over_waits_for_its_predecessors_open_transaction(bench: Bench, sim, worker_factory) -> None:
    ns = "taken-over"
    provider = bench.provider(sim, "provider-sendgrid", name="sg", priority=1)
    await bench.publish_routing(ns, "email", [provider])
    ids = [f"{ns}-{i:03d}" for i in range(PENDING)]
    producer = AIOKafkaProducer(bootstrap_servers=bench.bootstrap)
    await producer.start()
    try:
        for message_id in ids:
            await producer.send(bench.send_topic("email"), email(message_id, ns), key=message_id.encode(), partition=0)
        await producer.flush()
    finally:
        await producer.stop()
    changelog = admin.TopicSpec(changelog_topic(bench.app_id), bench.partitions, config=admin.COMPACTED)
    await admin.ensure_topics(bench.kafka, [changelog])
    predecessor = await _predecessors_open_transaction(bench, ids, provider.uid)
    try:
        worker = worker_factory("next-owner")
        deadline = time.monotonic() + 90
        while "waiting for an open transaction to end" not in worker.log_path.read_text(errors="replace"):
            assert time.monotonic() < deadline, f"the worker did not wait for the open transaction:\n{worker.tail()}"
            assert worker.proc is not None and worker.proc.poll() is None, worker.tail()
            await asyncio.sleep(0.3)
        await predecessor.commit_transaction()  # it woke up
    finally:
        await predecessor.stop()

    async with Events(bench.bootstrap, bench.topics.events) as events:
        await events.until(lambda: {r.key.decode() for r in events.records} >= set(ids), timeout=60, what="all events")
        await events.poll(2.0)
        counts = Counter(r.key.decode() for r in events.records)
        delivered = [(r.key.decode(), DeliveryEvent.model_validate_json(r.value)) for r in events.records]
    by_predecessor = {message_id for message_id, event in delivered if event.provider_message_id == "predecessor"}
    duplicated = {message_id: n for message_id, n in counts.items() if n > 1}
    assert duplicated == {}, "sent again after the predecessor committed"
    assert by_predecessor == {ids[i] for i in (*COMMITTED_BY_PREDECESSOR, *FINISHED_OUT_OF_ORDER)}
