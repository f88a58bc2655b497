"""Read topics from their beginning, with no consumer group.

Used by the compacted-topic views and by the commands that print or tally
delivery events. A topic created moments ago may not be in the metadata yet,
so its partitions are looked up with a short retry.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from sendpipe.bus.connection import client_options
from sendpipe.settings import KafkaSettings

METADATA_RETRIES = 20
METADATA_RETRY_SECONDS = 0.25
OPEN_TRANSACTION_LOG_SECONDS = 5.0

log = logging.getLogger(__name__)


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


async def _high_watermarks(settings: KafkaSettings, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
    """The partitions' end offsets counting records of transactions still open (read_uncommitted)."""
    consumer = AIOKafkaConsumer(**client_options(settings), group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        ends: dict[TopicPartition, int] = await consumer.end_offsets(partitions)
        return ends
    finally:
        await consumer.stop()


async def open_from_beginning(
    settings: KafkaSettings, topic: str, partitions: set[int] | None = None, *, past_open_transactions: bool = False
) -> tuple[AIOKafkaConsumer, list[TopicPartition], dict[TopicPartition, int]]:
    """A started group-less consumer at the beginning of ``partitions`` of ``topic`` (all when None),
    and their end offsets now.

    ``read_committed``: the worker writes in transactions; an aborted record is never shown, and the
    end offset is the last stable one, or with ``past_open_transactions`` the high watermark (records of
    transactions still open included: reading to it waits for them to end).
    """
    consumer = AIOKafkaConsumer(
        **client_options(settings),
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
    )
    await consumer.start()
    try:
        if partitions is None:
            assigned = await topic_partitions(consumer, topic)
        else:
            assigned = [TopicPartition(topic, partition) for partition in sorted(partitions)]
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
        if past_open_transactions:
            return consumer, assigned, await _high_watermarks(settings, assigned)
        return consumer, assigned, await consumer.end_offsets(assigned)
    except BaseException:
        await consumer.stop()
        raise


async def caught_up(consumer: AIOKafkaConsumer, end_offsets: dict[TopicPartition, int]) -> bool:
    """Whether every partition has been read up to the given end offsets."""
    for partition, end in end_offsets.items():
        if await consumer.position(partition) < end:
            return False
    return True


async def read_to_end(
    settings: KafkaSettings,
    topic: str,
    partitions: set[int],
    *,
    batch: int = 5000,
    past_open_transactions: bool = False,
) -> AsyncIterator[ConsumerRecord[bytes, bytes]]:
    """Every committed record of some partitions of ``topic``, from the beginning to the end as of now.

    ``read_committed``: records of aborted transactions are skipped, and the end is the last stable offset;
    with ``past_open_transactions`` it is the high watermark instead: the reading waits for every
    transaction open now to end (at the latest at its timeout) and includes its records if it commits.
    """
    if not partitions:
        return
    consumer, _, end_offsets = await open_from_beginning(
        settings, topic, partitions, past_open_transactions=past_open_transactions
    )
    try:
        remaining = {tp for tp, end in end_offsets.items() if end > 0}
        waiting_since = time.monotonic()
        while remaining:
            fetched = await consumer.getmany(*remaining, timeout_ms=500, max_records=batch)
            for tp, records in fetched.items():
                for record in records:
                    if record.offset < end_offsets[tp]:
                        yield record
            remaining = {tp for tp in remaining if await consumer.position(tp) < end_offsets[tp]}
            if fetched:
                waiting_since = time.monotonic()
            elif remaining and time.monotonic() - waiting_since > OPEN_TRANSACTION_LOG_SECONDS:
                log.info(
                    "waiting for an open transaction to end before reading on",
                    extra={"topic": topic, "partitions": sorted(tp.partition for tp in remaining)},
                )
                waiting_since = time.monotonic()
    finally:
        await consumer.stop()
