"""Smoke: one worker delivers through the simulator, exports metrics, and never shows a credential."""

from __future__ import annotations

from sendpipe.core.outcomes import DeliveryStatus
from tests.worker.harness import Bench, Events, TopicReader, WorkerProcess, email, produce


async def test_one_email_is_sent_and_counted(bench: Bench, sim, worker: WorkerProcess) -> None:
    primary = bench.provider(sim, "provider-sendgrid", name="sg", priority=10)
    await bench.publish_routing("acme", "email", [primary])
    await produce(bench.bootstrap, bench.send_topic("email"), [(b"m1", email("m1", "acme"))])
    async with Events(bench.bootstrap, bench.topics.events) as events:
        got = await events.wait_ids({"m1"}, timeout=30)
    assert got["m1"].status is DeliveryStatus.SENT, (got["m1"], worker.tail())
    assert got["m1"].provider == "sg" and got["m1"].provider_message_id

    status, body = worker.get("/metrics")
    text = body.decode()
    assert status == 200
    for line in (
        'sendpipe_attempts_total{channel="email",outcome="SUCCESS",provider="sg"} 1.0',
        'sendpipe_messages_total{channel="email",reason="",status="SENT"} 1.0',
        "sendpipe_attempt_latency_seconds_bucket",
        "sendpipe_in_flight 0.0",
        "sendpipe_failovers_total",
        "sendpipe_dlq_total",
    ):
        assert line in text, line
    assert worker.get("/ready")[0] == 200 and worker.get("/healthz")[0] == 200
    stats = worker.json("/stats")
    assert stats["fetch_max_wait_ms"] == 50
    assert stats["health_fetch_max_wait_ms"] == 50, "faust_tuning reached the running consumer"
    assert stats["transactions"] >= 1 and stats["unreleased"] == 0


async def test_credentials_never_leave_the_worker(bench: Bench, sim, worker: WorkerProcess) -> None:
    sim.set_fault("provider-sendgrid", failure_rate=1.0, error="auth")
    await bench.publish_routing("acme", "email", [bench.provider(sim, "provider-sendgrid", name="sg", priority=1)])
    await produce(bench.bootstrap, bench.send_topic("email"), [(b"m1", email("m1", "acme"))])
    async with Events(bench.bootstrap, bench.topics.events) as events:
        await events.wait_ids({"m1"}, timeout=30)
        raw_events = b"".join(r.value for r in events.records)
    async with TopicReader(bench.bootstrap, bench.topics.outcomes) as outcomes:
        await outcomes.until(lambda: len(outcomes.records) >= 1, timeout=10)
        raw_outcomes = b"".join(r.value for r in outcomes.records)
    secret = sim.config("provider-sendgrid")["credentials"]["api_key"].encode()
    assert secret not in raw_events and secret not in raw_outcomes
    assert secret.decode() not in worker.tail(10_000)
    assert secret not in worker.get("/views")[1] and secret not in worker.get("/stats")[1]
