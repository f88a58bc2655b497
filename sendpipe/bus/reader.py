"""Open a consumer that reads a whole topic from its beginning, every partition, with no group.

Used by the compacted-topic views and by the commands that print or tally
delivery events. A topic created moments ago may not be in the metadata yet,
so its partitions are looked up with a short retry.
"""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer, TopicPartition

from sendpipe.bus.connection import client_options
from sendpipe.settings import KafkaSettings

METADATA_RETRIES = 20
METADATA_RETRY_SECONDS = 0.25


class TopicMissingError(RuntimeError):
    pass


async def topic_partitions(consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
    """The topic's partitions from fresh metadata; TopicMissingError if it does not exist."""
    for _ in range(METADATA_RETRIES):
        # consumer.topics() returns fresh metadata without updating the consumer's own copy
        # (which partitions_for_topic reads), so ask the client directly.
        cluster = await consumer._client.fetch_all_metadata()
        partitions = cluster.partitions_for_topic(topic)
        if partitions:
            return [TopicPartition(topic, partition) for partition in sorted(partitions)]
        await asyncio.sleep(METADATA_RETRY_SECONDS)
    raise TopicMissingError(f"topic {topic!r} does not exist (yet)")


async def open_from_beginning(
    settings: KafkaSettings, topic: str
) -> tuple[AIOKafkaConsumer, list[TopicPartition], dict[TopicPartition, int]]:
    """A started consumer assigned every partition of ``topic`` at offset 0, and the end offsets now."""
    consumer = AIOKafkaConsumer(
        **client_options(settings), group_id=None, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        partitions = await topic_partitions(consumer, topic)
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end_offsets = await consumer.end_offsets(partitions)
    except BaseException:
        await consumer.stop()
        raise
    return consumer, partitions, end_offsets


async def caught_up(consumer: AIOKafkaConsumer, end_offsets: dict[TopicPartition, int]) -> bool:
    """Whether every partition has been read up to the given end offsets."""
    for partition, end in end_offsets.items():
        if await consumer.position(partition) < end:
            return False
    return True
