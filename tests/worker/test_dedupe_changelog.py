"""The dedupe changelog keeps up with the send topics' partition count (markers go to their source partition's number)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sendpipe.bus import admin
from sendpipe.core.outcomes import DeliveryStatus
from sendpipe.worker.dedupe import changelog_topic
from tests.worker.harness import Bench, Events, TopicReader, WorkerProcess, email, produce


async def test_a_narrower_changelog_is_grown_to_the_send_topics(
    bench: Bench, sim, worker_factory: Callable[..., WorkerProcess]
) -> None:
    """As when the send topics were created (or grown) wider after the worker first ran."""
    changelog = changelog_topic(bench.app_id)
    await admin.ensure_topics(bench.kafka, [admin.TopicSpec(changelog, 1, config=admin.COMPACTED)])
    send_partitions = (await admin.partition_counts(bench.kafka, [bench.send_topic("email")]))[bench.send_topic("email")]
    assert send_partitions > 1, "the test needs send topics wider than the changelog"

    worker = worker_factory()
    await worker.wait_ready()
    await bench.publish_routing("acme", "email", [bench.provider(sim, "provider-sendgrid", name="sg", priority=1)])
    ids = [f"m-{i}" for i in range(40)]
    await produce(bench.bootstrap, bench.send_topic("email"), [(i.encode(), email(i, "acme")) for i in ids])
    async with Events(bench.bootstrap, bench.topics.events) as events:
        delivered = await events.wait_ids(set(ids), timeout=30)
    assert all(event.status is DeliveryStatus.SENT for event in delivered.values()), worker.tail()
    assert len({record.partition for record in events.records}) > 1, "keys spread over several partitions"
    assert (await admin.partition_counts(bench.kafka, [changelog]))[changelog] == send_partitions


async def test_expired_results_are_tombstoned_and_the_same_id_is_delivered_again(
    bench: Bench, sim, worker_factory: Callable[..., WorkerProcess]
) -> None:
    worker = await _ready_with_sendgrid(bench, sim, worker_factory, dedupe_expiry_seconds=2, dedupe_expiry_interval_seconds=0.5)
    async with Events(bench.bootstrap, bench.topics.events) as events:
        await produce(bench.bootstrap, bench.send_topic("email"), [(b"once", email("once", "acme"))])
        await events.wait_ids({"once"}, timeout=30)
        async with TopicReader(bench.bootstrap, changelog_topic(bench.app_id)) as changelog:
            await changelog.until(
                lambda: [record.value is None for record in changelog.records if record.key == b"once"] == [False, True],
                timeout=15, what="the marker of 'once', then its tombstone",
            )
        assert len(events.by_id()["once"]) == 1
        await produce(bench.bootstrap, bench.send_topic("email"), [(b"once", email("once", "acme"))])
        await events.until(lambda: len(events.by_id()["once"]) == 2, timeout=30, what="a second event of 'once'")
    assert [event.status for event in events.by_id()["once"]] == [DeliveryStatus.SENT] * 2, worker.tail()


async def test_past_its_cap_the_table_drops_the_oldest_results_and_says_so(
    bench: Bench, sim, worker_factory: Callable[..., WorkerProcess]
) -> None:
    worker = await _ready_with_sendgrid(bench, sim, worker_factory, dedupe_max_entries=3, dedupe_expiry_interval_seconds=0.5)
    ids = [f"c-{i}" for i in range(6)]
    async with Events(bench.bootstrap, bench.topics.events) as events:
        for message_id in ids:  # one at a time: completion order is the order of ids
            await produce(bench.bootstrap, bench.send_topic("email"), [(message_id.encode(), email(message_id, "acme"))])
            await events.wait_ids({message_id}, timeout=30)
        async with TopicReader(bench.bootstrap, changelog_topic(bench.app_id)) as changelog:
            await changelog.until(
                lambda: {r.key.decode() for r in changelog.records if r.value is None} == set(ids[:3]),
                timeout=15, what="tombstones of the 3 oldest results",
            )
        assert "sendpipe_dedupe_entries 3.0" in worker.get("/metrics")[1].decode()
        await produce(bench.bootstrap, bench.send_topic("email"), [(i.encode(), email(i, "acme")) for i in (ids[0], ids[5])])
        await events.until(lambda: len(events.by_id()[ids[0]]) == 2, timeout=30, what="c-0 delivered again")
        await events.until(lambda: worker.json("/stats")["finished"]["duplicate"] == 1, timeout=30, what="a skip")
        await events.poll(1.0)
    assert len(events.by_id()[ids[5]]) == 1, "c-5 is still remembered: its duplicate is skipped"
    assert "dedupe table full" in worker.tail(10_000) and "duplicates_caught_for_seconds" in worker.tail(10_000)


async def _ready_with_sendgrid(
    bench: Bench, sim: Any, worker_factory: Callable[..., WorkerProcess], **settings: Any
) -> WorkerProcess:
    worker = worker_factory(**settings)
    await worker.wait_ready()
    await bench.publish_routing("acme", "email", [bench.provider(sim, "provider-sendgrid", name="sg", priority=1)])
    return worker
