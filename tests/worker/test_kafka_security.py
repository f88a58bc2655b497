"""The worker against a broker that requires authentication: SASL (PLAIN) with and without TLS, and TLS client certificates.

The session's broker has no secured listener, so this module starts one of
its own: a plaintext listener for the test's clients, and SASL_PLAINTEXT,
SASL_SSL and SSL listeners (a CA and certificates for 127.0.0.1 made here),
of which the worker is given one. The worker has many Kafka clients (its admin client,
the views' readers, the send intake, the transactional outbox and the outcome
producer, Faust's consumer and producer). A delivered message and a health
verdict need all of them, so they show that every one authenticated. A wrong
password stops the worker with an authentication error.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from sendpipe.core.outcomes import DeliveryStatus
from sendpipe.settings import StackSettings
from sendpipe.simulator.server import Simulator
from sendpipe.stack import StackInfo, kafka, maven, pki, ports, processes
from tests.worker.harness import Bench, Events, Verdicts, WorkerProcess, email, produce

pytestmark = pytest.mark.slow

PASSWORD = "worker-secret"


@dataclass(frozen=True)
class SecuredBroker:
    plain: str  # bootstrap of the plaintext listener, for the test's own clients
    listeners: dict[str, str]  # security protocol -> bootstrap, for the worker
    tls: Tls


@dataclass(frozen=True)
class Tls:
    ca: Path
    keystore: Path  # the broker's key and certificate (PEM)
    client_cert: Path
    client_key: Path


def _tls(directory: Path) -> Tls:
    directory.mkdir()
    pem = serialization.Encoding.PEM
    now = datetime.now(UTC)
    ca_key, ca_cert = pki.new_ca(now)
    server_key, server_cert = pki.issue(now, ca_key, ca_cert, common_name="kafka")
    client_key, client_cert = pki.issue(now, ca_key, ca_cert, common_name="worker", usage=ExtendedKeyUsageOID.CLIENT_AUTH)
    tls = Tls(directory / "ca.pem", directory / "keystore.pem", directory / "client.pem", directory / "client.key")
    tls.ca.write_bytes(ca_cert.public_bytes(pem))
    tls.keystore.write_bytes(pki.pem_key(server_key) + server_cert.public_bytes(pem))
    tls.client_cert.write_bytes(client_cert.public_bytes(pem))
    tls.client_key.write_bytes(pki.pem_key(client_key))
    return tls


@pytest.fixture(scope="module")
def secured_broker(stack: StackInfo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecuredBroker]:
    """A broker started here: SASL_PLAINTEXT, SASL_SSL (PLAIN) and SSL (client certificates) beside PLAINTEXT."""
    settings = StackSettings()
    libs = maven.kafka_libs(settings.resolved_cache_dir, settings.kafka_version)
    assert libs is not None, "the stack is built before the tests run"
    workdir = tmp_path_factory.mktemp("secured-kafka")
    tls = _tls(workdir / "tls")
    plain, sasl, sasl_ssl, ssl, controller = ports.free_ports(5)
    login = f'org.apache.kafka.common.security.plain.PlainLoginModule required user_worker="{PASSWORD}";'
    overrides = {
        "listeners": f"PLAINTEXT://127.0.0.1:{plain},SASL_PLAINTEXT://127.0.0.1:{sasl},"
                     f"SASL_SSL://127.0.0.1:{sasl_ssl},SSL://127.0.0.1:{ssl},CONTROLLER://127.0.0.1:{controller}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{plain},SASL_PLAINTEXT://127.0.0.1:{sasl},"
                                f"SASL_SSL://127.0.0.1:{sasl_ssl},SSL://127.0.0.1:{ssl}",
        "listener.security.protocol.map":
            "PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL,SSL:SSL,CONTROLLER:PLAINTEXT",
        "sasl.enabled.mechanisms": "PLAIN",
        "listener.name.sasl_plaintext.plain.sasl.jaas.config": login,
        "listener.name.sasl_ssl.plain.sasl.jaas.config": login,
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": str(tls.keystore),
        "listener.name.ssl.ssl.client.auth": "required",
        "listener.name.ssl.ssl.truststore.type": "PEM",
        "listener.name.ssl.ssl.truststore.location": str(tls.ca),
    }
    pid = kafka.start(libs=libs, workdir=workdir, broker_port=plain, controller_port=controller, overrides=overrides)
    try:
        kafka.wait_ready(bootstrap=f"127.0.0.1:{plain}", pid=pid, log_path=workdir / "kafka.log", timeout=120)
        yield SecuredBroker(
            plain=f"127.0.0.1:{plain}",
            listeners={"SASL_PLAINTEXT": f"127.0.0.1:{sasl}", "SASL_SSL": f"127.0.0.1:{sasl_ssl}", "SSL": f"127.0.0.1:{ssl}"},
            tls=tls,
        )
    finally:
        processes.stop(pid, marker=str(workdir), name="kafka")


def _secured_worker(broker: SecuredBroker, protocol: str, bench: Bench, log_dir: Path, *, password: str) -> WorkerProcess:
    worker = WorkerProcess(bench, log_dir=log_dir)
    worker.env |= {
        "SENDPIPE_KAFKA_BOOTSTRAP": broker.listeners[protocol],
        "SENDPIPE_KAFKA_SECURITY_PROTOCOL": protocol,
        "SENDPIPE_KAFKA_SSL_CAFILE": str(broker.tls.ca),
    }
    if protocol.startswith("SASL"):
        worker.env |= {
            "SENDPIPE_KAFKA_SASL_MECHANISM": "PLAIN",
            "SENDPIPE_KAFKA_SASL_USERNAME": "worker",
            "SENDPIPE_KAFKA_SASL_PASSWORD": password,
        }
    else:  # the SSL listener requires a client certificate
        worker.env |= {
            "SENDPIPE_KAFKA_SSL_CERTFILE": str(broker.tls.client_cert),
            "SENDPIPE_KAFKA_SSL_KEYFILE": str(broker.tls.client_key),
        }
    return worker.start()


@pytest.mark.parametrize("protocol", ["SASL_PLAINTEXT", "SASL_SSL", "SSL"])
async def test_every_kafka_client_of_the_worker_authenticates(
    secured_broker: SecuredBroker, protocol: str, sim: Simulator, tmp_path: Path
) -> None:
    bench = Bench(secured_broker.plain)
    await bench.create_topics()
    worker = _secured_worker(secured_broker, protocol, bench, tmp_path, password=PASSWORD)
    try:
        await worker.wait_ready(90)
        primary = bench.provider(sim, "provider-sendgrid", name="sg", priority=1)
        await bench.publish_routing("acme", "email", [primary])
        await produce(bench.bootstrap, bench.send_topic("email"), [(b"m1", email("m1", "acme"))])
        async with Events(bench.bootstrap, bench.topics.events) as events:
            got = await events.wait_ids({"m1"}, timeout=30)
        assert got["m1"].status is DeliveryStatus.SENT, worker.tail()
        async with Verdicts(bench.bootstrap, bench.topics.health) as verdicts:
            await verdicts.until(lambda: primary.uid in verdicts.latest(), timeout=30, what="the agent's verdict")
        assert PASSWORD not in worker.tail(10_000)
    finally:
        worker.kill()


async def test_a_wrong_password_stops_the_worker_with_an_authentication_error(
    secured_broker: SecuredBroker, tmp_path: Path
) -> None:
    bench = Bench(secured_broker.plain)
    await bench.create_topics()
    worker = _secured_worker(secured_broker, "SASL_SSL", bench, tmp_path, password="not-the-password")
    try:
        with pytest.raises(AssertionError, match="worker exited"):
            await worker.wait_ready(60)
        log = worker.tail(200)
        bootstrap = secured_broker.listeners["SASL_SSL"]
        assert "Authentication failed" in log and f"Error: cannot use Kafka at {bootstrap}" in log, log
        assert "not-the-password" not in worker.tail(10_000)
    finally:
        worker.kill()
