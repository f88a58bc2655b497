"""The send path on an event loop of its own: views, intake, dispatcher, delivery, outbox.

Why a second loop: at full load the send path keeps hundreds of tasks ready,
and one iteration of its event loop takes 20-25 ms (measured: 40-48
iterations/s at ~1,100 messages/s). Faust's consumer spends about two loop
iterations per record, so on a shared loop the health agent read ~15 records/s
while 1,100 outcomes/s arrived: verdicts lagged behind by seconds and
``/ready`` or ``/metrics`` answered late. Here the Faust app (health agent,
tables, timers, web pages) keeps the main loop, and this module runs the send
path in a thread; the interpreter hands the GIL to a waiting thread every
``gil_switch_interval_seconds``, so the mostly idle Faust loop is served at once.

The two loops share no mutable state except through ``SendPlane.read`` (a
function run on the send loop, awaited from the other) and reads of plain
flags; metrics (prometheus_client) are thread-safe, and verdicts travel
through Kafka (``sendpipe.health``) like those of any other worker.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from aiokafka import AIOKafkaProducer

from sendpipe.bus import admin
from sendpipe.bus.connection import client_options
from sendpipe.core.outcomes import Channel
from sendpipe.core.sealing import Keyring
from sendpipe.providers import ProviderClient
from sendpipe.settings import KafkaSettings, TopicSettings, WorkerSettings
from sendpipe.worker import stable_offsets, txn_fencing
from sendpipe.worker.dedupe import DedupeTable
from sendpipe.worker.delivery import Delivery
from sendpipe.worker.intake import SendIntake
from sendpipe.worker.metrics import Metrics
from sendpipe.worker.outbox import TransactionalOutbox
from sendpipe.worker.runtime import Dispatcher
from sendpipe.worker.views import CredentialCache, Views

__all__ = ["LoopThread", "SendPlane"]

log = logging.getLogger(__name__)

CLOSE_SECONDS = 15.0  # for the last commit and closing the clients, after the drain

T = TypeVar("T")


class LoopThread:
    """An asyncio event loop running in a daemon thread until ``stop``."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()  # the installed policy's loop (uvloop when chosen)
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_forever()
        finally:
            self.loop.close()

    async def call(self, function: Callable[[], Coroutine[Any, Any, T]]) -> T:
        """Run ``function()`` on this loop; await its result from the caller's loop."""
        future: concurrent.futures.Future[T] = asyncio.run_coroutine_threadsafe(function(), self.loop)
        return await asyncio.wrap_future(future)

    async def read(self, function: Callable[[], T]) -> T:
        """Run the plain ``function()`` on this loop (to read its state consistently); await the result."""

        async def on_loop() -> T:
            return function()

        return await self.call(on_loop)

    def stop(self, *, timeout: float = 10.0) -> None:
        if self._thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout)


class SendPlane:
    """Builds the send path on its own loop; started and stopped from Faust's loop."""

    def __init__(
        self,
        *,
        worker: WorkerSettings,
        kafka: KafkaSettings,
        topics: TopicSettings,
        channels: list[Channel],
        partitions: int,
        views: Views,
        dedupe: DedupeTable,
        metrics: Metrics,
        keyring: Keyring | None,
        crash: Callable[[BaseException], None],
    ) -> None:
        self._worker = worker
        self._kafka = kafka
        self._topics = topics
        self._channels = channels
        self._partitions = partitions
        self.views = views
        self.dedupe = dedupe
        self._metrics = metrics
        self._keyring = keyring
        self._crash = crash
        self._thread = LoopThread("sendpipe-send")
        self.started = False
        self.stopping = False
        self._tasks: list[asyncio.Task[None]] = []
        self._producers: tuple[AIOKafkaProducer, AIOKafkaProducer] | None = None

    # -- from Faust's loop -----------------------------------------------------------------------

    async def start(self) -> None:
        self._thread.start()
        await self._thread.call(self._start)
        self.started = True

    async def stop(self) -> None:
        """Stop taking messages, drain (waiting ones are handed back), commit, close; then end the thread.

        Bounded: after the drain time and ``CLOSE_SECONDS`` more, the worker leaves without its last
        commit (what it did not commit is read again after the restart), well inside the pod's
        termination grace period rather than being killed at its end.
        """
        self.stopping = True
        limit = self._worker.drain_seconds + CLOSE_SECONDS
        try:
            await asyncio.wait_for(self._thread.call(self._stop), timeout=limit)
        except TimeoutError:
            log.error("send path did not stop in time; leaving without its last commit", extra={"seconds": limit})
        finally:
            self._thread.stop()

    async def read(self, function: Callable[[], T]) -> T:
        """Run ``function()`` on the send loop and await its result (to read the send path's state)."""
        return await self._thread.read(function)

    @property
    def rebalancing(self) -> bool:
        return self.started and self.intake.rebalancing

    @property
    def ready(self) -> bool:
        return self.started and self.views.ready and not self.stopping and not self.rebalancing

    # -- on the send loop ------------------------------------------------------------------------

    async def _on_failure(self, exc: BaseException) -> None:
        self._crash(exc)

    def _unseal(self, sealed: str, uid: str) -> dict[str, str]:
        if self._keyring is None:
            raise LookupError("no sealing keyring")
        return self._keyring.unseal(sealed, provider_uid=uid)

    async def _start(self) -> None:
        worker, topics = self._worker, self._topics
        # The worker's own state topic, whatever SENDPIPE_WORKER_CREATE_TOPICS says (like Faust's changelogs).
        changelog = admin.TopicSpec(self.dedupe.topic, self._partitions, topics.replication_factor, admin.COMPACTED)
        await admin.ensure_topics(self._kafka, [changelog])
        send_topics = {topics.send_topic(channel.value): channel for channel in self._channels}
        widest = max((await admin.partition_counts(self._kafka, list(send_topics))).values(), default=self._partitions)
        await self.dedupe.cover(self._kafka, widest)  # send topics may have been created, or grown, wider
        await self.views.start()
        txn_fencing.install()
        stable_offsets.install()
        self._producers = producers = self._new_producers()
        for producer in producers:
            await producer.start()
        group_id = f"{worker.app_id}-send"
        self.outbox = TransactionalOutbox(
            producer=producers[0],
            outcome_producer=producers[1],
            group_id=group_id,
            topics={"events": topics.events, "outcomes": topics.outcomes, "dlq": topics.dlq},
            dedupe=self.dedupe,
            interval_seconds=worker.commit_interval_ms / 1000.0,
            on_failure=self._on_failure,
            member=lambda: self.intake.member(),
            outcome_linger_seconds=worker.outcome_linger_ms / 1000.0,
        )
        self.client = ProviderClient(max_connections=max(10, worker.max_in_flight))
        self.delivery = Delivery(
            views=self.views,
            credentials=CredentialCache(self._unseal),
            client=self.client,
            outputs=self.outbox,
            dedupe=self.dedupe,
            metrics=self._metrics,
            max_wait_seconds=worker.max_wait_seconds,
            should_hand_back=lambda: self.stopping or self.intake.rebalancing,
        )
        self.dispatcher = Dispatcher(
            delivery=self.delivery,
            metrics=self._metrics,
            max_in_flight=worker.max_in_flight,
            release=self.outbox.release,
            crash=self._on_failure,
        )
        self.intake = SendIntake(
            kafka=self._kafka,
            topics=send_topics,
            group_id=group_id,
            dispatcher=self.dispatcher,
            outbox=self.outbox,
            dedupe=self.dedupe,
            fetch_max_wait_ms=worker.fetch_max_wait_ms,
            session_timeout_seconds=worker.session_timeout_seconds,
            max_poll_interval_seconds=worker.max_poll_interval_seconds,
            revoke_grace_seconds=worker.revoke_grace_seconds,
            on_failure=self._on_failure,
        )
        self._tasks = [
            asyncio.create_task(self.outbox.run(), name="outbox-committer"),
            asyncio.create_task(self.outbox.run_outcomes(), name="outcome-writer"),
            asyncio.create_task(self._expire_dedupe_forever(), name="dedupe-expiry"),
        ]
        await self.intake.start()

    async def _stop(self) -> None:
        try:
            if self._producers is not None:  # started: drain and commit
                log.info("send path stopping: draining", extra={"in_flight": self.dispatcher.in_flight})
                try:
                    await self.intake.stop(drain_seconds=self._worker.drain_seconds)
                    log.info("send path drained and committed")
                finally:
                    for task in self._tasks:
                        task.cancel()
                    await asyncio.gather(*self._tasks, return_exceptions=True)
                    await self.outbox.flush_outcomes()
                    await self.client.aclose()
                    for producer in self._producers:
                        await producer.stop()
        finally:
            await self.views.stop()
            log.info("send path stopped")

    async def _expire_dedupe_forever(self) -> None:
        """Tombstone dedupe entries past their expiry (only of partitions this worker owns)."""
        while True:
            await asyncio.sleep(self._worker.dedupe_expiry_interval_seconds)
            if self.intake.rebalancing:
                continue
            expired = self.dedupe.expired(partitions={tp.partition for tp in self.intake.assigned})
            for key, partition in expired.tombstones:
                self.outbox.tombstone(key, partition=partition)
            if expired.before_expiry:
                window = self.dedupe.window_seconds()
                log.warning(
                    "dedupe table full: oldest results dropped before their expiry",
                    extra={
                        "dropped": expired.before_expiry,
                        "max_entries": self.dedupe.max_entries,
                        "duplicates_caught_for_seconds": round(window) if window is not None else None,
                    },
                )

    def _new_producers(self) -> tuple[AIOKafkaProducer, AIOKafkaProducer]:
        """(transactional producer of the outbox, plain producer of attempt outcomes)."""
        worker = self._worker
        common = {**client_options(self._kafka), "linger_ms": worker.producer_linger_ms, "acks": "all"}
        transactional = AIOKafkaProducer(
            **common,
            enable_idempotence=True,
            transactional_id=f"{worker.app_id}-send-{worker.instance_id}",
            transaction_timeout_ms=worker.transaction_timeout_ms,
            max_batch_size=256 * 1024,
        )
        return transactional, AIOKafkaProducer(**common, max_batch_size=256 * 1024)

    def stats(self) -> dict[str, Any]:
        """The /stats figures of the send path (call on the send loop)."""
        dispatcher, outbox, intake = self.dispatcher, self.outbox, self.intake
        return {
            "finished": {k.value: v for k, v in dispatcher.finished.items()},
            "in_flight": dispatcher.in_flight,
            "unreleased": dispatcher.pending(),
            "transactions": outbox.transactions,
            "last_commit_ms": round(outbox.last_commit_seconds * 1000, 1),
            "send_partitions": sorted(f"{tp.topic}:{tp.partition}" for tp in intake.assigned),
            "dedupe_entries": len(self.dedupe.data),
            "fetch_max_wait_ms": intake.fetch_max_wait_ms,
            "event_loop": type(asyncio.get_running_loop()).__module__,
        }

