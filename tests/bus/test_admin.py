"""Topics that ``ensure_topics`` created are in the broker's metadata, with every partition, when it returns.

A client whose first metadata lacks a topic (or lists it with no partitions)
keeps that view until its next refresh, minutes later: Faust's assignor then
ignores the topic and its table writes fail with PartitionsMismatch, which
is how a worker died in CI. So "created" has to mean "visible" here.
"""

from __future__ import annotations

import uuid

from aiokafka import AIOKafkaClient

from sendpipe.bus import admin
from sendpipe.settings import KafkaSettings

PARTITIONS = 6


async def test_created_topics_are_in_a_new_clients_first_metadata(kafka_bootstrap: str) -> None:
    kafka = KafkaSettings(bootstrap=kafka_bootstrap)
    for _ in range(5):
        names = [f"test.admin.visible.{uuid.uuid4().hex[:8]}" for _ in range(4)]
        specs = [admin.TopicSpec(name, PARTITIONS, config=admin.COMPACTED) for name in names]
        assert await admin.ensure_topics(kafka, specs) == names

        client = AIOKafkaClient(bootstrap_servers=kafka_bootstrap)
        await client.bootstrap()
        try:
            metadata = await client.fetch_all_metadata()
        finally:
            await client.close()
        seen = {name: len(metadata.partitions_for_topic(name) or ()) for name in names}
        assert seen == dict.fromkeys(names, PARTITIONS)


async def test_existing_topics_are_left_as_they_are(kafka_bootstrap: str) -> None:
    kafka = KafkaSettings(bootstrap=kafka_bootstrap)
    name = f"test.admin.existing.{uuid.uuid4().hex[:8]}"
    assert await admin.ensure_topics(kafka, [admin.TopicSpec(name, 2)]) == [name]
    assert await admin.ensure_topics(kafka, [admin.TopicSpec(name, 4)]) == []
    assert await admin.partition_counts(kafka, [name]) == {name: 2}
