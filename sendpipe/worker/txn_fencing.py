"""Consumer-group fencing of transactional offset commits (KIP-447), which aiokafka 0.14 does not send.

Why: aiokafka's ``send_offsets_to_transaction`` sends TxnOffsetCommit v0, which
carries no group generation. A worker that lost its partitions without noticing
(stopped past the session timeout, cut off from the group coordinator) would
still commit its buffered DeliveryEvents and offsets after the new owner took
over: two events for one message. From v3 the request names the committing
member and its generation; the group coordinator rejects a stale one
(ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID), the transaction
becomes abortable and none of its records is ever visible to
``read_committed`` readers.

``fence(producer, member)`` makes the next offset commits of ``producer``
carry ``member``; a commit without a member (generation < 0) is refused before
it is sent, because the coordinator accepts those unchecked. The request and
response classes follow aiokafka's own flexible-version protocol classes; a
broker without v3 (before Kafka 2.5) gets v0, as before.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka import errors as kafka_errors
from aiokafka.producer import sender as aiokafka_sender
from aiokafka.producer.transaction_manager import TransactionState
from aiokafka.protocol.api import Request, RequestStruct, Response
from aiokafka.protocol.transaction import TxnOffsetCommitRequest, TxnOffsetCommitRequest_v0
from aiokafka.protocol.types import (
    CompactArray,
    CompactString,
    Int16,
    Int32,
    Int64,
    Schema,
    TaggedFields,
)

__all__ = ["GroupMember", "LostGroupMembership", "fence", "install"]

_FENCED = (kafka_errors.IllegalGenerationError, kafka_errors.UnknownMemberIdError)
_FENCED_INSTANCE_ID = 82


class LostGroupMembership(RuntimeError):
    """This worker is no longer the member that owns the offsets it tried to commit."""


@dataclass(frozen=True, slots=True)
class GroupMember:
    """Who commits: the consumer's member id and generation when the commit began."""

    member_id: str
    generation: int


class TxnOffsetCommitResponse_v3(Response):  # type: ignore[misc]
    API_KEY = 28
    API_VERSION = 3
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        (
            "topics",
            CompactArray(
                ("name", CompactString("utf-8")),
                (
                    "partitions",
                    CompactArray(("partition_index", Int32), ("error_code", Int16), ("tags", TaggedFields)),
                ),
                ("tags", TaggedFields),
            ),
        ),
        ("tags", TaggedFields),
    )


class TxnOffsetCommitRequest_v3(RequestStruct):  # type: ignore[misc]
    FLEXIBLE_VERSION = True
    API_KEY = 28
    API_VERSION = 3
    RESPONSE_TYPE = TxnOffsetCommitResponse_v3
    SCHEMA = Schema(
        ("transactional_id", CompactString("utf-8")),
        ("group_id", CompactString("utf-8")),
        ("producer_id", Int64),
        ("producer_epoch", Int16),
        ("generation_id", Int32),
        ("member_id", CompactString("utf-8")),
        ("group_instance_id", CompactString("utf-8")),  # nullable: static membership is not used
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
                        ("committed_metadata", CompactString("utf-8")),
                        ("tags", TaggedFields),
                    ),
                ),
                ("tags", TaggedFields),
            ),
        ),
        ("tags", TaggedFields),
    )


class MemberTxnOffsetCommitRequest(Request[TxnOffsetCommitRequest_v0 | TxnOffsetCommitRequest_v3]):  # type: ignore[misc]
    """aiokafka's TxnOffsetCommit plus the committing group member: v3, or v0 for a broker that lacks v3."""

    API_KEY = 28

    def __init__(self, plain: TxnOffsetCommitRequest, member: GroupMember) -> None:
        self._plain = plain
        self._member = member

    def build(
        self, request_struct_class: type[TxnOffsetCommitRequest_v0 | TxnOffsetCommitRequest_v3]
    ) -> TxnOffsetCommitRequest_v0 | TxnOffsetCommitRequest_v3:
        plain = self._plain
        if request_struct_class is TxnOffsetCommitRequest_v0:
            return plain.build(TxnOffsetCommitRequest_v0)
        topics: list[tuple[str, list[tuple[int, int, int, str, dict[int, bytes]]], dict[int, bytes]]] = [
            (topic, [(partition, offset, -1, metadata, {}) for partition, offset, metadata in partitions], {})
            for topic, partitions in plain._topics
        ]
        return TxnOffsetCommitRequest_v3(
            plain._transactional_id, plain._group_id, plain._producer_id, plain._producer_epoch,
            self._member.generation, self._member.member_id, None, topics, {},
        )


class _MemberTxnOffsetCommitHandler(aiokafka_sender.TxnOffsetCommitHandler):  # type: ignore[misc]
    """aiokafka's handler, sending the member of ``fence`` and treating a stale one as abortable."""

    def create_request(self) -> Any:
        plain = super().create_request()
        member: GroupMember | None = getattr(self._sender, "_sendpipe_member", None)
        return plain if member is None else MemberTxnOffsetCommitRequest(plain, member)

    def handle_response(self, resp: Any) -> Any:
        if resp.API_VERSION < 3:
            return super().handle_response(resp)
        errors = [
            (topic, [(partition, code) for partition, code, _ in partitions]) for topic, partitions, _ in resp.topics
        ]
        for _, partitions in errors:
            for _, code in partitions:
                if code == _FENCED_INSTANCE_ID or kafka_errors.for_code(code) in _FENCED:
                    member = self._sender._sendpipe_member
                    _make_abortable(
                        self._sender._txn_manager,
                        LostGroupMembership(
                            f"offset commit refused ({kafka_errors.for_code(code).__name__}): member "
                            f"{member.member_id!r} of generation {member.generation} no longer owns these partitions"
                        ),
                    )
                    return None
        return super().handle_response(SimpleNamespace(errors=errors))


def _make_abortable(txn_manager: Any, exc: BaseException) -> None:
    """aiokafka's ``error_transaction``, but the transaction keeps its partitions and group.

    aiokafka's own version forgets them, so ``abort_transaction`` sends no EndTxn and the broker's
    transaction stays open: the next commit of the producer would make the refused records visible
    (shown by tests/worker/test_txn_fencing.py before this).
    """
    txn_manager._transition_to(TransactionState.ABORTABLE_ERROR)
    txn_manager._pending_txn_partitions.clear()
    for _, _, future in txn_manager._pending_txn_offsets:
        future.set_exception(exc)
    txn_manager._pending_txn_offsets.clear()
    txn_manager._transaction_waiter.set_exception(exc)
    txn_manager._transaction_waiter.exception()  # raised to the caller by send_offsets_to_transaction already


def install() -> None:
    """Let aiokafka's sender use the member-aware handler (idempotent; unfenced producers behave as before)."""
    aiokafka_sender.TxnOffsetCommitHandler = _MemberTxnOffsetCommitHandler


def fence(producer: AIOKafkaProducer, member: GroupMember) -> None:
    """Make ``producer``'s next offset commits name ``member``; refuse at once if it is not a member."""
    if member.generation < 0 or not member.member_id:
        raise LostGroupMembership("not a member of the consumer group (it left or was removed): offsets not committed")
    producer._sender._sendpipe_member = member
