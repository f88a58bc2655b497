"""A partition's new owner waits for its previous owner's open transaction (KIP-447's consumer half), against the
real broker: the committed offsets it starts from and the dedupe markers it restores are the transaction's
outcome, never what was there before it (a previous owner frozen mid-commit commits when it wakes)."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from sendpipe.bus import admin
from sendpipe.bus.reader import read_to_end
from sendpipe.settings import KafkaSettings
from sendpipe.worker import stable_offsets

RECORDS = 10
PENDING_OFFSET = 6
STILL_OPEN_SECONDS = 2.0


@dataclass(frozen=True)
class Topics:
    source: TopicPartition
    changelog: str
    group: str


async def _topics(bootstrap: str) -> Topics:
    tag = uuid.uuid4().hex[:8]
    source, changelog = f"stable.in.{tag}", f"stable.changelog.{tag}"
    specs = [admin.TopicSpec(source, 1), admin.TopicSpec(changelog, 1)]
    await admin.ensure_topics(KafkaSettings(bootstrap=bootstrap), specs)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for i in range(RECORDS):
            await producer.send_and_wait(source, f"message-{i}".encode())
    finally:
        await producer.stop()
    return Topics(TopicPartition(source, 0), changelog, f"stable-{tag}")


async def _open_transaction(bootstrap: str, topics: Topics) -> AIOKafkaProducer:
    """A previous owner's transaction: a marker and the offsets of the first messages, committed but not ended."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, transactional_id=f"previous-owner-{topics.group}")
    await producer.start()
    await producer.begin_transaction()
    await producer.send_and_wait(topics.changelog, b"marker", key=b"message-8")
    await producer.send_offsets_to_transaction({topics.source: PENDING_OFFSET}, topics.group)
    return producer


async def _first_offset(consumer: AIOKafkaConsumer) -> int:
    while True:
        fetched = await consumer.getmany(timeout_ms=200)
        for records in fetched.values():
            return int(records[0].offset)


async def _markers(bootstrap: str, topic: str) -> list[bytes | None]:
    reading = read_to_end(KafkaSettings(bootstrap=bootstrap), topic, {0}, past_open_transactions=True)
    return [record.value async for record in reading]


@pytest.mark.parametrize("ending", ["commit", "abort"])
async def test_a_new_owner_starts_from_what_the_open_transaction_leaves(kafka_bootstrap: str, ending: str) -> None:
    stable_offsets.install()
    topics = await _topics(kafka_bootstrap)
    previous_owner = await _open_transaction(kafka_bootstrap, topics)
    consumer = AIOKafkaConsumer(
        topics.source.topic, bootstrap_servers=kafka_bootstrap, group_id=topics.group,
        enable_auto_commit=False, auto_offset_reset="earliest", isolation_level="read_committed",
    )
    await consumer.start()
    try:
        first = asyncio.create_task(_first_offset(consumer))
        markers = asyncio.create_task(_markers(kafka_bootstrap, topics.changelog))
        await asyncio.sleep(STILL_OPEN_SECONDS)
        assert not first.done(), f"the new owner started at offset {first.result()} while the transaction was open"
        assert not markers.done(), f"the restore ended while the transaction was open: {markers.result()}"

        if ending == "commit":
            await previous_owner.commit_transaction()
        else:
            await previous_owner.abort_transaction()

        assert await asyncio.wait_for(first, timeout=30) == (PENDING_OFFSET if ending == "commit" else 0)
        assert await asyncio.wait_for(markers, timeout=30) == ([b"marker"] if ending == "commit" else [])
    finally:
        await consumer.stop()
        await previous_owner.stop()


async def test_a_partition_with_no_transaction_is_read_at_once(kafka_bootstrap: str) -> None:
    stable_offsets.install()
    topics = await _topics(kafka_bootstrap)
    consumer = AIOKafkaConsumer(
        topics.source.topic, bootstrap_servers=kafka_bootstrap, group_id=topics.group,
        enable_auto_commit=False, auto_offset_reset="earliest", isolation_level="read_committed",
    )
    await consumer.start()
    try:
        assert await asyncio.wait_for(_first_offset(consumer), timeout=30) == 0
        assert await asyncio.wait_for(_markers(kafka_bootstrap, topics.changelog), timeout=10) == []
    finally:
        await consumer.stop()


def test_a_broker_without_stable_fetches_is_asked_as_before() -> None:
    request = stable_offsets.StableOffsetFetchRequest("group", [("topic", [0, 1])])
    stable = request.prepare({9: (0, 9)})
    assert (stable.API_VERSION, stable.require_stable) == (7, True)
    assert request.prepare({9: (0, 6)}).API_VERSION == 3  # Kafka 2.4 and older
