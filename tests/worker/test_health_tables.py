"""The health agent's tables: windowed figures per provider, and its state machines surviving a restart.

The agent holds its table writes for up to half a second per provider
(``health_agent.HeldWrites``) and writes what it holds when the worker stops:
a restarted worker restores every outcome the first one folded.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from sendpipe.bus import admin
from sendpipe.core.outcomes import DeliveryStatus
from sendpipe.worker.dedupe import changelog_topic
from tests.worker.harness import Bench, Events, Verdicts, WorkerProcess, email, produce

_SETTINGS = {"health_publish_interval_seconds": 1.0}


async def _figures(worker: WorkerProcess, uid: str, wanted: dict[str, Any], *, timeout: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    figures: dict[str, Any] = {}
    while time.monotonic() < deadline:
        figures = (await asyncio.to_thread(worker.json, "/stats"))["windows"].get(uid, {})
        if all(figures.get(key) == value for key, value in wanted.items()):
            return figures
        await asyncio.sleep(0.2)
    raise AssertionError(f"windowed figures of {uid}: {figures}, wanted {wanted}\n{worker.tail()}")


async def _send(bench: Bench, ids: list[str]) -> dict[str, Any]:
    await produce(bench.bootstrap, bench.send_topic("email"), [(i.encode(), email(i, "acme")) for i in ids])
    async with Events(bench.bootstrap, bench.topics.events) as events:
        return await events.wait_ids(set(ids), timeout=30)


async def _start_well_inside_a_minute() -> None:
    """The figures checked are the current 1-minute window's: do not start near its end."""
    if time.time() % 60 > 35:
        await asyncio.sleep(61 - time.time() % 60)


async def test_windows_count_sends_failures_and_latency_and_survive_a_restart(
    bench: Bench, sim, worker_factory: Callable[..., WorkerProcess]
) -> None:
    provider = bench.provider(sim, "provider-sendgrid", name="sg", priority=1)
    await bench.publish_routing("acme", "email", [provider])
    first = worker_factory("w1", **_SETTINGS)
    await first.wait_ready()
    await _start_well_inside_a_minute()

    sent = await _send(bench, [f"ok{i}" for i in range(20)])
    assert {e.status for e in sent.values()} == {DeliveryStatus.SENT}
    figures = await _figures(first, provider.uid, {"sends": 20, "failures": {}})
    assert figures["mean_latency_ms"] > 0

    sim.set_fault("provider-sendgrid", failure_rate=1.0, error="server_error")
    failed = await _send(bench, ["bad0", "bad1", "bad2"])
    assert {e.status for e in failed.values()} == {DeliveryStatus.FAILED}
    sim.clear_faults()
    await asyncio.sleep(0.3)  # the agent has folded these outcomes, and holds their table writes
    assert first.stop() == 0, first.tail()  # what it holds is written at shutdown

    second = worker_factory("w1", **_SETTINGS)
    await second.wait_ready()
    async with Verdicts(bench.bootstrap, bench.topics.health) as verdicts:
        await _send(bench, ["after"])
        # The restored machine folds the new outcome into its 23 earlier ones and publishes the figures.
        await verdicts.until(
            lambda: (v := verdicts.latest().get(provider.uid)) is not None and v.window.sends == 24,
            timeout=20,
            what="a verdict counting the outcomes from before the restart",
        )
    await _figures(second, provider.uid, {"sends": 24, "failures": {"FAIL_PROVIDER": 3}})


async def test_the_worker_creates_its_changelogs_as_faust_declares_them(
    bench: Bench, worker_factory: Callable[..., WorkerProcess]
) -> None:
    """Created before Faust subscribes, even when the shared topics are someone else's to create:
    a changelog missing from Faust's first metadata fails the table's writes (PartitionsMismatch)."""
    worker = worker_factory(create_topics="false")
    await worker.wait_ready()
    names = [f"{bench.app_id}-health-{table}-changelog" for table in ("state", "sends", "failures", "latency-ms")]
    configs = await bench.topic_configs(names)
    windowed = {"cleanup.policy": "compact,delete", "retention.ms": str(10 * 60 * 1000)}
    assert configs[names[0]]["cleanup.policy"] == "compact"
    for name in names[1:]:
        assert {key: configs[name][key] for key in windowed} == windowed, name
    partitions = await admin.partition_counts(bench.kafka, names)
    assert partitions == dict.fromkeys(names, bench.partitions)
    log = worker.tail(10_000).splitlines()
    created = next(i for i, line in enumerate(log) if "created topics" in line and all(name in line for name in names))
    assert created < next(i for i, line in enumerate(log) if "[^-App]: Starting" in line), "before Faust starts"
    assert "Ignoring missing topic" not in "\n".join(log)
    own_topics = {name for name in await bench.topic_names() if name.startswith(bench.app_id)}
    assert own_topics == {*names, changelog_topic(bench.app_id)}, "every topic Faust declares is created first"
