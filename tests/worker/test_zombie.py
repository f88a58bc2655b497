"""A worker frozen past its session timeout (a zombie) wakes up after its partitions moved on: its buffered
events are refused with its stale offsets (KIP-447 fencing), so every message still has exactly one event."""

from __future__ import annotations

import asyncio
import signal
from collections import Counter

import pytest

from tests.worker.harness import Bench, Events, produce_steadily

TOTAL = 3_000
RATE_PER_SECOND = 500
SESSION_TIMEOUT_SECONDS = 6  # the broker's group.min.session.timeout.ms


@pytest.mark.slow
async def test_a_frozen_worker_cannot_commit_after_its_partitions_moved(bench: Bench, sim, worker_factory) -> None:
    settings = {"session_timeout_seconds": SESSION_TIMEOUT_SECONDS, "max_in_flight": 100}
    zombie, survivor = worker_factory("zombie", **settings), worker_factory("survivor", **settings)
    await asyncio.gather(zombie.wait_ready(timeout=90), survivor.wait_ready(timeout=90))
    ns = "zombie"
    sim.set_fault("provider-sendgrid", latency_ms=20)
    await bench.publish_routing(ns, "email", [bench.provider(sim, "provider-sendgrid", name="sg", priority=1, timeout=5)])
    ids = [f"{ns}-{i:05d}" for i in range(TOTAL)]
    assert zombie.proc is not None

    async with Events(bench.bootstrap, bench.topics.events) as events:
        producing = asyncio.create_task(produce_steadily(bench, ids, ns, rate=RATE_PER_SECOND))
        await events.until(lambda: len(events.records) >= TOTAL // 5, timeout=60, what="events before the freeze")
        zombie.proc.send_signal(signal.SIGSTOP)  # mid-stream: sends in flight, finished events not yet committed
        await asyncio.sleep(SESSION_TIMEOUT_SECONDS + 4)  # the group moves its partitions to the survivor
        zombie.proc.send_signal(signal.SIGCONT)
        await producing
        await events.until(lambda: {r.key.decode() for r in events.records} >= set(ids), timeout=120, what="all events")
        await asyncio.sleep(2.0)
        await events.poll(2.0)  # a late duplicate from the zombie shows up too
        counts = Counter(r.key.decode() for r in events.records if r.key.decode().startswith(ns))
    duplicated = {message_id: n for message_id, n in counts.items() if n > 1}
    assert not duplicated, f"{len(duplicated)} messages with more than one event, e.g. {list(duplicated.items())[:5]}"
    assert set(counts) == set(ids)
    log = zombie.log_path.read_text(errors="replace")
    fenced = "no longer owns these partitions" in log or "not a member of the consumer group" in log
    assert fenced, f"the zombie was not fenced (no duplicates by luck?):\n{zombie.tail()}"
