"""The local Kafka broker behaves like a real one for the clients SendPipe uses (aiokafka)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

RECORDS = 1000


async def test_produce_consume_commit_1000_records_on_3_partitions(
    kafka_bootstrap: str, kafka_topic_factory: Callable[..., str]
) -> None:
    topic = kafka_topic_factory(3)
    group = f"{topic}.group"

    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        futures = [
            await producer.send(topic, key=f"key-{i}".encode(), value=f"value-{i}".encode())
            for i in range(RECORDS)
        ]
        await producer.flush()
        metadata = [await f for f in futures]
    finally:
        await producer.stop()
    assert Counter(m.partition for m in metadata).keys() == {0, 1, 2}

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=kafka_bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        values: list[bytes] = []
        while len(values) < RECORDS:
            batches = await consumer.getmany(timeout_ms=10_000)
            assert batches, f"no records after {len(values)}"
            for records in batches.values():
                values.extend(r.value for r in records if r.value is not None)
        await consumer.commit()
        partitions = [TopicPartition(topic, p) for p in range(3)]
        committed = {tp.partition: await consumer.committed(tp) for tp in partitions}
    finally:
        await consumer.stop()

    assert sorted(values) == sorted(f"value-{i}".encode() for i in range(RECORDS))
    per_partition = Counter(m.partition for m in metadata)
    assert committed == {p: per_partition[p] for p in range(3)}

    # Read back through the admin API too: the offsets are stored in the broker, not the client.
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    assert {tp.partition: meta.offset for tp, meta in offsets.items()} == committed
    assert sum(committed.values()) == RECORDS
