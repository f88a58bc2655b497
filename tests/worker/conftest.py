"""Fixtures of the worker tests: an isolated topic set per test, the simulator, worker subprocesses."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sendpipe.simulator.server import Simulator
from tests.worker.harness import Bench, WorkerProcess


@pytest.fixture
async def bench(kafka_bootstrap: str) -> Bench:
    world = Bench(kafka_bootstrap)
    await world.create_topics()
    return world


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    simulator = Simulator(smtp=False)
    await simulator.start()
    yield simulator
    await simulator.stop()


@pytest.fixture
def worker_factory(bench: Bench, tmp_path: Path) -> Iterator[Callable[..., WorkerProcess]]:
    """``make(name="w1", **worker_settings) -> WorkerProcess`` (started); all stopped at teardown."""
    started: list[WorkerProcess] = []

    def make(name: str = "w1", **settings: Any) -> WorkerProcess:
        process = WorkerProcess(bench, log_dir=tmp_path, name=name, **settings).start()
        started.append(process)
        return process

    yield make
    for process in started:
        process.kill()


@pytest.fixture
async def worker(worker_factory: Callable[..., WorkerProcess]) -> WorkerProcess:
    process = worker_factory()
    await process.wait_ready()
    return process
