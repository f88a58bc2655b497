"""Routing with failover, end to end: priority, failover per outcome, REJECTED, THROTTLED, degraded, isolation.

One worker per test; each case uses its own namespace (fresh provider uids,
so health from one case never leaks into the next). Faults are set on the
in-process simulator.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from sendpipe.core.outcomes import Channel, DeliveryStatus, FailureReason, HealthState, Outcome
from sendpipe.core.provider import WindowCounts
from sendpipe.core.records import HealthVerdict, RoutedProvider
from tests.worker.harness import Bench, Events, WorkerProcess, email, produce, sms, whatsapp


def _ns(label: str) -> str:
    return f"{label}-{uuid.uuid4().hex[:6]}"


async def _email_chain(bench: Bench, sim, namespace: str) -> list[RoutedProvider]:
    chain = [
        bench.provider(sim, "provider-sendgrid", name="primary", priority=10),
        bench.provider(sim, "provider-mailgun", name="secondary", priority=20),
        bench.provider(sim, "provider-resend", name="tertiary", priority=30),
    ]
    await bench.publish_routing(namespace, "email", chain)
    return chain


async def _deliver(bench: Bench, events: Events, channel: str, payloads: dict[str, bytes], *, timeout: float = 30):
    await produce(bench.bootstrap, bench.send_topic(channel), [(k.encode(), v) for k, v in payloads.items()])
    return await events.wait_ids(set(payloads), timeout=timeout)


def _path(event) -> list[tuple[str, Outcome]]:
    return [(a.provider, a.outcome) for a in event.attempts]


async def test_priority_and_failover_per_outcome(bench: Bench, sim, worker: WorkerProcess) -> None:
    async with Events(bench.bootstrap, bench.topics.events) as events:
        ns = _ns("prio")
        await _email_chain(bench, sim, ns)
        got = await _deliver(bench, events, "email", {f"{ns}-1": email(f"{ns}-1", ns)})
        event = got[f"{ns}-1"]
        assert event.status is DeliveryStatus.SENT and _path(event) == [("primary", Outcome.SUCCESS)]

        faults = {
            Outcome.FAIL_PROVIDER: {"failure_rate": 1.0, "error": "server_error"},
            Outcome.FAIL_AUTH: {"failure_rate": 1.0, "error": "auth"},
            Outcome.FAIL_NETWORK: {"outage": "drop"},
        }
        for outcome, fault in faults.items():
            ns = _ns(outcome.value.lower().replace("_", "-"))
            await _email_chain(bench, sim, ns)
            sim.set_fault("provider-sendgrid", **fault)
            try:
                got = await _deliver(bench, events, "email", {f"{ns}-1": email(f"{ns}-1", ns)})
            finally:
                sim.clear_faults()
            event = got[f"{ns}-1"]
            assert event.status is DeliveryStatus.SENT, event
            assert _path(event) == [("primary", outcome), ("secondary", Outcome.SUCCESS)], event
            assert event.provider == "secondary"


async def test_rejected_stops_without_failover(bench: Bench, sim, worker: WorkerProcess) -> None:
    async with Events(bench.bootstrap, bench.topics.events) as events:
        ns = _ns("rejected")
        await _email_chain(bench, sim, ns)
        got = await _deliver(bench, events, "email", {f"{ns}-1": email(f"{ns}-1", ns, to="invalid-user@example.com")})
        event = got[f"{ns}-1"]
        assert event.status is DeliveryStatus.FAILED and event.reason is FailureReason.REJECTED
        assert _path(event) == [("primary", Outcome.REJECTED)]
        assert not sim.requests("provider-mailgun"), "no failover after REJECTED"


async def test_throttled_provider_is_skipped_until_retry_after(bench: Bench, sim, worker: WorkerProcess) -> None:
    async with Events(bench.bootstrap, bench.topics.events) as events:
        ns = _ns("throttle")
        await _email_chain(bench, sim, ns)
        sim.set_fault("provider-sendgrid", throttle=True, retry_after_seconds=3)
        first = (await _deliver(bench, events, "email", {f"{ns}-1": email(f"{ns}-1", ns)}))[f"{ns}-1"]
        assert _path(first) == [("primary", Outcome.THROTTLED), ("secondary", Outcome.SUCCESS)]
        sim.clear_faults()
        second = (await _deliver(bench, events, "email", {f"{ns}-2": email(f"{ns}-2", ns)}))[f"{ns}-2"]
        assert _path(second) == [("secondary", Outcome.SUCCESS)], "throttled primary skipped before Retry-After"
        await asyncio.sleep(3.2)
        third = (await _deliver(bench, events, "email", {f"{ns}-3": email(f"{ns}-3", ns)}))[f"{ns}-3"]
        assert _path(third) == [("primary", Outcome.SUCCESS)], "back after Retry-After"


def _verdict(provider: RoutedProvider, namespace: str, state: HealthState, *, ejected_for: float | None = None) -> HealthVerdict:
    now = datetime.now(tz=UTC)
    return HealthVerdict(
        provider_uid=provider.uid,
        namespace=namespace,
        channel=Channel.EMAIL,
        provider=provider.name,
        state=state,
        error_rate=0.1 if state is HealthState.DEGRADED else 0.0,
        window=WindowCounts(sends=40, failures=4),
        consecutive_failures=0,
        ejected_until=now + timedelta(seconds=ejected_for) if ejected_for else None,
        observed_at=now,
    )


@pytest.fixture
async def quiet_worker(worker_factory) -> WorkerProcess:
    # Long publish interval: the health owner does not overwrite injected verdicts during the test.
    process = worker_factory(health_publish_interval_seconds=600)
    await process.wait_ready()
    return process


async def test_degraded_is_used_only_when_no_healthy_remains(bench: Bench, sim, quiet_worker: WorkerProcess) -> None:
    ns = _ns("degraded")
    primary, secondary = (
        bench.provider(sim, "provider-sendgrid", name="primary", priority=10),
        bench.provider(sim, "provider-mailgun", name="secondary", priority=20),
    )
    await bench.publish_routing(ns, "email", [primary, secondary])
    health = bench.topics.health
    await produce(bench.bootstrap, health, [(primary.uid.encode(), _verdict(primary, ns, HealthState.DEGRADED).to_json_bytes())])
    await asyncio.sleep(0.5)
    async with Events(bench.bootstrap, bench.topics.events) as events:
        first = (await _deliver(bench, events, "email", {f"{ns}-1": email(f"{ns}-1", ns)}))[f"{ns}-1"]
        assert _path(first) == [("secondary", Outcome.SUCCESS)], "healthy before degraded, whatever the priority"
        await asyncio.sleep(0.5)  # the owner's first verdict of the secondary (it has an outcome now)
        unhealthy = _verdict(secondary, ns, HealthState.UNHEALTHY, ejected_for=120)
        await produce(bench.bootstrap, health, [(secondary.uid.encode(), unhealthy.to_json_bytes())])
        await asyncio.sleep(0.5)
        second = (await _deliver(bench, events, "email", {f"{ns}-2": email(f"{ns}-2", ns)}))[f"{ns}-2"]
        assert _path(second) == [("primary", Outcome.SUCCESS)], "degraded is used when no healthy one remains"


async def test_channel_and_namespace_isolation(bench: Bench, sim, worker: WorkerProcess) -> None:
    ns, other = _ns("iso"), _ns("other")
    wa = [
        bench.provider(sim, "provider-meta-cloud", name="wa-meta", priority=1),
        bench.provider(sim, "provider-360dialog", name="wa-360", priority=2),
    ]
    await bench.publish_routing(ns, "whatsapp", wa)
    await bench.publish_routing(ns, "sms", [bench.provider(sim, "provider-termii", name="sms-termii", priority=1)])
    await bench.publish_routing(ns, "email", [bench.provider(sim, "provider-sendgrid", name="email-sg", priority=1)])
    await bench.publish_routing(other, "whatsapp", [bench.provider(sim, "provider-360dialog", name="other-360", priority=1)])
    sim.set_fault("provider-meta-cloud", failure_rate=1.0, error="server_error")
    sim.set_fault("provider-360dialog", failure_rate=1.0, error="server_error")
    try:
        async with Events(bench.bootstrap, bench.topics.events) as events:
            event = (await _deliver(bench, events, "whatsapp", {f"{ns}-wa": whatsapp(f"{ns}-wa", ns)}))[f"{ns}-wa"]
    finally:
        sim.clear_faults()
    assert event.status is DeliveryStatus.FAILED and event.reason is FailureReason.ALL_PROVIDERS_FAILED
    assert _path(event) == [("wa-meta", Outcome.FAIL_PROVIDER), ("wa-360", Outcome.FAIL_PROVIDER)]
    assert not sim.requests("provider-termii") and not sim.requests("provider-sendgrid"), "never another channel"
    assert {a.provider_uid for a in event.attempts} <= {p.uid for p in wa}, "never another namespace"

    async with Events(bench.bootstrap, bench.topics.events) as events:
        other_event = (await _deliver(bench, events, "whatsapp", {f"{other}-wa": whatsapp(f"{other}-wa", other)}))[f"{other}-wa"]
        no_sms = (await _deliver(bench, events, "sms", {f"{other}-sms": sms(f"{other}-sms", other)}))[f"{other}-sms"]
    assert _path(other_event) == [("other-360", Outcome.SUCCESS)]
    assert no_sms.status is DeliveryStatus.FAILED and no_sms.reason is FailureReason.NO_PROVIDER_CONFIGURED
    assert no_sms.attempts == []
