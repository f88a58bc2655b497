"""Fixtures for the adapter tests: one ProviderClient per test, and the simulator in-process on a free port."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from sendpipe.providers import ProviderClient
from sendpipe.simulator import Simulator


@pytest.fixture
async def client() -> AsyncIterator[ProviderClient]:
    async with ProviderClient(max_connections=20) as provider_client:
        yield provider_client


@pytest.fixture
async def simulator() -> AsyncIterator[Simulator]:
    async with Simulator() as sim:
        yield sim
