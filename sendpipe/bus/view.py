"""An in-memory view of a compacted topic, read in full from every partition.

Every worker keeps the routing tables and health verdicts this way, and the
operator keeps the health verdicts. No consumer group: each reader assigns
itself all partitions and starts at the beginning, so two readers always
converge on the same view (Faust's GlobalTable has known multi-instance
recovery bugs; this is the plain reader ARCHITECTURE.md §2 allows).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, ItemsView
from typing import Generic, TypeVar

from aiokafka import AIOKafkaConsumer, TopicPartition

from sendpipe.bus.reader import TopicMissingError, open_from_beginning
from sendpipe.settings import KafkaSettings

log = logging.getLogger(__name__)

T = TypeVar("T")




class CompactedView(Generic[T]):
    """Latest decoded value per key; a tombstone (null value) removes the key."""

    def __init__(
        self,
        *,
        settings: KafkaSettings,
        topic: str,
        decode: Callable[[bytes], T],
        on_change: Callable[[str, T | None], None] | None = None,
    ) -> None:
        self.topic = topic
        self._settings = settings
        self._decode = decode
        self._on_change = on_change
        self._values: dict[str, T] = {}
        self._ready = asyncio.Event()
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self.undecodable = 0

    def get(self, key: str) -> T | None:
        return self._values.get(key)

    def items(self) -> ItemsView[str, T]:
        return self._values.items()

    def __len__(self) -> int:
        return len(self._values)

    @property
    def ready(self) -> bool:
        """True once everything present at start has been read."""
        return self._ready.is_set()

    async def start(self) -> None:
        try:
            consumer, _, end_offsets = await open_from_beginning(self._settings, self.topic)
        except TopicMissingError:
            raise TopicMissingError(
                f"topic {self.topic!r} does not exist: start the operator (it creates it) or create it"
            ) from None
        self._consumer = consumer
        self._task = asyncio.create_task(self._follow(consumer, end_offsets), name=f"view:{self.topic}")

    async def wait_ready(self, timeout: float = 30.0) -> None:
        await asyncio.wait_for(self._ready.wait(), timeout)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None

    async def _follow(self, consumer: AIOKafkaConsumer, end_offsets: dict[TopicPartition, int]) -> None:
        pending = {tp: end for tp, end in end_offsets.items() if end > 0}
        if not pending:
            self._ready.set()
        while True:
            batches = await consumer.getmany(timeout_ms=500, max_records=5000)
            for partition, records in batches.items():
                for record in records:
                    self._apply(record.key, record.value)
                if partition in pending and await consumer.position(partition) >= pending[partition]:
                    del pending[partition]
            if not pending and not self._ready.is_set():
                log.info("view caught up", extra={"topic": self.topic, "keys": len(self._values)})
                self._ready.set()

    def _apply(self, raw_key: bytes | None, raw_value: bytes | None) -> None:
        if raw_key is None:
            self.undecodable += 1
            return
        key = raw_key.decode("utf-8", errors="replace")
        if raw_value is None:
            if self._values.pop(key, None) is not None and self._on_change:
                self._on_change(key, None)
            return
        try:
            value = self._decode(raw_value)
        except Exception:  # untrusted input: one bad record must not stop the view
            self.undecodable += 1
            log.warning("undecodable record skipped", extra={"topic": self.topic, "key": key})
            return
        self._values[key] = value
        if self._on_change:
            self._on_change(key, value)
