"""The agent's held table writes skip a provider whose outcomes partition this worker no longer holds.

Its new owner has restored the tables from their changelogs already and counts
from there: writing this worker's held figures too would count them twice.
A rebalance inside the half-second hold cannot be provoked on time against a
real broker, so the rule is shown here with the Faust side replaced.
"""

from __future__ import annotations

from typing import Any

import pytest

from sendpipe.core.health import HealthPolicy
from sendpipe.core.messages import ProviderUid
from sendpipe.core.outcomes import Channel, Outcome
from sendpipe.core.records import OutcomeBatch
from sendpipe.worker.health_agent import HealthOwner, HeldWrites


def _batch(uid: str) -> OutcomeBatch:
    return OutcomeBatch(
        provider_uid=ProviderUid(uid), namespace="acme", channel=Channel.EMAIL, provider=uid,
        outcomes=[Outcome.SUCCESS], at=[1000.0], latency_ms=[10.0],
    )


async def test_held_writes_of_a_provider_whose_partition_was_revoked_are_dropped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from sendpipe.worker import app as worker_app

    # Fresh ones, so the module's own are left as they were.
    monkeypatch.setattr(worker_app, "health_owner", HealthOwner(policy=HealthPolicy()))
    monkeypatch.setattr(worker_app, "held_writes", HeldWrites(interval=0.5, window_seconds=60.0))
    for uid, partition in (("kept", 0), ("revoked", 1)):
        owned = worker_app.health_owner.adopt(_batch(uid), partition=partition)
        worker_app.health_owner.observe(owned, Outcome.SUCCESS, at=1000.0)
        worker_app.held_writes.add(_batch(uid), event=object(), timestamp=1000.0, now=0.0)
    persisted: list[str] = []
    windows: list[str] = []

    async def persist(owned: Any) -> None:
        persisted.append(owned.identity.uid)

    monkeypatch.setattr(worker_app, "_owned_partitions", lambda: {0})  # partition 1 was revoked
    monkeypatch.setattr(worker_app, "_persist", persist)
    monkeypatch.setattr(worker_app, "_update_windows", lambda uid, delta: windows.append(uid))
    await worker_app._write_held(now=0.1)
    assert persisted == [] and windows == [], "held for half a second"
    await worker_app._write_held(now=0.6)
    assert persisted == ["kept"] and windows == ["kept"]
    assert worker_app.held_writes.take(now=10.0, everything=True) == ([], []), "the revoked one's are gone too"
