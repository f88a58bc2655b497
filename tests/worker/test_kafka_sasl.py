"""The worker against a broker that requires SASL (PLAIN on a SASL_PLAINTEXT listener).

The session's broker has no SASL listener, so this module starts one of its
own: a plaintext listener for the test's clients and a SASL one, the only
one the worker is given. The worker has many Kafka clients (its admin client,
the views' readers, the send intake, the transactional outbox and the outcome
producer, Faust's consumer and producer). A delivered message and a health
verdict need all of them, so they show that every one authenticated. A wrong
password stops the worker with an authentication error.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sendpipe.core.outcomes import DeliveryStatus
from sendpipe.settings import StackSettings
from sendpipe.stack import StackInfo, kafka, maven, ports, processes
from tests.worker.harness import Bench, Events, Verdicts, WorkerProcess, email, produce

pytestmark = pytest.mark.slow

PASSWORD = "worker-secret"


@pytest.fixture(scope="module")
def sasl_broker(stack: StackInfo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(plaintext bootstrap for the test, SASL bootstrap for the worker) of a broker started here."""
    settings = StackSettings()
    libs = maven.kafka_libs(settings.resolved_cache_dir, settings.kafka_version)
    assert libs is not None, "the stack is built before the tests run"
    plain, sasl, controller = ports.free_ports(3)
    workdir = tmp_path_factory.mktemp("sasl-kafka")
    overrides = {
        "listeners": f"PLAINTEXT://127.0.0.1:{plain},SASL_PLAINTEXT://127.0.0.1:{sasl},CONTROLLER://127.0.0.1:{controller}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{plain},SASL_PLAINTEXT://127.0.0.1:{sasl}",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT",
        "sasl.enabled.mechanisms": "PLAIN",
        "listener.name.sasl_plaintext.plain.sasl.jaas.config":
            f'org.apache.kafka.common.security.plain.PlainLoginModule required user_worker="{PASSWORD}";',
    }
    pid = kafka.start(libs=libs, workdir=workdir, broker_port=plain, controller_port=controller, overrides=overrides)
    try:
        kafka.wait_ready(bootstrap=f"127.0.0.1:{plain}", pid=pid, log_path=workdir / "kafka.log", timeout=120)
        yield f"127.0.0.1:{plain}", f"127.0.0.1:{sasl}"
    finally:
        processes.stop(pid, marker=str(workdir), name="kafka")


def _sasl_worker(bench: Bench, sasl_bootstrap: str, log_dir: Path, *, password: str) -> WorkerProcess:
    worker = WorkerProcess(bench, log_dir=log_dir)
    worker.env |= {
        "SENDPIPE_KAFKA_BOOTSTRAP": sasl_bootstrap,
        "SENDPIPE_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "SENDPIPE_KAFKA_SASL_MECHANISM": "PLAIN",
        "SENDPIPE_KAFKA_SASL_USERNAME": "worker",
        "SENDPIPE_KAFKA_SASL_PASSWORD": password,
    }
    return worker.start()


async def test_every_kafka_client_of_the_worker_authenticates(sasl_broker: tuple[str, str], sim, tmp_path: Path) -> None:
    plain, sasl = sasl_broker
    bench = Bench(plain)
    await bench.create_topics()
    worker = _sasl_worker(bench, sasl, tmp_path, password=PASSWORD)
    try:
        await worker.wait_ready(90)
        primary = bench.provider(sim, "provider-sendgrid", name="sg", priority=1)
        await bench.publish_routing("acme", "email", [primary])
        await produce(plain, bench.send_topic("email"), [(b"m1", email("m1", "acme"))])
        async with Events(plain, bench.topics.events) as events:
            got = await events.wait_ids({"m1"}, timeout=30)
        assert got["m1"].status is DeliveryStatus.SENT, worker.tail()
        async with Verdicts(plain, bench.topics.health) as verdicts:
            await verdicts.until(lambda: primary.uid in verdicts.latest(), timeout=30, what="the agent's verdict")
        assert PASSWORD not in worker.tail(10_000)
    finally:
        worker.kill()


async def test_a_wrong_password_stops_the_worker_with_an_authentication_error(
    sasl_broker: tuple[str, str], tmp_path: Path
) -> None:
    plain, sasl = sasl_broker
    bench = Bench(plain)
    await bench.create_topics()
    worker = _sasl_worker(bench, sasl, tmp_path, password="not-the-password")
    try:
        with pytest.raises(AssertionError, match="worker exited"):
            await worker.wait_ready(60)
        log = worker.tail(200)
        assert "Authentication failed" in log and f"Error: cannot use Kafka at {sasl}" in log, log
        assert "not-the-password" not in worker.tail(10_000)
    finally:
        worker.kill()
