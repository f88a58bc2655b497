"""Delivery.prepare: a chunk's plans and first attempts are made ahead, and used only while still current.

Small unit tests (no Kafka): the views are fed their records directly, the
outputs are collected in memory, the provider is the project's simulator.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from sendpipe.core import routing
from sendpipe.core.outcomes import Channel, DeliveryStatus, HealthState, Outcome
from sendpipe.core.provider import WindowCounts
from sendpipe.core.records import HealthVerdict, RoutedProvider, RoutingRecord
from sendpipe.providers import ProviderClient
from sendpipe.settings import KafkaSettings, TopicSettings
from sendpipe.simulator import Simulator
from sendpipe.worker.delivery import Delivery, Fields, Finish, Incoming, validate
from sendpipe.worker.metrics import Metrics
from sendpipe.worker.views import CredentialCache, Views
from tests.worker.harness import Bench, email

NAMESPACE = "acme"


class Collected:
    """The outputs, kept in memory."""

    def __init__(self) -> None:
        self.events: list[Fields] = []
        self.outcomes: list[tuple[str, Outcome]] = []

    async def terminal(self, event: Fields, *, source_partition: int) -> None:
        self.events.append(event)

    def outcome(self, provider: RoutedProvider, *, outcome: Outcome, **_: Any) -> None:
        self.outcomes.append((provider.name, outcome))

    async def dlq(self, **_: Any) -> None:
        raise AssertionError("nothing here goes to the DLQ")

    async def requeue(self, **_: Any) -> None:
        raise AssertionError("nothing here is requeued")


class NothingSeen:
    def seen(self, message_id: str) -> bool:
        return False


class World:
    def __init__(self, sim: Simulator, client: ProviderClient) -> None:
        self.sim = sim
        self.bench = Bench("127.0.0.1:1")  # only its keyring and provider helper: no broker is used
        self.views = Views(kafka=KafkaSettings(bootstrap="127.0.0.1:1"), topics=TopicSettings())
        self.outputs = Collected()
        self.now = time.time()
        self.primary = self.bench.provider(sim, "provider-sendgrid", name="primary", priority=1)
        self.secondary = self.bench.provider(sim, "provider-resend", name="secondary", priority=2)
        self.route([self.primary, self.secondary])
        keyring = self.bench.keyring
        self.delivery = Delivery(
            views=self.views,
            credentials=CredentialCache(lambda sealed, uid: keyring.unseal(sealed, provider_uid=uid)),
            client=client,
            outputs=self.outputs,
            dedupe=NothingSeen(),
            metrics=Metrics(),
            max_wait_seconds=5.0,
            clock=lambda: self.now,
        )

    def route(self, providers: list[RoutedProvider]) -> None:
        record = RoutingRecord(
            namespace=NAMESPACE, channel=Channel.EMAIL, providers=providers, published_at=datetime.now(tz=UTC)
        )
        self.views.routing._apply(record.key.encode(), record.to_json_bytes())

    def eject(self, provider: RoutedProvider) -> None:
        verdict = HealthVerdict(
            provider_uid=provider.uid, namespace=NAMESPACE, channel=Channel.EMAIL, provider=provider.name,
            state=HealthState.UNHEALTHY, error_rate=1.0, window=WindowCounts(sends=20, failures=20),
            consecutive_failures=20, ejected_until=datetime.fromtimestamp(self.now + 60, tz=UTC),
            observed_at=datetime.fromtimestamp(self.now, tz=UTC),
        )
        self.views._health_view._apply(provider.uid.encode(), verdict.to_json_bytes())

    def incoming(self, message_id: str) -> Incoming:
        raw = email(message_id, NAMESPACE)
        return Incoming(
            raw=raw, key=message_id.encode(), topic="sendpipe.send.email", partition=0, offset=0,
            channel=Channel.EMAIL, received_at=datetime.fromtimestamp(self.now, tz=UTC),
            request=validate(raw, channel=Channel.EMAIL, topic="sendpipe.send.email"),
        )

    def requests_to(self, provider: RoutedProvider) -> int:
        return len(self.sim.requests(provider.package))


@pytest.fixture
async def world() -> AsyncIterator[World]:
    async with Simulator() as sim, ProviderClient(max_connections=10) as client:
        yield World(sim, client)


@pytest.fixture
def plans(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The first provider of every plan made, in order."""
    made: list[str] = []
    original: Callable[..., Any] = routing.plan_route

    def counting(*args: Any, **kwargs: Any) -> Any:
        route = original(*args, **kwargs)
        made.append(route.attempts[0].provider.name if isinstance(route, routing.Plan) else type(route).__name__)
        return route

    monkeypatch.setattr(routing, "plan_route", counting)
    return made


async def test_a_message_starts_with_its_prepared_plan_and_request_while_nothing_changed(
    world: World, plans: list[str]
) -> None:
    incoming = world.incoming("m-1")
    world.delivery.prepare([incoming])
    assert plans == ["primary"] and world.requests_to(world.primary) == 0, "prepared: planned, nothing sent"
    assert await world.delivery.handle(incoming) is Finish.EVENT
    assert plans == ["primary"], "the prepared plan was used"
    (event,) = world.outputs.events
    assert event["status"] is DeliveryStatus.SENT and event["provider"] == "primary"
    assert world.requests_to(world.primary) == 1


async def test_a_chunk_is_planned_once_per_namespace_and_channel_and_each_message_gets_its_own_request(
    world: World, plans: list[str]
) -> None:
    chunk = [world.incoming(f"m-{i}") for i in range(3)]
    world.delivery.prepare(chunk)
    assert plans == ["primary"], "one plan for the chunk's one namespace and channel"
    for incoming in chunk:
        assert await world.delivery.handle(incoming) is Finish.EVENT
    assert plans == ["primary"], "every message used it"
    assert sorted(event["id"] for event in world.outputs.events) == ["m-0", "m-1", "m-2"]
    assert world.requests_to(world.primary) == 3, "one request each, none shared"


async def test_a_verdict_after_preparing_makes_a_new_plan_and_the_prepared_request_is_never_sent(
    world: World, plans: list[str]
) -> None:
    incoming = world.incoming("m-2")
    world.delivery.prepare([incoming])
    world.eject(world.primary)
    assert await world.delivery.handle(incoming) is Finish.EVENT
    assert plans == ["primary", "secondary"]
    (event,) = world.outputs.events
    assert event["provider"] == "secondary" and [a["provider"] for a in event["attempts"]] == ["secondary"]
    assert world.requests_to(world.primary) == 0


async def test_a_routing_change_after_preparing_makes_a_new_plan(world: World, plans: list[str]) -> None:
    incoming = world.incoming("m-3")
    world.delivery.prepare([incoming])
    world.route([world.secondary])  # the primary was deleted
    assert await world.delivery.handle(incoming) is Finish.EVENT
    assert plans == ["primary", "secondary"] and world.requests_to(world.primary) == 0


async def test_a_plan_older_than_its_freshness_is_made_again(world: World, plans: list[str]) -> None:
    incoming = world.incoming("m-4")
    world.delivery.prepare([incoming])
    world.now += 0.2
    assert await world.delivery.handle(incoming) is Finish.EVENT
    assert plans == ["primary", "primary"], "planned again, and its request built again"
    assert world.requests_to(world.primary) == 1


async def test_rotated_credentials_after_preparing_are_the_ones_sent(world: World, plans: list[str]) -> None:
    incoming = world.incoming("m-5")
    world.delivery.prepare([incoming])
    # The key is rotated: the simulator refuses the old one, the Provider's record carries the new one.
    world.sim.state.credentials = dataclasses.replace(world.sim.state.credentials, sendgrid_api_key="SG.rotated")
    rotated = world.bench.provider(world.sim, "provider-sendgrid", name="primary", priority=1, uid=world.primary.uid)
    world.route([rotated, world.secondary])
    assert await world.delivery.handle(incoming) is Finish.EVENT
    (event,) = world.outputs.events
    assert event["provider"] == "primary" and len(event["attempts"]) == 1, event
