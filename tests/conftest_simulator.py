"""Pytest fixtures for the provider simulator, usable from any test folder.

Enable with ``pytest_plugins = ["tests.conftest_simulator"]`` in a conftest.
``provider_simulator``: in-process on the test's event loop (a fresh one per
test: faults and recordings never leak). ``provider_simulator_process``: one
child process for the session (its own core; reset between uses with
``.admin("DELETE", "faults")`` and ``.admin("DELETE", "requests")``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from sendpipe.simulator import Simulator, SimulatorProcess


@pytest.fixture
async def provider_simulator() -> AsyncIterator[Simulator]:
    async with Simulator() as sim:
        yield sim


@pytest.fixture(scope="session")
def provider_simulator_process() -> Iterator[SimulatorProcess]:
    with SimulatorProcess() as process:
        yield process
