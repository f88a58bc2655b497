"""Bounded concurrency with in-order release: many messages in flight, offsets committed only as a prefix.

Concurrency without loss (ARCHITECTURE §6): the intake turns each fetched
batch into ``Incoming`` messages (``Dispatcher.receive``: validated, planned
and their first attempts built a chunk at a time) and hands each, in
partition order, to ``Dispatcher.dispatch``, which takes a
slot (``max_in_flight`` per process), registers the record with the
``InOrderReleaser`` and starts a task. A task that finishes (its records
buffered in the outbox: terminal event + dedupe marker, DLQ record, requeue,
or nothing for a duplicate) completes its ticket in the same synchronous
step; the releaser hands the outbox an offset only for the contiguous
finished prefix of the partition, and the outbox commits offsets in the same
transaction as the records. A task whose output fails crashes the worker
without releasing: the record is redelivered after the restart.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, TypeAlias

from aiokafka import ConsumerRecord, TopicPartition

from sendpipe.core.outcomes import Channel
from sendpipe.worker.delivery import Delivery, Finish, Incoming, validate
from sendpipe.worker.metrics import Metrics
from sendpipe.worker.ordering import InOrderReleaser, Ticket

__all__ = ["Dispatcher"]

log = logging.getLogger(__name__)

Record: TypeAlias = ConsumerRecord[bytes, bytes]


# Records are validated (and their first attempts built, ``Delivery.prepare``) this many at a time,
# ahead of their slots: back to back, that code stays in the CPU's caches (a parse repeated at once
# measured ~30% cheaper in the running worker), and a chunk (~5 ms) still leaves the loop responsive.
_VALIDATE_TOGETHER = 64


class Dispatcher:
    """Runs one task per message under a slot limit and releases finished messages in partition order."""

    def __init__(
        self,
        *,
        delivery: Delivery,
        metrics: Metrics,
        max_in_flight: int,
        release: Callable[[TopicPartition, int], None],
        crash: Callable[[BaseException], Awaitable[Any]],
    ) -> None:
        self._delivery = delivery
        self._metrics = metrics
        self._slots = asyncio.Semaphore(max_in_flight)
        self._releaser: InOrderReleaser[tuple[TopicPartition, int]] = InOrderReleaser(lambda item: release(*item))
        self._tasks: dict[TopicPartition, set[asyncio.Task[None]]] = {}
        self._crash = crash
        self.finished: dict[Finish, int] = {finish: 0 for finish in Finish}
        self.in_flight = 0  # a plain int, read by the gauge at scrape time (from Faust's thread)
        metrics.in_flight.set_function(lambda: self.in_flight)

    def receive(self, records: Sequence[Record], *, channel: Channel) -> Iterator[Incoming]:
        """The fetched records of one partition as ``Incoming``, validated and prepared a chunk at a time as taken."""
        for start in range(0, len(records), _VALIDATE_TOGETHER):
            received_at = datetime.now(tz=UTC)
            chunk = []
            for record in records[start : start + _VALIDATE_TOGETHER]:
                raw = record.value if isinstance(record.value, bytes) else b""
                chunk.append(
                    Incoming(
                        raw=raw,
                        key=record.key,
                        topic=record.topic,
                        partition=record.partition,
                        offset=record.offset,
                        channel=channel,
                        received_at=received_at,
                        request=validate(raw, channel=channel, topic=record.topic),
                    )
                )
            self._delivery.prepare(chunk)
            yield from chunk

    async def dispatch(
        self,
        incoming: Incoming,
        *,
        tp: TopicPartition,
        wanted: Callable[[TopicPartition], bool],
        keep_alive: Callable[[], Awaitable[None]],
        keep_alive_every: float,
    ) -> bool:
        """Called for each record in partition order; returns once its task is started.

        While no slot frees up, ``keep_alive`` runs every ``keep_alive_every`` seconds (every slot may
        hold a message waiting minutes for a provider to recover). ``wanted`` is asked after the slot is
        taken (a rebalance may have run meanwhile): False leaves the record alone and returns False.
        """
        if self._slots.locked():
            await self._wait_for_slot(keep_alive, keep_alive_every)
        else:
            await self._slots.acquire()  # free: returns at once
        if not wanted(tp):
            self._slots.release()
            return False
        ticket = self._releaser.add(tp, incoming.offset, (tp, incoming.offset))
        self.in_flight += 1
        task = asyncio.create_task(self._run(ticket, incoming))
        tasks = self._tasks.setdefault(tp, set())
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        return True

    async def _wait_for_slot(self, keep_alive: Callable[[], Awaitable[None]], every: float) -> None:
        while True:
            try:
                await asyncio.wait_for(self._slots.acquire(), timeout=every)
                return
            except TimeoutError:
                await keep_alive()

    async def _run(self, ticket: Ticket[tuple[TopicPartition, int]], incoming: Incoming) -> None:
        try:
            finish = await self._delivery.handle(incoming)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # output failed: never release; restart and redeliver
            log.exception("delivery failed; crashing the worker so the record is redelivered")
            await self._crash(exc)
            return
        finally:
            self._slots.release()
            self.in_flight -= 1
        self.finished[finish] += 1
        self._releaser.complete(ticket)

    def pending(self) -> int:
        """Messages received but not yet released (in flight, or finished behind an unfinished one)."""
        return self._releaser.pending()

    async def settle(self, partitions: set[TopicPartition] | None, *, timeout: float) -> int:
        """Let the tasks of ``partitions`` (all when None) finish for up to ``timeout``; cancel the rest.

        The releaser then forgets those partitions: what was not released is never committed by this
        worker, so the next owner (or this worker after a restart) reads it again. Returns how many were cancelled.
        """
        chosen = set(self._tasks) if partitions is None else partitions & set(self._tasks)
        running = {task for tp in chosen for task in self._tasks[tp]}
        cancelled = 0
        if running:
            _, late = await asyncio.wait(running, timeout=timeout)
            for task in late:
                task.cancel()
            if late:
                await asyncio.wait(late, timeout=5)
            cancelled = len(late)
        self._releaser.forget(set(chosen) if partitions is None else partitions)
        for tp in chosen:
            if not self._tasks[tp]:
                del self._tasks[tp]
        return cancelled

