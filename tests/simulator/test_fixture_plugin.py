"""The shared simulator fixtures load as a plugin and serve."""

from __future__ import annotations

import httpx

from sendpipe.simulator import Simulator, SimulatorProcess

pytest_plugins = ["tests.conftest_simulator"]


async def test_in_process_fixture(provider_simulator: Simulator) -> None:
    async with httpx.AsyncClient() as http:
        assert (await http.get(f"{provider_simulator.url}/_sim/health")).json()["ok"]


def test_process_fixture(provider_simulator_process: SimulatorProcess) -> None:
    assert provider_simulator_process.admin("GET", "health")["ok"]
