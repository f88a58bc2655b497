"""Committed offsets read only once no transaction is still committing them (KIP-447's consumer half).

Why: a worker frozen between its transaction's offset commit and the
transaction's end (TxnOffsetCommit accepted, EndTxn not sent yet) leaves those
offsets pending at the group coordinator. aiokafka 0.14 fetches committed
offsets with OffsetFetch v3, which answers with the last *completed* commit:
the partitions' new owner starts before the pending offsets and sends again
the messages whose events the frozen worker's transaction commits when it
wakes, two events for one message (seen in tests/worker/test_zombie.py).

From v7 a fetch may require stable offsets: while a transaction holds pending
offsets for a partition, the coordinator answers UNSTABLE_OFFSET_COMMIT and
the consumer asks again until the transaction has committed or aborted (at
the latest at its timeout), as Java's read_committed consumers do.
``install()`` makes every aiokafka consumer of the process fetch that way; a
group no transaction commits to (Faust's) is never unstable, and a broker
without v7 (before Kafka 2.5) is asked with v3, as before.

aiokafka's handling of the other errors is kept, plus the response's
group-level error code, which aiokafka ignores (an empty answer would read as
"nothing committed" and restart the partitions from their beginning).
"""

from __future__ import annotations

import collections
import logging
from typing import Any

from aiokafka import TopicPartition
from aiokafka import errors as kafka_errors
from aiokafka.consumer.group_coordinator import UNKNOWN_OFFSET, GroupCoordinator
from aiokafka.protocol.api import Request, RequestStruct, Response
from aiokafka.protocol.commit import (
    OffsetFetchRequest,
    OffsetFetchRequest_v1,
    OffsetFetchRequest_v2,
    OffsetFetchRequest_v3,
)
from aiokafka.protocol.types import Boolean, CompactArray, CompactString, Int16, Int32, Int64, Schema, TaggedFields
from aiokafka.structs import OffsetAndMetadata

__all__ = ["UnstableOffsetCommitError", "install"]

log = logging.getLogger(__name__)


class UnstableOffsetCommitError(kafka_errors.BrokerResponseError):  # type: ignore[misc]
    """An open transaction holds offsets for the partition: ask again once it has ended."""

    errno = 88
    message = "UNSTABLE_OFFSET_COMMIT"
    description = "There are unstable offsets that need to be cleared."
    retriable = True


class OffsetFetchResponse_v7(Response):  # type: ignore[misc]
    API_KEY = 9
    API_VERSION = 7
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        (
            "topics",
            CompactArray(
                ("name", CompactString("utf-8")),
                (
                    "partitions",
                    CompactArray(
                        ("partition_index", Int32),
                        ("committed_offset", Int64),
                        ("committed_leader_epoch", Int32),
                        ("metadata", CompactString("utf-8")),
                        ("error_code", Int16),
                        ("tags", TaggedFields),
                    ),
                ),
                ("tags", TaggedFields),
            ),
        ),
        ("error_code", Int16),
        ("tags", TaggedFields),
    )


class OffsetFetchRequest_v7(RequestStruct):  # type: ignore[misc]
    FLEXIBLE_VERSION = True
    API_KEY = 9
    API_VERSION = 7
    RESPONSE_TYPE = OffsetFetchResponse_v7
    SCHEMA = Schema(
        ("group_id", CompactString("utf-8")),
        (
            "topics",
            CompactArray(
                ("name", CompactString("utf-8")), ("partition_indexes", CompactArray(Int32)), ("tags", TaggedFields)
            ),
        ),
        ("require_stable", Boolean),
        ("tags", TaggedFields),
    )


_OffsetFetchStruct = OffsetFetchRequest_v1 | OffsetFetchRequest_v2 | OffsetFetchRequest_v3 | OffsetFetchRequest_v7


class StableOffsetFetchRequest(Request[_OffsetFetchStruct]):  # type: ignore[misc]
    """OffsetFetch requiring stable offsets (v7), or aiokafka's own for a broker without v7."""

    API_KEY = 9

    def __init__(self, group_id: str, partitions: list[tuple[str, list[int]]]) -> None:
        self._group_id = group_id
        self._partitions = partitions

    def build(self, request_struct_class: type[Any]) -> Any:
        if request_struct_class is OffsetFetchRequest_v7:
            topics: list[tuple[str, list[int], dict[int, bytes]]] = [(t, ps, {}) for t, ps in self._partitions]
            return OffsetFetchRequest_v7(self._group_id, topics, True, {})
        return OffsetFetchRequest(self._group_id, self._partitions).build(request_struct_class)


def _partition_replies(response: Any) -> list[tuple[str, int, int, str, int]]:
    """(topic, partition, offset, metadata, error code) of any version's reply."""
    if response.API_VERSION >= 7:
        return [
            (topic, partition, offset, metadata or "", error_code)
            for topic, partitions, _ in response.topics
            for partition, offset, _epoch, metadata, error_code, _ in partitions
        ]
    return [
        (topic, partition, offset, metadata, error_code)
        for topic, partitions in response.topics
        for partition, offset, metadata, error_code in partitions
    ]


def _failure(coordinator: GroupCoordinator, error_code: int, what: object) -> kafka_errors.KafkaError | None:
    """The error to raise for ``error_code``, as aiokafka's (retriable ones are asked again); None: skip the entry."""
    if error_code == UnstableOffsetCommitError.errno:
        log.debug("committed offsets wait for an open transaction", extra={"partition": str(what)})
        return UnstableOffsetCommitError()
    error_type = kafka_errors.for_code(error_code)
    if error_type is kafka_errors.UnknownTopicOrPartitionError:
        log.warning("OffsetFetch: unknown topic or partition", extra={"partition": str(what)})
        return None
    if error_type in (kafka_errors.NotCoordinatorForGroupError, kafka_errors.GroupCoordinatorNotAvailableError):
        coordinator.coordinator_dead()
        return error_type()
    if error_type is kafka_errors.GroupLoadInProgressError:
        return error_type()
    if error_type is kafka_errors.GroupAuthorizationFailedError:
        return error_type(coordinator.group_id)
    return kafka_errors.KafkaError(f"fetching committed offsets of {what} failed: {error_type.__name__}")


async def _fetch_stable_offsets(
    self: GroupCoordinator, partitions: list[TopicPartition]
) -> dict[TopicPartition, OffsetAndMetadata]:
    by_topic: dict[str, list[int]] = collections.defaultdict(list)
    for tp in partitions:
        by_topic[tp.topic].append(tp.partition)
    response = await self._send_req(StableOffsetFetchRequest(self.group_id, list(by_topic.items())))
    group_error = getattr(response, "error_code", 0)  # v2+
    if group_error and (failure := _failure(self, group_error, self.group_id)) is not None:
        raise failure
    offsets: dict[TopicPartition, OffsetAndMetadata] = {}
    for topic, partition, offset, metadata, error_code in _partition_replies(response):
        tp = TopicPartition(topic, partition)
        if error_code:
            if (failure := _failure(self, error_code, tp)) is not None:
                raise failure
            continue
        if offset != UNKNOWN_OFFSET:
            offsets[tp] = OffsetAndMetadata(offset, metadata)
    return offsets


def install() -> None:
    """Make every aiokafka consumer group fetch stable committed offsets (idempotent)."""
    GroupCoordinator._do_fetch_commit_offsets = _fetch_stable_offsets
