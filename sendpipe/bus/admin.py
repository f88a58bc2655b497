"""Create SendPipe's topics when they are missing, with the right cleanup policy.

Routing and health are compacted (latest value per key is the state); the
send, outcome and event topics are plain logs.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from aiokafka.admin import AIOKafkaAdminClient, NewPartitions, NewTopic
from aiokafka.errors import InvalidPartitionsError, TopicAlreadyExistsError

from sendpipe.bus.connection import client_options
from sendpipe.settings import KafkaSettings, TopicSettings

log = logging.getLogger(__name__)

VISIBLE_WITHIN_SECONDS = 30.0
COMPACTED = {"cleanup.policy": "compact", "min.cleanable.dirty.ratio": "0.1", "segment.ms": "600000"}


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str
    partitions: int
    replication_factor: int = 1
    config: dict[str, str] = field(default_factory=dict)


def control_topics(topics: TopicSettings) -> list[TopicSpec]:
    """The compacted topics the operator publishes and the workers read in full."""
    return [
        TopicSpec(topics.routing, 1, topics.replication_factor, COMPACTED),
        TopicSpec(topics.health, 1, topics.replication_factor, COMPACTED),
    ]


def data_topics(topics: TopicSettings, channels: list[str]) -> list[TopicSpec]:
    """The send topics, outcomes, events and the DLQ."""
    names = [topics.send_topic(channel) for channel in channels]
    names += [topics.outcomes, topics.events, topics.dlq]
    return [TopicSpec(name, topics.partitions, topics.replication_factor) for name in names]


@asynccontextmanager
async def admin_client(settings: KafkaSettings) -> AsyncIterator[AIOKafkaAdminClient]:
    """A started admin client with SendPipe's connection (and security) settings, closed on exit."""
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        yield admin
    finally:
        await admin.close()


async def ensure_topics(
    settings: KafkaSettings, specs: list[TopicSpec], *, visible_within: float = VISIBLE_WITHIN_SECONDS
) -> list[str]:
    """Create the topics that do not exist yet; return the names created.

    Returns once the broker's metadata shows every created topic with all its
    partitions: a client that fetches metadata before that sees the topic as
    missing, or with no partitions, until its next refresh (minutes later).
    """
    async with admin_client(settings) as admin:
        existing = set(await admin.list_topics())
        missing = [spec for spec in specs if spec.name not in existing]
        if not missing:
            return []
        try:
            await admin.create_topics(
                [
                    NewTopic(
                        name=spec.name,
                        num_partitions=spec.partitions,
                        replication_factor=spec.replication_factor,
                        topic_configs=spec.config,
                    )
                    for spec in missing
                ]
            )
        except TopicAlreadyExistsError:
            pass  # another process created it first
        created = [spec.name for spec in missing]
        await _wait_visible(admin, missing, within=visible_within)
        log.info("created topics", extra={"topics": created})
        return created


async def _wait_visible(admin: AIOKafkaAdminClient, specs: list[TopicSpec], *, within: float) -> None:
    deadline = time.monotonic() + within
    while True:
        counts = await _partition_counts(admin, [spec.name for spec in specs])
        pending = [spec.name for spec in specs if counts.get(spec.name, 0) < spec.partitions]
        if not pending:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"created topics not in the broker's metadata within {within:.0f}s: {', '.join(pending)}")
        await asyncio.sleep(0.1)


async def partition_counts(settings: KafkaSettings, names: list[str]) -> dict[str, int]:
    """How many partitions each of ``names`` has (topics that do not exist are left out)."""
    async with admin_client(settings) as admin:
        return await _partition_counts(admin, names)


async def grow_partitions(settings: KafkaSettings, topic: str, at_least: int) -> int:
    """Give ``topic`` at least ``at_least`` partitions (never fewer than it has); returns its count after."""
    async with admin_client(settings) as admin:
        count = (await _partition_counts(admin, [topic]))[topic]
        if count >= at_least:
            return count
        try:
            await admin.create_partitions({topic: NewPartitions(total_count=at_least)})
        except InvalidPartitionsError:  # another worker grew it first
            return (await _partition_counts(admin, [topic]))[topic]
        log.info("grew topic partitions", extra={"topic": topic, "from": count, "to": at_least})
        return at_least


async def _partition_counts(admin: AIOKafkaAdminClient, names: list[str]) -> dict[str, int]:
    described = await admin.describe_topics(names)
    return {topic["topic"]: len(topic["partitions"]) for topic in described if topic["error_code"] == 0}
