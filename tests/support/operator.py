"""Helpers shared by the tests that run the operator: its subprocess, whole-topic reads, manifests, waiting.

Plain functions and classes, no fixtures, so tests in any folder can import
them (``tests/operator`` and ``tests/chart`` both run the real operator).
"""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from sendpipe.stack.kafka import run_coroutine

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_keys(*ids: str, active: str) -> dict[str, Any]:
    return {"active": active, "keys": {key_id: base64.b64encode(os.urandom(32)).decode() for key_id in ids}}


@dataclass
class Records:
    """Every record of a topic in order, as (key, decoded JSON or None for a tombstone)."""

    items: list[tuple[str, dict[str, Any] | None]]
    raw: list[bytes] = field(default_factory=list)

    def latest(self) -> dict[str, dict[str, Any]]:
        state: dict[str, dict[str, Any]] = {}
        for key, value in self.items:
            if value is None:
                state.pop(key, None)
            else:
                state[key] = value
        return state

    def count(self, key: str | None = None) -> int:
        return sum(1 for k, _ in self.items if key is None or k == key)


def _decode(value: bytes | None) -> dict[str, Any] | None:
    if value is None:
        return None
    try:
        decoded = json.loads(value)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return {"_undecodable": True}
    return decoded if isinstance(decoded, dict) else {"_value": decoded}


async def _read_topic(bootstrap: str, topic: str) -> Records:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest")
    await consumer.start()
    try:
        cluster = await consumer._client.fetch_all_metadata()  # consumer.topics() leaves its own metadata stale
        partitions = cluster.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        if not tps:
            return Records([])
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        end = await consumer.end_offsets(tps)
        items: list[tuple[str, dict[str, Any] | None]] = []
        raw: list[bytes] = []
        while [tp for tp in tps if await consumer.position(tp) < end[tp]]:
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                for record in records:
                    key = (record.key or b"").decode()
                    raw.append((record.key or b"") + b"\0" + (record.value or b""))
                    items.append((key, _decode(record.value)))
        return Records(items, raw)
    finally:
        await consumer.stop()


async def _read_all_raw(bootstrap: str) -> dict[str, list[bytes]]:
    """Every record of every topic (key and value bytes), with one consumer assigned to all partitions."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest",
                                max_partition_fetch_bytes=4 * 1024 * 1024)
    await consumer.start()
    try:
        cluster = await consumer._client.fetch_all_metadata()
        tps = [TopicPartition(topic, p) for topic in sorted(cluster.topics())
               for p in sorted(cluster.partitions_for_topic(topic) or ())]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        end = await consumer.end_offsets(tps)
        pending = {tp for tp in tps if end[tp] > 0}
        out: dict[str, list[bytes]] = {}
        while pending:
            batches = await consumer.getmany(*pending, timeout_ms=1000, max_records=10000)
            for tp, records in batches.items():
                out.setdefault(tp.topic, []).extend(
                    (record.key or b"") + b"\0" + (record.value or b"") for record in records)
            pending = {tp for tp in pending if await consumer.position(tp) < end[tp]}
        return out
    finally:
        await consumer.stop()


def read_all_topics(bootstrap: str) -> dict[str, list[bytes]]:
    return run_coroutine(_read_all_raw(bootstrap))


def read_topic(bootstrap: str, topic: str) -> Records:
    return run_coroutine(_read_topic(bootstrap, topic))


async def _produce(bootstrap: str, topic: str, key: str, value: bytes | None) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(topic, key=key.encode(), value=value)
    finally:
        await producer.stop()


def produce(bootstrap: str, topic: str, key: str, value: bytes | None) -> None:
    run_coroutine(_produce(bootstrap, topic, key, value))


def list_topics(bootstrap: str) -> list[str]:
    async def run() -> list[str]:
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
        await consumer.start()
        try:
            return sorted(await consumer.topics())
        finally:
            await consumer.stop()

    return run_coroutine(run())


def wait_for(predicate: Callable[[], Any], *, timeout: float = 30.0, interval: float = 0.2, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}; last value: {last!r}")


class OperatorProcess:
    """`sendpipe operator` in a subprocess with JSON logs appended to ``log_path``."""

    def __init__(self, *, env: dict[str, str], log_path: Path, probe_port: int) -> None:
        self.env = env
        self.log_path = log_path
        self.probe_port = probe_port
        self.process: subprocess.Popen[bytes] | None = None
        self._offset = 0

    def start(self, *, wait_synced: bool = True) -> OperatorProcess:
        self._offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "sendpipe.cli", "--log-format", "json", "--log-level", "DEBUG", "operator"],
            env=self.env, stdout=log, stderr=subprocess.STDOUT, cwd=REPO,
        )
        log.close()
        if wait_synced:
            wait_for(lambda: self.logged("operator in sync"), timeout=90, what="operator in sync")
        return self

    def lines(self, *, since_start: bool = True) -> list[dict[str, Any]]:
        if not self.log_path.exists():
            return []
        with self.log_path.open("rb") as handle:
            if since_start:
                handle.seek(self._offset)
            out = []
            for line in handle.read().decode(errors="replace").splitlines():
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError:
                    out.append({"message": line})
            return out

    def logged(self, message: str) -> list[dict[str, Any]]:
        self._check_alive()
        return [line for line in self.lines() if line.get("message") == message]

    def _check_alive(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            tail = self.log_path.read_text(errors="replace")[-3000:]
            raise AssertionError(f"operator exited with {self.process.returncode}:\n{tail}")

    def healthz(self) -> tuple[int, dict[str, Any]]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.probe_port}/healthz", timeout=15) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, {}

    def stop(self, *, timeout: float = 30.0) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                raise AssertionError("operator did not stop within 30 s of SIGTERM") from None
        code = self.process.returncode
        self.process = None
        return code


def provider_manifest(
    name: str, namespace: str, *, package: str = "provider-sendgrid", priority: int = 10, enabled: bool = True,
    secret: str | None = None, settings: dict[str, Any] | None = None, channel: str | None = None,
) -> str:
    spec: dict[str, Any] = {
        "package": package, "priority": priority, "enabled": enabled,
        "credentialsSecretRef": {"name": secret or f"{name}-creds"},
        "settings": settings if settings is not None else {"from": "noreply@acme.example"},
    }
    if channel:
        spec["channel"] = channel
    return json.dumps({"apiVersion": "sendpipe.io/v1alpha1", "kind": "Provider",
                       "metadata": {"name": name, "namespace": namespace}, "spec": spec})


def secret_manifest(name: str, namespace: str, data: dict[str, str]) -> str:
    return json.dumps({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": namespace},
                       "stringData": data})
