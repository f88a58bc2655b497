"""The glue between Faust and the pipeline: bounded concurrency, in-order acks, outputs, dedupe table.

Concurrency without loss (ARCHITECTURE §6): each send topic has one agent
with ``concurrency=1`` iterating the stream in ``noack`` mode. For every
event it takes a slot (``max_in_flight`` per process), registers the event
with the ``InOrderReleaser`` and starts a task. A task that finishes (terminal
event + dedupe record acknowledged by the broker, or DLQ record, or skip)
completes its ticket; the releaser calls ``event.ack()`` only for the
contiguous finished prefix of that partition. Faust's consumer then commits
exactly that prefix (its committer is unsafe only with acks out of order,
which this never gives it); ``faust_tuning.guard_acks`` drops the acks Faust
itself gives to events it skips around rebalances and shutdown. A task that fails to produce crashes the app
without acking: the record is redelivered after the restart.

The terminal event and the dedupe changelog record are appended to the same
producer back to back (no await between the appends), so they travel in the
same produce request; the in-memory dedupe entry is set only once both are
acknowledged.
"""

from __future__ import annotations

import asyncio
import logging
import struct
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from sendpipe.core.messages import DeliveryEvent
from sendpipe.core.outcomes import Channel
from sendpipe.core.records import OutcomeRecord
from sendpipe.worker import faust_tuning
from sendpipe.worker.delivery import Delivery, Finish, Incoming
from sendpipe.worker.dlq import DlqReason, dlq_headers
from sendpipe.worker.metrics import Metrics
from sendpipe.worker.ordering import InOrderReleaser, Ticket

__all__ = ["DedupeTable", "Dispatcher", "KafkaOutputs"]

log = logging.getLogger(__name__)

_DEDUPE = struct.Struct(">dHc")  # completed_at epoch, source partition, status initial (S/F)


class DedupeTable:
    """Terminal results by message id, in a changelog-backed Faust table (``data`` + explicit changelog writes)."""

    def __init__(self, *, data: Any, changelog_topic: str, expiry_seconds: float) -> None:
        self.data = data  # the Faust table's store: a MutableMapping[bytes, bytes]
        self.changelog_topic = changelog_topic
        self.expiry_seconds = expiry_seconds

    def seen(self, message_id: str) -> bool:
        value = self.data.get(message_id.encode())
        if value is None:
            return False
        completed_at, _, _ = _DEDUPE.unpack(value)
        return bool(time.time() - completed_at < self.expiry_seconds)

    @staticmethod
    def encode(*, status: str, partition: int, at: float) -> bytes:
        return _DEDUPE.pack(at, partition, status[:1].encode())

    def expired(self, *, now: float, partitions: set[int]) -> list[tuple[bytes, int]]:
        """Keys past expiry whose partition this worker owns: (key, partition) to tombstone."""
        result = []
        for key, value in list(self.data.items()):
            try:
                completed_at, partition, _ = _DEDUPE.unpack(value)
            except (struct.error, TypeError):
                continue
            if partition in partitions and now - completed_at >= self.expiry_seconds:
                result.append((key, partition))
        return result


class KafkaOutputs:
    """The pipeline's ``Outputs`` over Faust's producer (so Faust's commit flushes them first)."""

    def __init__(
        self,
        *,
        producer: Callable[[], Any],
        topics: Mapping[str, str],
        dedupe: DedupeTable,
    ) -> None:
        self._producer = producer  # late-bound: app.producer exists once the app started
        self._topics = topics
        self._dedupe = dedupe

    async def terminal(self, event: DeliveryEvent, *, source_partition: int) -> None:
        producer = self._producer()
        key = event.id.encode()
        marker = DedupeTable.encode(status=event.status.value, partition=source_partition, at=time.time())
        # Both appends before any await that yields: one produce request carries both.
        changelog = await producer.send(self._dedupe.changelog_topic, key, marker, source_partition, None, None)
        emitted = await producer.send(self._topics["events"], key, event.to_json_bytes(), None, None, None)
        await asyncio.gather(changelog, emitted)
        self._dedupe.data[key] = marker

    async def outcome(self, record: OutcomeRecord) -> None:
        producer = self._producer()
        # Not awaited to the broker: Faust flushes the producer before every offset commit.
        await producer.send(self._topics["outcomes"], record.provider_uid.encode(), record.to_json_bytes(), None, None, None)

    async def dlq(self, *, raw: bytes, key: bytes | None, source: str, reason: DlqReason, detail: str) -> None:
        producer = self._producer()
        headers = dlq_headers(reason=reason, detail=detail, source=source)
        await (await producer.send(self._topics["dlq"], key, raw, None, None, headers))

    async def requeue(self, *, raw: bytes, key: bytes | None, topic: str, partition: int) -> None:
        producer = self._producer()
        await (await producer.send(topic, key, raw, partition, None, [("sendpipe-requeued", b"1")]))

    async def tombstone(self, key: bytes, *, partition: int) -> None:
        producer = self._producer()
        await producer.send(self._dedupe.changelog_topic, key, None, partition, None, None)
        self._dedupe.data.pop(key, None)


class Dispatcher:
    """Runs one task per message under a slot limit and acks finished messages in partition order."""

    def __init__(self, *, delivery: Delivery, metrics: Metrics, max_in_flight: int, crash: Callable[[BaseException], Any]) -> None:
        self._delivery = delivery
        self._metrics = metrics
        self._slots = asyncio.Semaphore(max_in_flight)
        self._releaser: InOrderReleaser[Any] = InOrderReleaser(faust_tuning.release)
        self._tasks: set[asyncio.Task[None]] = set()
        self._crash = crash
        self.finished: dict[Finish, int] = {finish: 0 for finish in Finish}

    async def dispatch(self, event: Any, *, channel: Channel) -> None:
        """Called by the agent for each event (in partition order); returns once the task is started."""
        await self._slots.acquire()
        message = event.message
        ticket = self._releaser.add(message.tp, message.offset, event)
        value = event.value
        incoming = Incoming(
            raw=value if isinstance(value, bytes) else b"",
            key=message.key if isinstance(message.key, bytes) else None,
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            channel=channel,
            received_at=datetime.now(tz=UTC),
        )
        self._metrics.in_flight.inc()
        task = asyncio.create_task(self._run(ticket, incoming), name=f"deliver:{message.tp.partition}:{message.offset}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, ticket: Ticket[Any], incoming: Incoming) -> None:
        try:
            finish = await self._delivery.handle(incoming)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # output failed: never ack; restart and redeliver
            log.exception("delivery failed; crashing the worker so the record is redelivered")
            await self._crash(exc)
            return
        finally:
            self._slots.release()
            self._metrics.in_flight.dec()
        self.finished[finish] += 1
        self._releaser.complete(ticket)

    def forget(self, partitions: set[Any]) -> None:
        self._releaser.forget(partitions)

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    async def drain(self, timeout: float) -> None:
        """Wait for tasks in flight (graceful shutdown); cancel what is left after ``timeout``."""
        if not self._tasks:
            return
        done, pending = await asyncio.wait(set(self._tasks), timeout=timeout)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=5)
