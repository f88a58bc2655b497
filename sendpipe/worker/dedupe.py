"""Terminal results by message id: the duplicate-suppression table, backed by a compacted changelog topic.

A marker (completed-at, source partition, status) is written to the changelog
partition of the message's source partition, in the same Kafka transaction
as the message's DeliveryEvent and its consumed offset (``outbox.py``). When
a partition is assigned, its markers are read back ``read_committed``, so a
marker exists exactly when its event does: a crash can neither leave a
marker without an event (a lost message) nor an event without a marker (a
second event after redelivery). Entries expire; the owner of a partition
tombstones them in the changelog. Because markers go to their source
partition's number, the changelog needs as many partitions as the widest send
topic; it is grown when a send topic is (``cover``).
"""

from __future__ import annotations

import logging
import struct
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from sendpipe.bus import admin
from sendpipe.bus.reader import read_to_end
from sendpipe.settings import KafkaSettings

__all__ = ["DedupeTable", "Expired", "changelog_topic"]

log = logging.getLogger(__name__)

_MARKER = struct.Struct(">dHc")  # completed_at epoch, source partition, status initial (S/F)


def changelog_topic(app_id: str) -> str:
    return f"{app_id}-dedupe-changelog"


@dataclass(slots=True)
class Expired:
    """What a pass of expiry found: (key, partition) to tombstone, and how many of them only the cap dropped."""

    tombstones: list[tuple[bytes, int]] = field(default_factory=list)
    before_expiry: int = 0


class DedupeTable:
    """Markers of finished messages, in memory for the partitions this worker owns."""

    def __init__(
        self, *, topic: str, expiry_seconds: float, max_entries: int, clock: Callable[[], float] = time.time
    ) -> None:
        self.topic = topic
        self.expiry_seconds = expiry_seconds
        # Memory: ~165 bytes per entry (a UUID id, its marker, the dict slot), so a day of messages at
        # 1,000/s would be ~14 GB. Past the cap the oldest results go before their expiry.
        self.max_entries = max_entries
        self._clock = clock
        self.data: dict[bytes, bytes] = {}
        self.partitions = 0  # of the changelog, as far as this worker has checked

    async def cover(self, kafka: KafkaSettings, partitions: int) -> None:
        """Make sure the changelog has at least ``partitions`` partitions (grows it, never shrinks)."""
        if partitions > self.partitions:
            self.partitions = await admin.grow_partitions(kafka, self.topic, partitions)

    @staticmethod
    def marker(*, status: str, partition: int, at: float) -> bytes:
        return _MARKER.pack(at, partition, status[:1].encode())

    def seen(self, message_id: str) -> bool:
        value = self.data.get(message_id.encode())
        return value is not None and self._clock() - _MARKER.unpack(value)[0] < self.expiry_seconds

    def remember(self, key: bytes, marker: bytes) -> None:
        # Moved to the end: the table stays in completion order, so expiry reads only its expired head.
        self.data.pop(key, None)
        self.data[key] = marker

    def forget(self, key: bytes) -> None:
        self.data.pop(key, None)

    def drop_partitions(self, partitions: Iterable[int]) -> None:
        """Forget the markers of partitions no longer owned (their new owner restores them)."""
        gone = set(partitions)
        if gone:
            self.data = {key: value for key, value in self.data.items() if _partition_of(value) not in gone}

    def expired(self, *, partitions: set[int]) -> Expired:
        """Keys to tombstone, of partitions this worker owns: past expiry, or the oldest beyond ``max_entries``.

        Reads the table from its oldest entry and stops at the first one that neither
        expired nor is over the cap (the table is in completion order): the cost is the
        expired entries', not the table's.
        """
        now = self._clock()
        over_cap = len(self.data) - self.max_entries
        expired = Expired()
        for index, (key, value) in enumerate(self.data.items()):
            completed_at, partition, _ = _MARKER.unpack(value)
            early = now - completed_at < self.expiry_seconds
            if early and index >= over_cap:
                break
            if partition in partitions:
                expired.tombstones.append((key, partition))
                expired.before_expiry += early
        return expired

    def window_seconds(self) -> float | None:
        """How far back results are remembered now: the age of the oldest entry (None when empty)."""
        oldest = next(iter(self.data.values()), None)
        return None if oldest is None else self._clock() - _MARKER.unpack(oldest)[0]

    async def restore(self, kafka: KafkaSettings, partitions: set[int]) -> int:
        """Reload the markers of ``partitions`` from the changelog (committed records only); returns how many.

        Reads past transactions still open: a previous owner frozen mid-commit may yet commit markers of
        messages whose offsets its transaction does not commit (they finished out of order), and this
        worker would send them again.
        """
        self.drop_partitions(partitions)
        loaded = 0
        async for record in read_to_end(kafka, self.topic, partitions, past_open_transactions=True):
            key = record.key
            if key is None:
                continue
            if record.value is None:
                self.data.pop(key, None)
            elif len(record.value) == _MARKER.size:
                self.data[key] = record.value
                loaded += 1
            else:
                log.warning("malformed dedupe marker skipped", extra={"partition": record.partition, "offset": record.offset})
        # Partitions are read side by side, and their markers may come from other workers' clocks.
        self.data = dict(sorted(self.data.items(), key=lambda item: _MARKER.unpack(item[1])[0]))
        return loaded


def _partition_of(marker: bytes) -> int:
    return int(_MARKER.unpack(marker)[1])
