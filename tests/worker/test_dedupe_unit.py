"""The dedupe table's bookkeeping: expiry, partitions dropped on revoke, expired keys to tombstone."""

from __future__ import annotations

from sendpipe.worker.dedupe import DedupeTable, Expired, changelog_topic


def table(now: list[float], *, max_entries: int = 1000) -> DedupeTable:
    return DedupeTable(topic=changelog_topic("app"), expiry_seconds=60, max_entries=max_entries, clock=lambda: now[0])


def test_a_marker_suppresses_its_id_until_it_expires() -> None:
    now = [1000.0]
    dedupe = table(now)
    dedupe.remember(b"m1", DedupeTable.marker(status="SENT", partition=2, at=1000.0))
    assert dedupe.seen("m1") and not dedupe.seen("m2")
    now[0] = 1059.9
    assert dedupe.seen("m1")
    now[0] = 1060.0
    assert not dedupe.seen("m1")


def test_revoked_partitions_are_forgotten_and_only_owned_expired_keys_are_tombstoned() -> None:
    now = [1000.0]
    dedupe = table(now)
    for key, partition in ((b"a", 0), (b"b", 1), (b"c", 1)):
        dedupe.remember(key, DedupeTable.marker(status="FAILED", partition=partition, at=900.0))
    assert sorted(dedupe.expired(partitions={1}).tombstones) == [(b"b", 1), (b"c", 1)]
    dedupe.drop_partitions({1})
    assert set(dedupe.data) == {b"a"}
    assert changelog_topic("app") == "app-dedupe-changelog"


def test_expiry_reads_only_the_expired_head_of_the_table() -> None:
    now = [1000.0]
    dedupe = table(now)
    for index, key in enumerate((b"a", b"b", b"c", b"d")):
        dedupe.remember(key, DedupeTable.marker(status="SENT", partition=0, at=900.0 + index * 10))
    dedupe.remember(b"a", DedupeTable.marker(status="SENT", partition=0, at=995.0))  # the same id finished again
    now[0] = 985.0
    assert dedupe.expired(partitions={0}).tombstones == [(b"b", 0), (b"c", 0)], "a moved behind d; d is not expired"
    # An expired entry behind an unexpired one waits for it (completion order makes that rare).
    dedupe.data = {b"new": DedupeTable.marker(status="SENT", partition=0, at=1020.0), **dedupe.data}
    assert dedupe.expired(partitions={0}).tombstones == []


def test_past_the_cap_the_oldest_results_go_before_their_expiry() -> None:
    now = [1000.0]
    dedupe = table(now, max_entries=3)
    for index, key in enumerate((b"a", b"b", b"c", b"d", b"e")):
        dedupe.remember(key, DedupeTable.marker(status="SENT", partition=0, at=990.0 + index))
    expired = dedupe.expired(partitions={0})
    assert expired.tombstones == [(b"a", 0), (b"b", 0)] and expired.before_expiry == 2, "none expired: two over the cap"
    for key in (b"a", b"b"):
        dedupe.forget(key)  # as tombstoning does
    assert dedupe.window_seconds() == 8.0, "c completed at 992"
    now[0] = 1052.5  # a and b would have expired by now; c has
    assert dedupe.expired(partitions={0}) == Expired(tombstones=[(b"c", 0)], before_expiry=0)
