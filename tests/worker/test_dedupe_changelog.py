"""The dedupe changelog keeps up with the send topics' partition count (markers go to their source partition's number)."""

from __future__ import annotations

from collections.abc import Callable

from sendpipe.bus import admin
from sendpipe.core.outcomes import DeliveryStatus
from sendpipe.worker.dedupe import changelog_topic
from tests.worker.harness import Bench, Events, WorkerProcess, email, produce


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
