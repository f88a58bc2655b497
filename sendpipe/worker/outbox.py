"""What finished messages leave behind, committed to Kafka atomically with the offsets that consumed them.

Why transactions: a DeliveryEvent, its dedupe marker and the source offset
are three writes. Written side by side without a transaction, a crash between
them either loses a message (marker or offset first: the restart skips it,
no event) or duplicates its event (event first). Here every record a finished
message produces (event + marker, DLQ record, requeued record, tombstones)
is buffered, and the committer writes the buffer and the offsets released
so far in one Kafka transaction, every ``interval`` seconds (Kafka Streams'
exactly-once cadence). Consumers of those topics read ``read_committed``.

Consistency rests on one rule: a message's records enter the buffer in the
same synchronous step as its ticket completes (``runtime.Dispatcher``), and
the committer snapshots buffer and offsets together, so an offset is only
ever committed with, or after, the records of every message before it.

Events and outcomes arrive as their models' fields and become models and
JSON when a batch is written: built back to back, pydantic's code stays in
the CPU's caches (paired bursts measured 575 -> 521 µs of worker CPU per
message against building each model where its message finished).

Attempt outcomes are facts whether or not the transaction commits (the
provider was called), and the health agent must see them at once: they go
through a plain producer, outside the transaction, one record per provider
and flush (an ``OutcomeBatch``, gathered as columns as attempts end). The
flush lingers (50 ms by default, ``SENDPIPE_WORKER_OUTCOME_LINGER_MS``): the
health agent pays Faust's per-record cost, so fewer, larger records leave
more of the process's one core (the GIL) to sending, for at most that much
more verdict delay.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaProducer, TopicPartition

from sendpipe.core.messages import DeliveryEvent
from sendpipe.core.outcomes import Channel, Outcome
from sendpipe.core.records import OutcomeBatch, RoutedProvider
from sendpipe.worker.batching import Outgoing, send_batched
from sendpipe.worker.dedupe import DedupeTable
from sendpipe.worker.delivery import Fields
from sendpipe.worker.dlq import DlqReason, dlq_headers
from sendpipe.worker.txn_fencing import GroupMember, fence

__all__ = ["TransactionalOutbox"]

_MAX_OUTCOMES_PER_RECORD = 5000  # ~200 KB of JSON, well below Kafka's default 1 MB record limit

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Outcomes:
    """One provider's outcomes since the last flush, as the columns of its ``OutcomeBatch``."""

    provider: RoutedProvider
    namespace: str
    channel: Channel
    outcomes: list[Outcome] = field(default_factory=list)
    at: list[float] = field(default_factory=list)
    latency_ms: list[float] = field(default_factory=list)
    probes: list[int] = field(default_factory=list)
    retry_after_seconds: dict[int, float] = field(default_factory=dict)

    def add(self, outcome: Outcome, *, at: float, latency_ms: float, probe: bool, retry_after_seconds: float | None) -> None:
        index = len(self.outcomes)
        if probe:
            self.probes.append(index)
        if retry_after_seconds is not None:
            self.retry_after_seconds[index] = retry_after_seconds
        self.outcomes.append(outcome)
        self.at.append(at)
        self.latency_ms.append(latency_ms)

    def batches(self, size: int) -> Iterator[OutcomeBatch]:
        """The outcomes, ``size`` at a time."""
        for start in range(0, len(self.outcomes), size):
            end = start + size
            yield OutcomeBatch(
                provider_uid=self.provider.uid,
                namespace=self.namespace,
                channel=self.channel,
                provider=self.provider.name,
                outcomes=self.outcomes[start:end],
                at=self.at[start:end],
                latency_ms=self.latency_ms[start:end],
                probes=[index - start for index in self.probes if start <= index < end],
                retry_after_seconds={
                    index - start: seconds for index, seconds in self.retry_after_seconds.items() if start <= index < end
                },
            )


class TransactionalOutbox:
    """The pipeline's ``Outputs``: buffered records + released offsets, committed in one transaction."""

    def __init__(
        self,
        *,
        producer: AIOKafkaProducer,
        outcome_producer: AIOKafkaProducer,
        group_id: str,
        topics: Mapping[str, str],
        dedupe: DedupeTable,
        interval_seconds: float,
        outcome_linger_seconds: float,
        max_buffered: int = 20_000,
        on_failure: Callable[[BaseException], Awaitable[Any]],
        member: Callable[[], GroupMember],
    ) -> None:
        self._producer = producer
        self._member = member
        self._outcome_producer = outcome_producer
        self._group_id = group_id
        self._topics = topics
        self._dedupe = dedupe
        self._interval = interval_seconds
        self._max_buffered = max_buffered
        self._on_failure = on_failure
        self._records: list[Outgoing] = []
        self._events: list[Fields] = []  # DeliveryEvents' fields: their JSON is made by ``commit``
        self._outcomes: dict[str, _Outcomes] = {}  # by provider uid
        self._outcome_linger = outcome_linger_seconds
        self._outcomes_due = asyncio.Event()
        self._offsets: dict[TopicPartition, int] = {}
        # Per owned partition, its committed offset (or where this worker began reading it): re-committed
        # so that a transaction without released offsets is fenced too (``commit``).
        self._committed: dict[TopicPartition, int] = {}
        self._lock = asyncio.Lock()
        self._room = asyncio.Event()
        self._room.set()
        self._wake = asyncio.Event()
        self.transactions = 0
        self.last_commit_seconds = 0.0

    # -- Outputs ---------------------------------------------------------------------------------

    async def terminal(self, event: Fields, *, source_partition: int) -> None:
        await self._wait_for_room()
        key = event["id"].encode()
        marker = DedupeTable.marker(status=event["status"].value, partition=source_partition, at=time.time())
        self._records.append(Outgoing(self._dedupe.topic, key, marker, source_partition))
        self._events.append(event)
        self._dedupe.remember(key, marker)

    def outcome(
        self,
        provider: RoutedProvider,
        *,
        namespace: str,
        channel: Channel,
        outcome: Outcome,
        at: float,
        latency_ms: float,
        probe: bool,
        retry_after_seconds: float | None,
    ) -> None:
        # Written within ``outcome_linger`` by ``run_outcomes``: the attempt is over either way.
        pending = self._outcomes.get(provider.uid)
        if pending is None:
            pending = self._outcomes[provider.uid] = _Outcomes(provider, namespace, channel)
        pending.add(outcome, at=at, latency_ms=latency_ms, probe=probe, retry_after_seconds=retry_after_seconds)
        self._outcomes_due.set()

    async def dlq(self, *, raw: bytes, key: bytes | None, source: str, reason: DlqReason, detail: str) -> None:
        await self._wait_for_room()
        headers = dlq_headers(reason=reason, detail=detail, source=source)
        self._records.append(Outgoing(self._topics["dlq"], key, raw, headers=headers))

    async def requeue(self, *, raw: bytes, key: bytes | None, topic: str, partition: int) -> None:
        await self._wait_for_room()
        self._records.append(Outgoing(topic, key, raw, partition, [("sendpipe-requeued", b"1")]))

    def tombstone(self, key: bytes, *, partition: int) -> None:
        self._records.append(Outgoing(self._dedupe.topic, key, None, partition))
        self._dedupe.forget(key)

    # -- offsets ---------------------------------------------------------------------------------

    def reading_from(self, tp: TopicPartition, offset: int) -> None:
        """This worker began reading its partition ``tp`` at ``offset``: where its group's offset stands."""
        self._committed.setdefault(tp, offset)

    def release(self, tp: TopicPartition, offset: int) -> None:
        """The message at ``offset`` and everything before it on ``tp`` are finished (records buffered)."""
        self._offsets[tp] = offset + 1

    def drop_offsets(self, partitions: set[TopicPartition]) -> None:
        """Forget the offsets of ``partitions`` (given up): those released, and where they stand."""
        for tp in partitions:
            self._offsets.pop(tp, None)
            self._committed.pop(tp, None)

    @property
    def buffered(self) -> int:
        return len(self._records) + len(self._events)

    # -- committing ------------------------------------------------------------------------------

    async def commit(self) -> None:
        """Write everything buffered and the released offsets in one transaction (no-op when empty)."""
        async with self._lock:
            records, events, offsets = self._records, self._events, self._offsets
            if not records and not events and not offsets:
                return
            self._records, self._events, self._offsets = [], [], {}
            self._room.set()
            started = time.monotonic()
            producer = self._producer
            try:
                topic = self._topics["events"]
                records += [
                    Outgoing(topic, event["id"].encode(), DeliveryEvent.model_validate(event).to_json_bytes())
                    for event in events
                ]
                # Records of messages that finished out of order may come with no offset released; their
                # partitions' committed offsets are committed again, so the transaction is fenced all the same.
                # (Left unfenced: only dedupe tombstones before any partition was read.)
                fenced = offsets or dict(self._committed)
                if fenced:
                    # The offsets' owner as of now: a member that has since lost the partitions is refused
                    # by the group coordinator, and the whole transaction aborts (txn_fencing).
                    fence(producer, self._member())
                await producer.begin_transaction()
                futures = await send_batched(producer, records)
                if fenced:
                    await producer.send_offsets_to_transaction(fenced, self._group_id)
                await producer.commit_transaction()
                await asyncio.gather(*futures)
                self._committed.update(offsets)
            except BaseException:
                # The records are neither in Kafka nor buffered any more: only a restart can redeliver
                # their messages (their offsets were not committed).
                log.error("transaction failed", extra={"records": len(records), "offsets": len(offsets)})
                # Abort now rather than at the transaction timeout, which read_committed readers of these
                # partitions would wait for; fails harmlessly when nothing is open or the producer is broken.
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(producer.abort_transaction(), timeout=5.0)
                raise
            self.transactions += 1
            self.last_commit_seconds = time.monotonic() - started

    async def run(self) -> None:
        """Commit every ``interval`` seconds (sooner when the buffer fills) until cancelled."""
        await self._until_failure(self._commit_forever())

    async def run_outcomes(self) -> None:
        """Write attempt outcomes as they come, batched over ``outcome_linger`` seconds, until cancelled."""
        await self._until_failure(self._write_outcomes_forever())

    async def _commit_forever(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self._interval)
            except TimeoutError:
                pass
            self._wake.clear()
            await self.commit()

    async def _write_outcomes_forever(self) -> None:
        while True:
            await self._outcomes_due.wait()
            await asyncio.sleep(self._outcome_linger)
            await self.flush_outcomes()

    async def _until_failure(self, loop: Coroutine[Any, Any, None]) -> None:
        try:
            await loop
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            await self._on_failure(exc)

    async def flush_outcomes(self) -> None:
        self._outcomes_due.clear()
        outcomes, self._outcomes = self._outcomes, {}
        if outcomes:
            topic = self._topics["outcomes"]
            records = [
                Outgoing(topic, uid.encode(), batch.to_json_bytes())
                for uid, pending in outcomes.items()
                for batch in pending.batches(_MAX_OUTCOMES_PER_RECORD)
            ]
            await send_batched(self._outcome_producer, records)

    async def _wait_for_room(self) -> None:
        if self.buffered >= self._max_buffered:
            self._room.clear()
            self._wake.set()
            await self._room.wait()
