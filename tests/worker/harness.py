"""Helpers for worker tests: per-test topics, sealed routing records, worker subprocesses, event collection.

Everything runs against the real local Kafka broker. Each test gets its own
topic names and Faust app id (a random tag), so tests never see each
other's records; worker processes are ``python -m sendpipe.worker`` with an
environment pointing at those topics.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from sendpipe.bus import admin
from sendpipe.core.messages import DeliveryEvent
from sendpipe.core.outcomes import Channel
from sendpipe.core.records import HealthVerdict, RoutedProvider, RoutingRecord
from sendpipe.core.sealing import Keyring, generate_key
from sendpipe.settings import KafkaSettings, TopicSettings

ALL_CHANNELS = ["email", "sms", "whatsapp"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def new_keyring() -> tuple[Keyring, str]:
    keys = {"active": "test1", "keys": {"test1": generate_key()}}
    text = json.dumps(keys)
    return Keyring.from_json(text), text


@dataclass
class Bench:
    """One test's isolated world on the shared broker: topic names, app id, sealing keys."""

    bootstrap: str
    partitions: int = 4
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:10])
    keyring: Keyring = field(init=False)
    keys_json: str = field(init=False)

    def __post_init__(self) -> None:
        self.keyring, self.keys_json = new_keyring()
        prefix = f"t{self.tag}"
        self.topics = TopicSettings(
            routing=f"{prefix}.routing",
            health=f"{prefix}.health",
            outcomes=f"{prefix}.outcomes",
            events=f"{prefix}.events",
            dlq=f"{prefix}.send.dlq",
            send_prefix=f"{prefix}.send.",
            partitions=self.partitions,
        )
        self.kafka = KafkaSettings(bootstrap=self.bootstrap)
        self.app_id = f"worker-{self.tag}"

    def env(self, *, web_port: int, **worker: Any) -> dict[str, str]:
        t = self.topics
        env = {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "SENDPIPE_KAFKA_BOOTSTRAP": self.bootstrap,
            "SENDPIPE_TOPICS_ROUTING": t.routing,
            "SENDPIPE_TOPICS_HEALTH": t.health,
            "SENDPIPE_TOPICS_OUTCOMES": t.outcomes,
            "SENDPIPE_TOPICS_EVENTS": t.events,
            "SENDPIPE_TOPICS_DLQ": t.dlq,
            "SENDPIPE_TOPICS_SEND_PREFIX": t.send_prefix,
            "SENDPIPE_TOPICS_PARTITIONS": str(t.partitions),
            "SENDPIPE_WORKER_APP_ID": self.app_id,
            "SENDPIPE_WORKER_WEB_PORT": str(web_port),
            "SENDPIPE_WORKER_WEB_HOST": "127.0.0.1",
            "SENDPIPE_WORKER_DATA_DIR": f"/tmp/sendpipe-test-{self.tag}",
            "SENDPIPE_SEALING_KEYS": self.keys_json,
        }
        for name, value in worker.items():
            env[f"SENDPIPE_WORKER_{name.upper()}"] = str(value)
        return env

    async def create_topics(self) -> None:
        specs = admin.data_topics(self.topics, ALL_CHANNELS) + admin.control_topics(self.topics)
        await admin.ensure_topics(self.kafka, specs)

    def send_topic(self, channel: str) -> str:
        return self.topics.send_topic(channel)

    async def topic_names(self) -> set[str]:
        async with admin.admin_client(self.kafka) as client:
            return set(await client.list_topics())

    async def topic_configs(self, names: list[str]) -> dict[str, dict[str, str]]:
        """Each topic's configuration as the broker reports it (its own settings and the defaults)."""
        async with admin.admin_client(self.kafka) as client:
            responses = await client.describe_configs([ConfigResource(ConfigResourceType.TOPIC, name) for name in names])
        return {
            resource[3]: {entry[0]: entry[1] for entry in resource[4]}
            for response in responses
            for resource in response.resources
        }

    def provider(
        self,
        sim: Any,
        package: str,
        *,
        name: str,
        priority: int,
        timeout: float = 2.0,
        uid: str | None = None,
    ) -> RoutedProvider:
        """A routed provider of ``package`` pointing at the simulator, credentials sealed with the test key."""
        config = sim.config(package)
        uid = uid or f"uid-{name}-{uuid.uuid4().hex[:8]}"
        sealed = self.keyring.seal({k: str(v) for k, v in config["credentials"].items()}, provider_uid=uid)
        return RoutedProvider(
            uid=uid,
            name=name,
            package=package,
            priority=priority,
            settings=config["settings"],
            sealed_credentials=sealed,
            timeout_seconds=timeout,
        )

    async def publish_routing(self, namespace: str, channel: str, providers: list[RoutedProvider]) -> RoutingRecord:
        record = RoutingRecord(
            namespace=namespace, channel=Channel(channel), providers=providers, published_at=datetime.now(tz=UTC)
        )
        await produce(self.bootstrap, self.topics.routing, [(record.key.encode(), record.to_json_bytes())])
        return record


async def produce(bootstrap: str, topic: str, items: list[tuple[bytes | None, bytes | None]], **kwargs: Any) -> None:
    producer = AIOKafkaProducer(**{"bootstrap_servers": bootstrap, "linger_ms": 5, "max_batch_size": 256 * 1024, **kwargs})
    await producer.start()
    try:
        futures = [await producer.send(topic, value, key=key) for key, value in items]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()



async def produce_steadily(bench: Bench, ids: list[str], namespace: str, *, rate: int) -> None:
    """Email send requests with ``ids`` to the email send topic at about ``rate`` per second (20 chunks a second)."""
    producer = AIOKafkaProducer(bootstrap_servers=bench.bootstrap, linger_ms=5)
    await producer.start()
    try:
        chunk = max(1, rate // 20)
        for start in range(0, len(ids), chunk):
            for message_id in ids[start : start + chunk]:
                await producer.send(bench.send_topic("email"), email(message_id, namespace), key=message_id.encode())
            await asyncio.sleep(0.05)
        await producer.flush()
    finally:
        await producer.stop()

def email(message_id: str, namespace: str, *, to: str = "user@example.com", **extra: Any) -> bytes:
    body = {
        "id": message_id,
        "namespace": namespace,
        "channel": "email",
        "to": to,
        "subject": f"message {message_id}",
        "text": f"hello {message_id}",
        **extra,
    }
    return json.dumps(body).encode()


def sms(message_id: str, namespace: str, *, to: str = "+14155550100", **extra: Any) -> bytes:
    body = {"id": message_id, "namespace": namespace, "channel": "sms", "to": to, "text": f"hello {message_id}", **extra}
    return json.dumps(body).encode()


def whatsapp(message_id: str, namespace: str, *, to: str = "+14155550100", **extra: Any) -> bytes:
    body = {"id": message_id, "namespace": namespace, "channel": "whatsapp", "to": to, "text": f"hi {message_id}", **extra}
    return json.dumps(body).encode()


class TopicReader:
    """Reads a topic from the beginning (all partitions, no group) and keeps every record."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.bootstrap, self.topic = bootstrap, topic
        self.records: list[Any] = []
        self._consumer: AIOKafkaConsumer | None = None

    async def __aenter__(self) -> Self:
        # read_committed, like every reader of the worker's output: its records are written in transactions.
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap, group_id=None, enable_auto_commit=False, isolation_level="read_committed"
        )
        await self._consumer.start()
        partitions = None
        for _ in range(50):
            cluster = await self._consumer._client.fetch_all_metadata()
            partitions = cluster.partitions_for_topic(self.topic)
            if partitions:
                break
            await asyncio.sleep(0.2)
        if not partitions:
            await self._consumer.stop()
            raise AssertionError(f"topic {self.topic} not found")
        tps = [TopicPartition(self.topic, p) for p in sorted(partitions)]
        self._consumer.assign(tps)
        await self._consumer.seek_to_beginning(*tps)
        return self

    async def __aexit__(self, *exc: Any) -> None:
        assert self._consumer is not None
        await self._consumer.stop()

    async def poll(self, timeout: float = 0.2) -> int:
        assert self._consumer is not None
        batches = await self._consumer.getmany(timeout_ms=int(timeout * 1000), max_records=10_000)
        count = 0
        for records in batches.values():
            self.records.extend(records)
            count += len(records)
        return count

    async def until(self, predicate: Any, *, timeout: float, what: str = "records") -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout}s waiting for {what}; have {len(self.records)} records")
            await self.poll()


class Events(TopicReader):
    """DeliveryEvents by message id."""

    def by_id(self) -> dict[str, list[DeliveryEvent]]:
        result: dict[str, list[DeliveryEvent]] = defaultdict(list)
        for record in self.records:
            event = DeliveryEvent.model_validate_json(record.value)
            result[event.id].append(event)
        return result

    async def wait_ids(self, ids: set[str], *, timeout: float) -> dict[str, DeliveryEvent]:
        await self.until(lambda: ids <= {r.key.decode() for r in self.records}, timeout=timeout, what=f"{len(ids)} events")
        by_id = self.by_id()
        return {i: by_id[i][0] for i in ids}


class Verdicts(TopicReader):
    def latest(self) -> dict[str, HealthVerdict]:
        result: dict[str, HealthVerdict] = {}
        for record in self.records:
            if record.value is not None:
                verdict = HealthVerdict.model_validate_json(record.value)
                result[verdict.provider_uid] = verdict
        return result


class WorkerProcess:
    """``python -m sendpipe.worker`` with a test environment; logs to a file."""

    def __init__(self, bench: Bench, *, log_dir: Path, name: str = "w1", **worker: Any) -> None:
        self.port = free_port()
        self.env = bench.env(web_port=self.port, **worker)
        self.log_path = log_dir / f"worker-{name}-{bench.tag}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> WorkerProcess:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "sendpipe.worker"], env=self.env, stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        return self

    def get(self, path: str, *, timeout: float = 2.0) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=timeout) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def json(self, path: str) -> Any:
        return json.loads(self.get(path)[1])

    async def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"worker exited with {self.proc.returncode}:\n{self.tail()}")
            try:
                status, _ = await asyncio.to_thread(self.get, "/ready", timeout=1.0)
                if status == 200:
                    return
            except OSError:
                pass
            await asyncio.sleep(0.3)
        raise AssertionError(f"worker not ready after {timeout}s:\n{self.tail()}")

    def tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self, timeout: float = 40.0) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode
