"""What `sendpipe up` shows: the example organizations on the simulator, a burst of messages, a live summary."""

from __future__ import annotations

import asyncio
import json
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import yaml
from aiokafka import AIOKafkaProducer
from pydantic.alias_generators import to_camel

from sendpipe.bus.connection import client_options
from sendpipe.bus.reader import open_from_beginning
from sendpipe.core.messages import DeliveryEvent
from sendpipe.core.outcomes import DeliveryStatus
from sendpipe.settings import KafkaSettings, TopicSettings
from sendpipe.simulator.server import package_config
from sendpipe.simulator.state import SimCredentials

if TYPE_CHECKING:
    from sendpipe.console.system import Service
    from sendpipe.stack.kubectl import Kubectl
    from sendpipe.stack.state import StackInfo

RUN_ID = time.strftime("%H%M%S")


def _camel(values: dict[str, Any]) -> dict[str, Any]:
    return {to_camel(key): value for key, value in values.items()}


def example_documents(examples: Path, *, simulator_url: str, smtp_port: int) -> list[dict[str, Any]]:
    """Every manifest under ``examples``, each Provider (and its Secret) pointed at the simulator."""
    documents = [
        doc
        for path in sorted(examples.rglob("*.yaml"), key=lambda p: (p.name != "namespace.yaml", str(p)))
        for doc in yaml.safe_load_all(path.read_text())
        if doc
    ]
    secrets = {(d["metadata"]["namespace"], d["metadata"]["name"]): d for d in documents if d["kind"] == "Secret"}
    for provider in (d for d in documents if d["kind"] == "Provider"):
        spec = provider["spec"]
        config = package_config(spec["package"], http_url=simulator_url, credentials=SimCredentials(),
                                smtp_port=smtp_port)
        spec["settings"] = {**spec.get("settings", {}), **_camel(config["settings"])}
        if spec["package"] == "provider-smtp":
            spec["settings"]["verifyCertificates"] = False  # the simulator's certificate is self-signed
        secret = secrets[(provider["metadata"]["namespace"], spec["credentialsSecretRef"]["name"])]
        secret["stringData"] = _camel(config["credentials"])
    return documents


def wait_worker_ready(port: int, *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    raise click.ClickException(f"the worker was not ready within {timeout:.0f}s (its log is in the state dir)")


def burst(per_channel: int) -> list[dict[str, Any]]:
    """Example SendRequests: every channel for acme, SMS for globex too."""
    messages: list[dict[str, Any]] = []
    for i in range(per_channel):
        messages.append({"id": f"demo-{RUN_ID}-email-{i}", "namespace": "acme", "channel": "email",
                         "to": f"customer{i}@customer.example", "subject": "Your receipt",
                         "text": f"Thanks for order #{1000 + i}."})
        messages.append({"id": f"demo-{RUN_ID}-sms-{i}", "namespace": "acme", "channel": "sms",
                         "to": f"+2547123{i % 100000:05d}", "text": f"Your code is {100000 + i}"})
        messages.append({"id": f"demo-{RUN_ID}-whatsapp-{i}", "namespace": "acme", "channel": "whatsapp",
                         "to": f"+23480120{i % 100000:05d}", "text": f"Order #{1000 + i} has shipped."})
        if i % 5 == 0:
            messages.append({"id": f"demo-{RUN_ID}-globex-{i}", "namespace": "globex", "channel": "sms",
                             "to": f"+1415555{i % 10000:04d}", "text": "Globex says hi"})
    return messages


def send_burst(bootstrap: str, *, per_channel: int) -> int:
    return asyncio.run(_produce(bootstrap, burst(per_channel)))


async def _produce(bootstrap: str, messages: list[dict[str, Any]]) -> int:
    topics = TopicSettings()
    producer = AIOKafkaProducer(**client_options(KafkaSettings(bootstrap=bootstrap)), acks="all")
    await producer.start()
    try:
        for message in messages:
            await producer.send(topics.send_topic(message["channel"]), json.dumps(message).encode(),
                                key=message["id"].encode())
        await producer.flush()
    finally:
        await producer.stop()
    return len(messages)


class Tally:
    """Delivery events of this run, counted the way the summary shows them."""

    def __init__(self) -> None:
        self.sent_by: Counter[str] = Counter()
        self.failed: Counter[str] = Counter()
        self.failovers = 0
        self.total = 0
        self.dead_lettered: Counter[str] = Counter()

    def add_dead_letter(self, headers: list[tuple[str, bytes]]) -> None:
        self.total += 1
        self.dead_lettered[dict(headers).get("sendpipe-dlq-detail", b"?").decode(errors="replace")] += 1

    def add(self, event: DeliveryEvent) -> None:
        self.total += 1
        if event.status is DeliveryStatus.SENT:
            self.sent_by[f"{event.namespace}/{event.provider}"] += 1
        else:
            self.failed[event.reason.value if event.reason else "?"] += 1
        if len(event.attempts) > 1:
            self.failovers += 1

    def render(self, expected: int) -> str:
        lines = [f"delivery events: {self.total}/{expected}   failovers: {self.failovers}   "
                 f"failed: {sum(self.failed.values())} {dict(self.failed) or ''}"]
        lines += [f"  sent via {name:<28} {count:>6}" for name, count in sorted(self.sent_by.items())]
        lines += [f"  dead-lettered {count} x {detail}" for detail, count in self.dead_lettered.items()]
        return "\n".join(lines)


async def _tally_events(bootstrap: str, *, seconds: float, expected: int) -> Tally:
    tally = Tally()
    topics = TopicSettings()
    consumer, _, _ = await open_from_beginning(KafkaSettings(bootstrap=bootstrap), topics.events)
    dead_letters, _, _ = await open_from_beginning(KafkaSettings(bootstrap=bootstrap), topics.dlq)
    try:
        deadline = time.monotonic() + seconds
        next_print = time.monotonic() + 3
        while time.monotonic() < deadline and tally.total < expected:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for record in records:
                    event = DeliveryEvent.model_validate_json(record.value or b"{}")
                    if event.id.startswith(f"demo-{RUN_ID}-"):
                        tally.add(event)
            for records in (await dead_letters.getmany(timeout_ms=10)).values():
                for record in records:
                    if (record.key or b"").startswith(f"demo-{RUN_ID}-".encode()):
                        tally.add_dead_letter(list(record.headers))
            if time.monotonic() >= next_print and sys.stderr.isatty():
                click.echo(tally.render(expected) + "\n", err=True)
                next_print = time.monotonic() + 3
    finally:
        await consumer.stop()
        await dead_letters.stop()
    return tally


def live_summary(*, kafka_bootstrap: str, kubectl: Kubectl, seconds: float, expected: int) -> None:
    tally = asyncio.run(_tally_events(kafka_bootstrap, seconds=seconds, expected=expected))
    click.echo(tally.render(expected))
    click.echo("")
    click.echo(kubectl("get", "providers", "-A"))


def next_steps(*, info: StackInfo, services: dict[str, Service], elapsed: float) -> str:
    simulator = services["simulator"].port
    url = "" if simulator == 4010 else f" --url http://127.0.0.1:{simulator}"
    steps = [
        ('eval "$(sendpipe stack env)"', "kubectl and the sendpipe CLI now talk to this stack"),
        ("sendpipe providers list -n acme", "routing order and health per channel"),
        (f"sendpipe simulator fault africastalking --outage 503{url}", "take acme's primary SMS provider down"),
        ('sendpipe send -n acme -c sms --to +254712345678 --text "hello" --count 200', ""),
        ("kubectl get providers -n acme", "africastalking is unhealthy; twilio-sms carries the load"),
        ("kubectl get events -n acme", "why it changed"),
        (f"sendpipe simulator clear africastalking{url}", "end the outage; send again: it is probed, then healthy"),
        ("sendpipe events --follow", "every message's DeliveryEvent"),
        ("sendpipe down", "stop everything"),
    ]
    lines = [line for command, why in steps for line in ((f"  # {why}",) if why else ()) + (f"  {command}",)]
    return f"\nSendPipe is running ({elapsed:.0f}s). Logs: {info.state_dir / 'logs'}\n\nTry next:\n" + "\n".join(lines) + "\n"
