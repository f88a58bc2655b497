"""The in-order releaser: a partition's messages are acked only as a contiguous finished prefix."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from sendpipe.worker.ordering import InOrderReleaser


def test_out_of_order_completion_releases_only_the_prefix() -> None:
    released: list[int] = []
    releaser: InOrderReleaser[int] = InOrderReleaser(released.append)
    tickets = [releaser.add("p0", offset, offset) for offset in range(5)]
    assert releaser.complete(tickets[2]) == 0 and released == []
    assert releaser.complete(tickets[1]) == 0 and released == []
    assert releaser.complete(tickets[0]) == 3 and released == [0, 1, 2]
    assert releaser.head_offset("p0") == 3
    releaser.complete(tickets[4])
    assert released == [0, 1, 2]
    releaser.complete(tickets[3])
    assert released == [0, 1, 2, 3, 4] and releaser.pending() == 0


def test_partitions_are_independent_and_gaps_in_offsets_are_fine() -> None:
    released: list[tuple[str, int]] = []
    releaser: InOrderReleaser[tuple[str, int]] = InOrderReleaser(released.append)
    a = [releaser.add("a", offset, ("a", offset)) for offset in (10, 12, 15)]  # gaps: markers, compaction
    b = [releaser.add("b", offset, ("b", offset)) for offset in (0, 1)]
    releaser.complete(b[1])
    releaser.complete(a[0])
    assert released == [("a", 10)]
    releaser.complete(b[0])
    assert released == [("a", 10), ("b", 0), ("b", 1)]


def test_forgotten_partitions_never_release_late_completions() -> None:
    released: list[int] = []
    releaser: InOrderReleaser[int] = InOrderReleaser(released.append)
    old = [releaser.add("p", offset, offset) for offset in range(3)]
    releaser.forget({"p"})  # revoked in a rebalance
    for ticket in old:
        assert releaser.complete(ticket) == 0
    assert released == []
    fresh = releaser.add("p", 0, 100)  # redelivered from the committed offset
    releaser.complete(fresh)
    assert released == [100]


def test_redelivery_after_a_seek_starts_a_new_generation() -> None:
    released: list[int] = []
    releaser: InOrderReleaser[int] = InOrderReleaser(released.append)
    stale = releaser.add("p", 5, 5)
    again = releaser.add("p", 3, 3)  # offset went backwards: the partition was re-read
    releaser.complete(stale)
    assert released == []
    releaser.complete(again)
    assert released == [3]


@given(st.lists(st.integers(min_value=1, max_value=4), min_size=1, max_size=60), st.randoms())
def test_released_is_always_a_prefix_in_arrival_order(gaps: list[int], rnd: random.Random) -> None:
    released: list[int] = []
    releaser: InOrderReleaser[int] = InOrderReleaser(released.append)
    offsets, offset = [], 0
    for gap in gaps:
        offset += gap
        offsets.append(offset)
    tickets = [releaser.add("p", o, o) for o in offsets]
    order = list(tickets)
    rnd.shuffle(order)
    done: set[int] = set()
    for ticket in order:
        releaser.complete(ticket)
        done.add(ticket.offset)
        # released == the longest prefix of offsets that is entirely done
        prefix = []
        for o in offsets:
            if o not in done:
                break
            prefix.append(o)
        assert released == prefix
    assert released == offsets
