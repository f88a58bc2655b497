"""KIP-447 fencing against the real broker: a transactional offset commit names its group member and generation;
a stale one is refused and the transaction's records never become visible."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from sendpipe.bus import admin
from sendpipe.core.outcomes import Channel, DeliveryStatus
from sendpipe.settings import KafkaSettings
from sendpipe.worker import txn_fencing
from sendpipe.worker.dedupe import DedupeTable
from sendpipe.worker.outbox import TransactionalOutbox
from sendpipe.worker.txn_fencing import GroupMember, LostGroupMembership
from tests.worker.harness import TopicReader


async def _joined(bootstrap: str, topic: str, group: str) -> AIOKafkaConsumer:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    for _ in range(100):
        await consumer.getmany(timeout_ms=100)
        if consumer.assignment():
            return consumer
    raise AssertionError("the consumer never joined its group")


async def _committed(consumer: AIOKafkaConsumer, tp: TopicPartition, expected: int) -> int | None:
    """The group's committed offset once it shows ``expected`` (transaction markers land a moment later)."""
    found = None
    for _ in range(50):
        found = await consumer.committed(tp)
        if found == expected:
            break
        await asyncio.sleep(0.1)
    return found


async def _visible(bootstrap: str, topic: str, *, at_least: int) -> list[Any]:
    """The topic's committed records, once ``at_least`` are there and a refused one would have shown too."""
    async with TopicReader(bootstrap, topic) as reader:
        await reader.until(lambda: len(reader.records) >= at_least, timeout=10)
        await reader.poll(1.0)
        return list(reader.records)


def _member(consumer: AIOKafkaConsumer, *, generation_offset: int = 0) -> GroupMember:
    coordinator = consumer._coordinator
    return GroupMember(member_id=coordinator.member_id, generation=coordinator.generation + generation_offset)


async def _commit(producer: AIOKafkaProducer, *, topic: str, value: bytes, member: GroupMember, group: str,
                  offsets: dict[TopicPartition, int]) -> None:
    await producer.begin_transaction()
    try:
        await producer.send(topic, value)
        txn_fencing.fence(producer, member)
        await producer.send_offsets_to_transaction(offsets, group)
        await producer.commit_transaction()
    except BaseException:
        await producer.abort_transaction()
        raise


async def test_current_member_commits_and_a_stale_one_is_refused(kafka_bootstrap: str) -> None:
    tag = uuid.uuid4().hex[:8]
    source, sink, group = f"fence.in.{tag}", f"fence.out.{tag}", f"fence-{tag}"
    await admin.ensure_topics(KafkaSettings(bootstrap=kafka_bootstrap), [admin.TopicSpec(source, 1), admin.TopicSpec(sink, 1)])
    txn_fencing.install()
    consumer = await _joined(kafka_bootstrap, source, group)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, transactional_id=f"fence-{tag}")
    await producer.start()
    tp = TopicPartition(source, 0)
    try:
        await _commit(producer, topic=sink, value=b"current", member=_member(consumer), group=group, offsets={tp: 1})
        assert await _committed(consumer, tp, 1) == 1

        with pytest.raises(LostGroupMembership, match="IllegalGeneration"):
            await _commit(producer, topic=sink, value=b"stale generation", member=_member(consumer, generation_offset=1),
                          group=group, offsets={tp: 2})
        stranger = GroupMember(member_id=f"gone-{tag}", generation=_member(consumer).generation)
        with pytest.raises(LostGroupMembership, match="UnknownMemberId"):
            await _commit(producer, topic=sink, value=b"unknown member", member=stranger, group=group, offsets={tp: 3})
        with pytest.raises(LostGroupMembership, match="not a member"):
            txn_fencing.fence(producer, GroupMember(member_id="", generation=-1))
        await asyncio.sleep(1.0)
        assert await consumer.committed(tp) == 1, "a refused commit moved the group's offset"

        await _commit(producer, topic=sink, value=b"current again", member=_member(consumer), group=group, offsets={tp: 4})
        assert await _committed(consumer, tp, 4) == 4
    finally:
        await producer.stop()
        await consumer.stop()
    values = [record.value for record in await _visible(kafka_bootstrap, sink, at_least=2)]
    assert values == [b"current", b"current again"], "records of a refused transaction became visible"


def _finished(message_id: str) -> dict[str, Any]:
    return {
        "id": message_id, "namespace": "acme", "channel": Channel.EMAIL, "status": DeliveryStatus.SENT,
        "provider": "sg", "completed_at": datetime.now(UTC),
    }


async def test_an_outbox_transaction_with_no_offset_released_is_fenced_too(kafka_bootstrap: str) -> None:
    """Messages that finished out of order (one before them still in flight) release no offset; their events
    must still be refused once this worker is no longer the member that owns their partitions."""
    tag = uuid.uuid4().hex[:8]
    source, events, group = f"fence.in.{tag}", f"fence.events.{tag}", f"fence-{tag}"
    changelog = f"fence.dedupe.{tag}"
    await admin.ensure_topics(
        KafkaSettings(bootstrap=kafka_bootstrap), [admin.TopicSpec(name, 1) for name in (source, events, changelog)]
    )
    txn_fencing.install()
    consumer = await _joined(kafka_bootstrap, source, group)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, transactional_id=f"fence-outbox-{tag}")
    plain = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    await plain.start()
    member = {"now": _member(consumer)}

    async def fail(exc: BaseException) -> None:
        raise AssertionError(f"not expected: {exc!r}")

    outbox = TransactionalOutbox(
        producer=producer, outcome_producer=plain, group_id=group,
        topics={"events": events, "outcomes": events, "dlq": events},
        dedupe=DedupeTable(topic=changelog, expiry_seconds=3600, max_entries=1000),
        interval_seconds=60, outcome_linger_seconds=0.05, on_failure=fail, member=lambda: member["now"],
    )
    tp = TopicPartition(source, 0)
    try:
        outbox.reading_from(tp, 0)
        await outbox.terminal(_finished("while-owner"), source_partition=0)
        await outbox.commit()

        member["now"] = GroupMember(member_id=f"gone-{tag}", generation=_member(consumer).generation)
        await outbox.terminal(_finished("after-losing-the-partition"), source_partition=0)
        with pytest.raises(LostGroupMembership, match="UnknownMemberId"):
            await outbox.commit()
        assert await _committed(consumer, tp, 0) == 0, "re-committed where reading began, and nothing else"
    finally:
        await producer.stop()
        await plain.stop()
        await consumer.stop()
    keys = [record.key for record in await _visible(kafka_bootstrap, events, at_least=1)]
    assert keys == [b"while-owner"], "the events of a refused transaction became visible"
