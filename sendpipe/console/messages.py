"""`sendpipe send` and `sendpipe events`: produce SendRequests, follow DeliveryEvents."""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError
from pydantic import ValidationError

from sendpipe.bus.connection import client_options
from sendpipe.bus.reader import TopicMissingError, caught_up, open_from_beginning
from sendpipe.core.messages import DeliveryEvent, describe_validation_error, parse_send_request
from sendpipe.settings import KafkaSettings, TopicSettings


def build_request(
    *, file: Path | None, fields: dict[str, Any], template_params: tuple[str, ...]
) -> bytes:
    """The JSON of one SendRequest from a file and/or flags (flags win); validated."""
    body: dict[str, Any] = json.loads(file.read_text()) if file else {}
    template = fields.pop("template", None)
    language = fields.pop("language", None)
    body.update({key: value for key, value in fields.items() if value is not None})
    if template:
        body["template"] = {"name": template, "language": language or "en_US", "parameters": list(template_params)}
    body.setdefault("id", f"msg-{uuid.uuid4().hex}")
    raw = json.dumps(body).encode()
    parse_send_request(raw)
    return raw


@click.command("send")
@click.option("--file", "-f", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A SendRequest as JSON (see examples/messages/); flags override its fields.")
@click.option("--id", "message_id", help="Message id (the idempotency key). Default: a new random id.")
@click.option("--namespace", "-n", help="Organization namespace whose providers deliver it.")
@click.option("--channel", "-c", type=click.Choice(["email", "sms", "whatsapp"]))
@click.option("--to", help="Recipient: an email address, or a phone number in E.164 (+14155550100).")
@click.option("--from", "from_", help="Sender override.")
@click.option("--subject", help="Email subject.")
@click.option("--text", help="Plain text body (email, SMS, WhatsApp).")
@click.option("--html", help="HTML body (email).")
@click.option("--template", help="WhatsApp template name.")
@click.option("--language", help="WhatsApp template language (default en_US).")
@click.option("--param", "params", multiple=True, help="WhatsApp template body parameter (repeatable).")
@click.option("--count", default=1, show_default=True, type=click.IntRange(1, 1_000_000),
              help="Send this many copies, each with its own id (id-1, id-2, ...).")
def send(file: Path | None, message_id: str | None, namespace: str | None, channel: str | None,
         to: str | None, from_: str | None, subject: str | None, text: str | None, html: str | None,
         template: str | None, language: str | None, params: tuple[str, ...], count: int) -> None:
    """Produce a SendRequest to sendpipe.send.<channel> and print its message id."""
    fields = {"id": message_id, "namespace": namespace, "channel": channel, "to": to, "from": from_,
              "subject": subject, "text": text, "html": html, "template": template, "language": language}
    try:
        raw = build_request(file=file, fields=fields, template_params=params)
    except ValidationError as exc:
        raise click.ClickException(f"invalid message: {describe_validation_error(exc)}") from None
    except json.JSONDecodeError as exc:
        raise click.ClickException(f"{file}: not JSON: {exc}") from None
    for message_id in asyncio.run(_produce(raw, count=count)):
        click.echo(message_id)


async def _produce(raw: bytes, *, count: int) -> list[str]:
    body = json.loads(raw)
    topic = TopicSettings().send_topic(body["channel"])
    producer = AIOKafkaProducer(**client_options(KafkaSettings()), acks="all", enable_idempotence=True)
    await _start(producer)
    try:
        ids: list[str] = []
        futures = []
        for index in range(count):
            message = body if count == 1 else {**body, "id": f"{body['id']}-{index + 1}"}
            ids.append(message["id"])
            futures.append(await producer.send(topic, json.dumps(message).encode(), key=message["id"].encode()))
        await asyncio.gather(*futures)
        return ids
    finally:
        await producer.stop()


@click.command("events")
@click.option("--follow", "-f", is_flag=True, help="Keep printing new events as they arrive.")
@click.option("--json", "as_json", is_flag=True, help="One DeliveryEvent JSON per line.")
@click.option("--namespace", "-n", help="Only this organization's events.")
@click.option("--id", "message_id", help="Only this message's event.")
def events(follow: bool, as_json: bool, namespace: str | None, message_id: str | None) -> None:
    """Print DeliveryEvents from sendpipe.events, oldest first."""

    def wanted(event: DeliveryEvent) -> bool:
        return (namespace is None or event.namespace == namespace) and (message_id is None or event.id == message_id)

    printer = _print_json if as_json else _print_row
    if not as_json:
        click.echo(f"{'COMPLETED':<12} {'ID':<28} {'NAMESPACE':<10} {'CHANNEL':<9} {'STATUS':<7} {'PROVIDER':<18} ATTEMPTS")
    try:
        asyncio.run(_follow_events(follow=follow, wanted=wanted, printer=printer))
    except KeyboardInterrupt:
        pass


async def _follow_events(*, follow: bool, wanted: Callable[[DeliveryEvent], bool],
                         printer: Callable[[DeliveryEvent], None]) -> None:
    topic = TopicSettings().events
    try:
        consumer, _, end = await open_from_beginning(KafkaSettings(), topic)
    except KafkaConnectionError:
        raise click.ClickException(_unreachable()) from None
    except TopicMissingError:
        raise click.ClickException(f"topic {topic} does not exist yet: is a worker running?") from None
    try:
        while True:
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                for record in records:
                    try:
                        event = DeliveryEvent.model_validate_json(record.value or b"")
                    except ValidationError:
                        continue
                    if wanted(event):
                        printer(event)
            if not follow and await caught_up(consumer, end):
                return
    finally:
        await consumer.stop()


async def _start(client: AIOKafkaProducer) -> None:
    try:
        await client.start()
    except KafkaConnectionError:
        await client.stop()
        raise click.ClickException(_unreachable()) from None


def _unreachable() -> str:
    return (
        f"cannot reach Kafka at {KafkaSettings().bootstrap}: start it (`sendpipe up` or `sendpipe stack up`), "
        'then `eval "$(sendpipe stack env)"` or set SENDPIPE_KAFKA_BOOTSTRAP'
    )


def _print_json(event: DeliveryEvent) -> None:
    sys.stdout.write(event.to_json_bytes().decode() + "\n")
    sys.stdout.flush()


def _print_row(event: DeliveryEvent) -> None:
    trail = " → ".join(f"{attempt.provider}:{attempt.outcome.value}" for attempt in event.attempts)
    tail = trail + (f"  ({event.reason.value})" if event.reason else "")
    click.echo(f"{event.completed_at:%H:%M:%S.%f}"[:12] + f" {event.id:<28} {event.namespace:<10} "
               f"{event.channel.value:<9} {event.status.value:<7} {event.provider or '-':<18} {tail}")
