"""The send topics' consumer: a plain aiokafka consumer group feeding the dispatcher, committing through the outbox.

Why not a Faust agent: the offsets of the send topics must be committed in
the same Kafka transaction as the records their messages produce
(``outbox.py``), which Faust's consumer cannot do, and Faust's per-event
machinery cost about half of the worker's CPU per message (profiled). The
rest of the worker (health agent, tables, timers, web) stays a Faust app.

Rebalances: before partitions are given up, messages still waiting for a
provider are handed back to their topic, the rest get ``revoke_grace_seconds``
to finish, and everything finished is committed; what is left is never
committed here and is read again by the next owner. When partitions arrive,
their dedupe markers are restored before their first record is handled.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.coordinator.assignors.range import RangePartitionAssignor

from sendpipe.bus.connection import client_options
from sendpipe.core.outcomes import Channel
from sendpipe.settings import KafkaSettings
from sendpipe.worker.dedupe import DedupeTable
from sendpipe.worker.outbox import TransactionalOutbox
from sendpipe.worker.runtime import Dispatcher
from sendpipe.worker.txn_fencing import GroupMember

__all__ = ["SendIntake"]

log = logging.getLogger(__name__)


class SendIntake(ConsumerRebalanceListener):  # type: ignore[misc]
    """Consumes the send topics (one consumer group for all channels) until stopped."""

    def __init__(
        self,
        *,
        kafka: KafkaSettings,
        topics: dict[str, Channel],
        group_id: str,
        dispatcher: Dispatcher,
        outbox: TransactionalOutbox,
        dedupe: DedupeTable,
        fetch_max_wait_ms: int,
        session_timeout_seconds: float,
        max_poll_interval_seconds: float,
        revoke_grace_seconds: float,
        on_failure: Callable[[BaseException], Awaitable[Any]],
    ) -> None:
        self._kafka = kafka
        self._topics = topics
        self._dispatcher = dispatcher
        self._outbox = outbox
        self._dedupe = dedupe
        self._revoke_grace = revoke_grace_seconds
        # Well inside max.poll.interval: how long dispatch waits for a slot before polling to stay in the group.
        self._keep_alive_every = max_poll_interval_seconds / 5
        self._on_failure = on_failure
        self.group_id = group_id
        self.fetch_max_wait_ms = fetch_max_wait_ms
        self.assigned: set[TopicPartition] = set()
        self._generation = 0  # bumped by every rebalance: records fetched before one are not dispatched after it
        self._settled = asyncio.Event()  # an assignment is complete (its dedupe markers restored)
        self._consumer = AIOKafkaConsumer(
            **client_options(kafka),
            group_id=group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",  # a requeued record is only real once its transaction commits
            fetch_max_wait_ms=fetch_max_wait_ms,
            max_poll_records=500,
            session_timeout_ms=int(session_timeout_seconds * 1000),
            max_poll_interval_ms=int(max_poll_interval_seconds * 1000),
            heartbeat_interval_ms=int(min(3.0, session_timeout_seconds / 3) * 1000),
            # Range co-partitions: partition p of every send topic goes to one member, so one
            # worker restores each dedupe changelog partition.
            partition_assignment_strategy=(RangePartitionAssignor,),
        )
        self._task: asyncio.Task[None] | None = None

    @property
    def rebalancing(self) -> bool:
        """Between giving partitions up (or before the first assignment) and their next assignment."""
        return not self._settled.is_set()

    def member(self) -> GroupMember:
        """This consumer's member id and generation in its group (generation -1 when not a member)."""
        coordinator = self._consumer._coordinator
        if coordinator is None:
            return GroupMember(member_id="", generation=-1)
        return GroupMember(member_id=coordinator.member_id, generation=coordinator.generation)

    async def start(self) -> None:
        self._consumer.subscribe(list(self._topics), listener=self)
        await self._consumer.start()
        self._task = asyncio.create_task(self._run(), name="send-intake")

    async def stop(self, *, drain_seconds: float) -> None:
        """Stop fetching, let messages in flight finish (waiting ones are handed back), commit, leave the group."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        try:
            await self._give_up(None, grace=drain_seconds)
            log.info("send intake drained and committed; leaving the group")
        finally:
            await self._consumer.stop()

    async def _run(self) -> None:
        consumer, dispatcher, topics = self._consumer, self._dispatcher, self._topics
        try:
            while True:
                fetched = await consumer.getmany(timeout_ms=200)
                if not fetched:
                    continue
                generation = self._generation
                # Records of a new assignment may arrive before its dedupe markers are restored.
                await self._settled.wait()

                def wanted(_: TopicPartition) -> bool:
                    return self._generation == generation

                for tp, records in fetched.items():
                    if not wanted(tp):
                        break
                    self._outbox.reading_from(tp, records[0].offset)
                    for incoming in dispatcher.receive(records, channel=topics[tp.topic]):
                        # False: a rebalance began meanwhile; the partition is read again from its committed offset.
                        dispatched = await dispatcher.dispatch(
                            incoming, tp=tp, wanted=wanted,
                            keep_alive=self._poll_taking_nothing, keep_alive_every=self._keep_alive_every,
                        )
                        if not dispatched:
                            break
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            log.exception("send intake failed")
            await self._on_failure(exc)

    async def _poll_taking_nothing(self) -> None:
        """Stay in the group while every slot waits for a provider to recover: a poll with every partition paused.

        aiokafka leaves the group when ``getmany`` has not been called for max.poll.interval; the
        partitions would move while this worker still holds their waiting messages. Records already
        fetched for a paused partition are dropped and fetched again from its position.
        """
        consumer = self._consumer
        paused = consumer.assignment()
        consumer.pause(*paused)
        try:
            fetched = await consumer.getmany(timeout_ms=0)
        finally:
            consumer.resume(*(paused & consumer.assignment()))
        for tp, records in fetched.items():  # assigned meanwhile, so not paused: read them again later
            consumer.seek(tp, records[0].offset)
        log.info("every slot waits for a provider; polled to stay in the group", extra={"returned": len(fetched)})

    async def _give_up(self, partitions: set[TopicPartition] | None, *, grace: float) -> None:
        self._settled.clear()
        self._generation += 1
        cancelled = await self._dispatcher.settle(partitions, timeout=grace)
        await self._outbox.commit()
        gone = set(self.assigned) if partitions is None else partitions
        self._outbox.drop_offsets(gone)
        self.assigned -= gone
        still_owned = {tp.partition for tp in self.assigned}
        self._dedupe.drop_partitions({tp.partition for tp in gone} - still_owned)
        if cancelled:
            log.info("messages left for their next owner", extra={"count": cancelled})

    # -- ConsumerRebalanceListener ---------------------------------------------------------------

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        try:
            await self._give_up(set(revoked), grace=self._revoke_grace)
        except BaseException as exc:
            await self._on_failure(exc)
            raise

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        try:
            partitions = {tp.partition for tp in assigned}
            if partitions:  # a send topic grown while this worker ran
                await self._dedupe.cover(self._kafka, max(partitions) + 1)
            loaded = await self._dedupe.restore(self._kafka, partitions)
            self.assigned = set(assigned)
            self._settled.set()
            log.info(
                "send partitions assigned",
                extra={"partitions": sorted(f"{tp.topic}:{tp.partition}" for tp in assigned), "dedupe_markers": loaded},
            )
        except BaseException as exc:
            await self._on_failure(exc)
            raise
