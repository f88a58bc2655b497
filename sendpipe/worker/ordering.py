"""In-order completion tracking: release a partition's messages only as a contiguous prefix.

Why it exists: messages of one partition are processed concurrently and
finish out of order, but a Kafka offset commit means "everything before this
offset is done" (the bug class of faust-streaming issue #606, where Faust's
own tracker commits past unfinished events). The worker releases an offset
to the outbox only when the message *and every message received before it
on that partition* have their terminal records buffered; the outbox commits
only released offsets.

Arrival order, not offset arithmetic, defines "before": offsets may have gaps
(transaction markers, compaction), and a partition's messages always arrive in
offset order. Pure bookkeeping, no Kafka import: unit-tested on its own.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

__all__ = ["InOrderReleaser", "Ticket"]

T = TypeVar("T")


@dataclass(slots=True, eq=False)
class Ticket(Generic[T]):
    """One message in flight: released (acked) once it and all its predecessors are done."""

    partition: Hashable
    offset: int
    item: T
    generation: int
    done: bool = field(default=False)


class InOrderReleaser(Generic[T]):
    """Per-partition FIFO of tickets; ``complete`` releases the done prefix through ``release``.

    ``forget`` drops partitions (revoked in a rebalance): their tickets are
    never released, so their offsets are not committed by this worker and the
    new owner re-reads them (at-least-once; the dedupe table suppresses repeats).
    """

    def __init__(self, release: Callable[[T], None]) -> None:
        self._release = release
        self._queues: dict[Hashable, deque[Ticket[T]]] = {}
        self._generation: dict[Hashable, int] = {}

    def add(self, partition: Hashable, offset: int, item: T) -> Ticket[T]:
        """Register a message as it arrives (in the partition's order)."""
        queue = self._queues.get(partition)
        if queue is None:
            queue = self._queues[partition] = deque()
        elif queue and offset <= queue[-1].offset:
            # Re-delivery after a seek (e.g. the partition came back): start over from here.
            queue.clear()
            self._generation[partition] = self._generation.get(partition, 0) + 1
        ticket = Ticket(partition, offset, item, self._generation.get(partition, 0))
        queue.append(ticket)
        return ticket

    def complete(self, ticket: Ticket[T]) -> int:
        """Mark one ticket done; release every done ticket at the head of its queue. Returns how many."""
        ticket.done = True
        if ticket.generation != self._generation.get(ticket.partition, 0):
            return 0  # a ticket of a forgotten generation: never released
        queue = self._queues.get(ticket.partition)
        released = 0
        while queue and queue[0].done:
            self._release(queue.popleft().item)
            released += 1
        return released

    def forget(self, partitions: set[Hashable] | None = None) -> None:
        """Drop the pending tickets of ``partitions`` (all when None); late completions release nothing."""
        for partition in list(self._queues) if partitions is None else partitions:
            if partition in self._queues:
                self._queues[partition].clear()
            self._generation[partition] = self._generation.get(partition, 0) + 1

    def pending(self, partition: Hashable | None = None) -> int:
        """Tickets not yet released (of one partition, or all)."""
        if partition is not None:
            return len(self._queues.get(partition, ()))
        return sum(len(queue) for queue in self._queues.values())

    def head_offset(self, partition: Hashable) -> int | None:
        """The oldest unreleased offset of a partition: the offset a commit may not pass."""
        queue = self._queues.get(partition)
        return queue[0].offset if queue else None
