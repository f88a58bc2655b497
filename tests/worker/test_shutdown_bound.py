"""SIGTERM while the broker does not answer: the worker still leaves, within its bound, and says why.

The broker is frozen (SIGSTOP) during the stop and thawed however the test
ends. The worker cannot commit, so it leaves without its last commit, which
the partitions' next owner reads again (``test_kill.py`` shows nothing is
lost after an unclean exit).
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sendpipe.stack import StackInfo
from sendpipe.worker.commands import FAUST_STOP_SECONDS
from sendpipe.worker.send_plane import CLOSE_SECONDS
from tests.worker.harness import Bench, Events, WorkerProcess, email, produce

DRAIN_SECONDS = 1.0


@contextmanager
def frozen(pid: int) -> Iterator[None]:
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


async def test_sigterm_with_the_broker_frozen_leaves_within_the_bound(
    bench: Bench, sim, worker_factory: Callable[..., WorkerProcess], stack: StackInfo
) -> None:
    worker = worker_factory(drain_seconds=DRAIN_SECONDS)
    await worker.wait_ready()
    await bench.publish_routing("acme", "email", [bench.provider(sim, "provider-sendgrid", name="sg", priority=1)])
    async with Events(bench.bootstrap, bench.topics.events) as events:
        await produce(bench.bootstrap, bench.send_topic("email"), [(b"m1", email("m1", "acme"))])
        await events.wait_ids({"m1"}, timeout=30)
    with frozen(stack.pids["kafka"]):
        started = time.monotonic()
        code = await asyncio.to_thread(worker.stop, 60)
        took = time.monotonic() - started
    bound = DRAIN_SECONDS + CLOSE_SECONDS + FAUST_STOP_SECONDS
    assert code == 1 and bound - 1 < took < bound + 10, (code, took, worker.tail())
    assert "worker did not stop within its bound" in worker.tail(10_000)
    # The thawed broker takes writes again before the next test uses it.
    await produce(bench.bootstrap, bench.send_topic("email"), [(b"m2", email("m2", "acme"))], acks="all")
    print(f"\nSIGTERM with the broker frozen: exited with {code} after {took:.1f}s")
