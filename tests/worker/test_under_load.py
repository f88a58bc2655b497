"""At full load the health agent keeps up with the outcomes and the web pages answer.

Regression test for a starvation found with bench/worker_throughput.py: when the
send path and Faust shared one event loop, a loop iteration took 20-25 ms at
full load and Faust's consumer needs about two per record, so the health agent
folded ~15 outcome records a second while ~1,100 arrived; verdicts lagged by
the whole burst. The send path now has its own loop (``send_plane.py``) and a
worker writes one outcomes record per provider and flush.
"""

from __future__ import annotations

import asyncio
import re
import time

from sendpipe.core.outcomes import DeliveryStatus
from tests.worker.harness import Bench, Events, WorkerProcess, email, produce

_OUTCOMES = re.compile(rb"^sendpipe_health_outcomes_total ([0-9.e+]+)$", re.MULTILINE)


def _sample(worker: WorkerProcess) -> tuple[int, int, float]:
    """(messages finished, outcomes folded into health, seconds /metrics took to answer)."""
    started = time.perf_counter()
    status, body = worker.get("/metrics", timeout=10)
    took = time.perf_counter() - started
    assert status == 200
    match = _OUTCOMES.search(body)
    folded = int(float(match.group(1))) if match else 0
    return sum(worker.json("/stats")["finished"].values()), folded, took


async def test_health_agent_keeps_up_while_the_send_path_is_saturated(bench: Bench, sim, worker_factory) -> None:
    sim.set_fault("provider-sendgrid", latency_ms=20)
    await bench.publish_routing("load", "email", [bench.provider(sim, "provider-sendgrid", name="sg", priority=1)])
    worker = worker_factory(max_in_flight=200)
    await worker.wait_ready()
    total = 6000
    ids = [f"load-{i}" for i in range(total)]
    await produce(bench.bootstrap, bench.send_topic("email"), [(i.encode(), email(i, "load")) for i in ids])

    samples: list[tuple[int, int, float]] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        samples.append(await asyncio.to_thread(_sample, worker))
        if samples[-1][0] >= total:
            break
        await asyncio.sleep(0.25)
    print("finished, folded, /metrics seconds:", samples)

    during = [(finished, folded) for finished, folded, _ in samples if 0.3 * total <= finished < total]
    assert during, f"no sample while the burst was running: {samples}"
    # Shared loop: ~1% of the finished messages' outcomes were folded at this point. Now: all but the last ~0.5 s.
    assert all(folded >= finished // 2 - 500 for finished, folded in during), samples
    assert max(took for _, _, took in samples) < 2.0, samples
    async with Events(bench.bootstrap, bench.topics.events) as events:
        got = await events.wait_ids(set(ids), timeout=60)
    assert all(event.status is DeliveryStatus.SENT for event in got.values())
