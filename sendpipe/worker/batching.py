"""Write many records with a few ``send_batch`` calls instead of one ``send`` (and one future) per record.

Why: per record, ``AIOKafkaProducer.send`` looks up metadata, partitions,
appends under the accumulator and returns a future that the event loop later
resolves; at two or three records per message that was a tenth of the
worker's CPU (profiled). Records are grouped by topic-partition into
``BatchBuilder``s; keys without a partition go where the producer's own
partitioner (murmur2, like the Java client's) would put them.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner

__all__ = ["Outgoing", "send_batched"]

Headers = list[tuple[str, bytes]]
_partitioner = DefaultPartitioner()


@dataclass(slots=True)  # not frozen: a frozen __init__ costs ~0.5 µs more, two or three times per message
class Outgoing:
    topic: str
    key: bytes | None
    value: bytes | None
    partition: int | None = None
    headers: Headers | None = None


async def send_batched(producer: AIOKafkaProducer, records: Iterable[Outgoing]) -> list[asyncio.Future[Any]]:
    """Queue ``records`` in per-partition batches (record order kept within a partition); returns the batches' futures."""
    partitions: dict[str, list[int]] = {}
    grouped: dict[tuple[str, int], list[Outgoing]] = {}
    for record in records:
        partition = record.partition
        if partition is None:
            known = partitions.get(record.topic)
            if known is None:
                known = partitions[record.topic] = sorted(await producer.partitions_for(record.topic))
            partition = _partitioner(record.key, known, known) if record.key is not None else random.choice(known)
        grouped.setdefault((record.topic, partition), []).append(record)
    futures = []
    for (topic, partition), items in grouped.items():
        batch = producer.create_batch()
        for record in items:
            if batch.append(key=record.key, value=record.value, timestamp=None, headers=record.headers or []) is None:
                batch.close()
                futures.append(await producer.send_batch(batch, topic, partition=partition))
                batch = producer.create_batch()
                if batch.append(key=record.key, value=record.value, timestamp=None, headers=record.headers or []) is None:
                    raise ValueError(f"a record for {topic} is larger than a whole batch")
        batch.close()
        futures.append(await producer.send_batch(batch, topic, partition=partition))
    return futures
