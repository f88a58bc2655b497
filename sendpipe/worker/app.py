"""The Faust app of the data plane: the health agent, tables, timers and web pages, declared at module level.

Thin on purpose (STYLE.md): the send path (``SendIntake`` → ``Dispatcher`` →
``Delivery`` → ``TransactionalOutbox``) runs on its own event loop thread,
built by ``send_plane.py``, so that this loop stays responsive at full load;
the health agent hands outcomes to ``HealthOwner``. All settings come from
``sendpipe.settings`` when this module is imported, so a worker process is
configured by its environment.

Faust tables: ``health-state`` (compact ProviderHealth records by uid) and
three 1-minute tumbling windowed tables of sends, failures by outcome and
latency per provider, written at most every half second per provider
(``health_agent.HeldWrites``) and rebuilt from their changelogs at start;
the outcomes topic and every changelog have ``SENDPIPE_TOPICS_PARTITIONS``
partitions, so Faust's assignor co-partitions them. The dedupe table is the
intake's own (``dedupe.py``): its markers must be written in the same
transaction as the events.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from datetime import timedelta
from typing import Any

import faust
import faust.streams as faust_streams
from mode import Service, want_seconds

from sendpipe.bus import admin
from sendpipe.bus.connection import ssl_context
from sendpipe.core.health import HealthPolicy
from sendpipe.core.outcomes import Channel, Outcome
from sendpipe.core.records import HealthVerdict, OutcomeBatch
from sendpipe.core.sealing import Keyring
from sendpipe.settings import KafkaSettings, SealingSettings, TopicSettings, WorkerSettings
from sendpipe.worker import faust_tuning, gc_policy, health_agent
from sendpipe.worker.dedupe import DedupeTable, changelog_topic
from sendpipe.worker.metrics import CONTENT_TYPE, Metrics
from sendpipe.worker.send_plane import SendPlane
from sendpipe.worker.views import Views

log = logging.getLogger("sendpipe.worker")

worker_settings = WorkerSettings()
kafka_settings = KafkaSettings()
topic_settings = TopicSettings()
CHANNELS = [Channel(name) for name in worker_settings.channels]
PARTITIONS = topic_settings.partitions


def _broker_credentials(kafka: KafkaSettings) -> Any:
    if kafka.security_protocol.startswith("SASL"):
        return faust.SASLCredentials(
            username=kafka.sasl_username,
            password=kafka.sasl_password.get_secret_value() if kafka.sasl_password else None,
            mechanism=kafka.sasl_mechanism or "PLAIN",
            ssl_context=ssl_context(kafka) if kafka.security_protocol == "SASL_SSL" else None,
        )
    if kafka.security_protocol == "SSL":
        return faust.SSLCredentials(ssl_context(kafka))
    return None


faust_tuning.install(worker_settings.fetch_max_wait_ms)

app = faust.App(
    worker_settings.app_id,
    broker=[f"kafka://{host.strip()}" for host in kafka_settings.bootstrap.split(",")],
    broker_credentials=_broker_credentials(kafka_settings),
    store="memory://",
    autodiscover=False,
    topic_partitions=PARTITIONS,
    topic_replication_factor=topic_settings.replication_factor,
    table_standby_replicas=0,
    topic_disable_leader=True,  # no @app.timer(on_leader=True) here, so no leader-election topic
    consumer_auto_offset_reset="earliest",
    broker_commit_interval=1.0,
    broker_session_timeout=worker_settings.session_timeout_seconds,
    broker_heartbeat_interval=min(3.0, worker_settings.session_timeout_seconds / 3),
    producer_acks=-1,
    producer_linger_ms=worker_settings.producer_linger_ms,
    web_enabled=True,
    web_bind=worker_settings.web_host,
    web_port=worker_settings.web_port,
    web_in_thread=False,
    datadir=str(worker_settings.data_dir / worker_settings.app_id),
    logging_config=None,
)

_raw: dict[str, Any] = {"key_type": bytes, "value_type": bytes, "key_serializer": "raw", "value_serializer": "raw"}
outcomes_topic = app.topic(topic_settings.outcomes, partitions=PARTITIONS, **_raw)



def _bytes_table(name: str) -> Any:
    """A table of bytes -> bytes. Faust derives a table's codecs from its key/value types ("json" for
    anything but a Record) and ignores ``schema`` for them, so set "raw" before the store is created."""
    table: Any = app.Table(name, partitions=PARTITIONS, key_type=bytes, value_type=bytes)
    table.key_serializer = "raw"
    table.value_serializer = "raw"
    return table


health_table = _bytes_table("health-state")


WINDOW_SECONDS = 60.0


def _windowed(name: str, default: type) -> Any:
    schema: Any = faust.Schema(key_type=str, value_type=default, key_serializer="json", value_serializer="json")
    table = app.Table(name, default=default, partitions=PARTITIONS, schema=schema)
    return table.tumbling(WINDOW_SECONDS, expires=timedelta(minutes=10))


sends_window = _windowed("health-sends", int)
failures_window = _windowed("health-failures", int)
latency_window = _windowed("health-latency-ms", float)

metrics = Metrics()
health_owner = health_agent.HealthOwner(
    policy=HealthPolicy(
        publish_interval_seconds=worker_settings.health_publish_interval_seconds,
        ejection_base_seconds=worker_settings.health_ejection_base_seconds,
    )
)
dedupe = DedupeTable(
    topic=changelog_topic(worker_settings.app_id),
    expiry_seconds=worker_settings.dedupe_expiry_seconds,
    max_entries=worker_settings.dedupe_max_entries,
)
metrics.dedupe_entries.set_function(lambda: len(dedupe.data))


def _on_verdict(verdict: HealthVerdict) -> None:
    metrics.set_health(
        namespace=verdict.namespace,
        channel=verdict.channel.value,
        provider=verdict.provider,
        uid=verdict.provider_uid,
        state=verdict.state,
    )


views = Views(kafka=kafka_settings, topics=topic_settings, on_verdict=_on_verdict)


async def create_topics(*, shared: bool) -> list[str]:
    """Create the worker's topics before Faust subscribes, so that its first metadata has their partitions.

    Faust's changelogs always (they are the worker's own state); the send,
    outcome, event, DLQ and control topics only when ``shared``. A changelog
    Faust created itself could be missing from the metadata its assignor and
    tables read, and a table write then fails with PartitionsMismatch.
    """
    specs = _changelog_specs()
    if shared:
        specs += admin.data_topics(topic_settings, [c.value for c in CHANNELS]) + admin.control_topics(topic_settings)
    return await admin.ensure_topics(kafka_settings, specs)


def _changelog_specs() -> list[admin.TopicSpec]:
    """Each table's changelog topic as Faust would declare it (cleanup policy, retention, extra config)."""
    specs = []
    for table in app.tables.values():
        topic = table.changelog_topic
        config = {key: str(value) for key, value in (topic.config or {}).items()}
        policy = ",".join(flag for flag, on in (("compact", topic.compacting), ("delete", topic.deleting)) if on)
        if policy:
            config["cleanup.policy"] = policy
        if topic.retention:
            config["retention.ms"] = str(int(want_seconds(topic.retention) * 1000))
        replicas = topic.replicas or topic_settings.replication_factor
        specs.append(admin.TopicSpec(topic.get_topic_name(), topic.partitions or PARTITIONS, replicas, config))
    return specs


def _load_keyring() -> Keyring | None:
    sealing = SealingSettings()
    if sealing.keys is not None:
        return Keyring.from_json(sealing.keys.get_secret_value())
    if sealing.keys_file is not None:
        return Keyring.from_path(sealing.keys_file)
    return None


def _crash_from_send_loop(exc: BaseException) -> None:
    """The send path failed (on its own loop): crash the Faust app on its loop, so the process restarts."""
    asyncio.run_coroutine_threadsafe(app.crash(exc), app.loop)


class Runtime(Service):
    """Starts the send path on its own loop (``send_plane.py``); drains and commits it on stop."""

    plane: SendPlane | None = None

    async def on_start(self) -> None:
        if worker_settings.log_level != "debug":
            # One line per HTTP request / attempt costs more CPU than the attempt itself.
            for noisy in ("httpx", "httpcore", "sendpipe.providers"):
                logging.getLogger(noisy).setLevel(logging.WARNING)
        keyring = _load_keyring()
        if keyring is None:
            log.warning("no sealing keys configured (SENDPIPE_SEALING_KEYS_FILE): every provider attempt will fail")
        plane = SendPlane(
            worker=worker_settings,
            kafka=kafka_settings,
            topics=topic_settings,
            channels=CHANNELS,
            partitions=PARTITIONS,
            views=views,
            dedupe=dedupe,
            metrics=metrics,
            keyring=keyring,
            crash=_crash_from_send_loop,
        )
        Runtime.plane = plane
        await plane.start()
        gc_policy.apply(worker_settings.gc_young_threshold)
        log.info("worker ready", extra={"app_id": worker_settings.app_id, "channels": [c.value for c in CHANNELS]})

    async def on_stop(self) -> None:
        if Runtime.plane is not None:
            await Runtime.plane.stop()


app.service(Runtime)


# Each wait of take_events starts Faust tasks (``wait_first``), even with no outcomes (~300 a second
# at 0.02 s). 0.05 s measured ~10 instead of 14-20 ms/s of idle CPU on Faust's thread, which shares
# the GIL with the send path, for at most 50 ms more verdict delay.
_BATCH_WITHIN_SECONDS = 0.05

held_writes = health_agent.HeldWrites(interval=0.5, window_seconds=WINDOW_SECONDS)


@app.agent(outcomes_topic, name="sendpipe.health", concurrency=1)
async def health(stream: Any) -> None:
    """Outcomes → state machines (one owner per provider) → verdicts; windowed figures per provider.

    Batched (``take_events``): each outcome goes through its provider's machine at
    once (a transition is published and persisted before the next record), while
    the state records and windowed figures are written together every half
    second per provider (``HeldWrites``), in the context of that provider's last
    event of each window (same partition: outcomes are keyed by uid).
    """
    async for events in stream.take_events(500, within=_BATCH_WITHIN_SECONDS):
        now = time.monotonic()
        for event in events:
            try:
                batch = OutcomeBatch.model_validate_json(event.value)
            except ValueError:
                log.warning("undecodable outcome record skipped", extra={"offset": event.message.offset})
                continue
            if batch.provider_uid not in health_owner.owned:
                stored = health_table.data.get(batch.provider_uid.encode())
                if stored is not None:  # restored from the changelog after a restart or rebalance
                    health_owner.load([stored])
            owned = health_owner.adopt(batch, partition=event.message.partition)
            for outcome, at, retry_after in batch.entries():
                if health_owner.observe(owned, outcome, at=at, retry_after=retry_after):
                    await _publish(owned, now=max(time.time(), at))
                    await _persist(owned)
            held_writes.add(batch, event, timestamp=event.message.timestamp, now=now)
            metrics.outcomes.inc(len(batch.outcomes))
        await _write_held(now=time.monotonic())


async def _write_held(*, now: float, at_shutdown: bool = False) -> None:
    """Write the held records that are due (all of them at shutdown) of the providers this worker still owns.

    A provider whose outcomes partition was revoked meanwhile is skipped: its new
    owner has restored the tables already and counts from there.
    """
    providers, figures = held_writes.take(now=now, everything=at_shutdown)
    if not providers:
        return
    assigned = _owned_partitions()
    writing = {}
    for uid in providers:
        owned = health_owner.owned.get(uid)
        # At shutdown the consumer has already left its group: no assignment to check, these are the last writes.
        if owned is not None and (at_shutdown or owned.partition in assigned):
            writing[uid] = owned
    for owned in writing.values():
        await _persist(owned)
    for uid, delta in figures:
        if uid in writing:
            _update_windows(uid, delta)


def _update_windows(uid: str, delta: health_agent.WindowDelta) -> None:
    # Faust's table writes take their partition and event time from the "current event";
    # outside the stream iterator we set it to this provider's last event explicitly.
    token = faust_streams._current_event.set(weakref.ref(delta.last_event))
    try:
        sends_window[uid] += delta.sends
        latency_window[uid] += delta.latency_ms
        for outcome, count in delta.failures.items():
            failures_window[f"{uid}|{outcome}"] += count
    finally:
        faust_streams._current_event.reset(token)


async def _publish(owned: health_agent.Owned, *, now: float) -> None:
    verdict = health_owner.publish(owned, now=now)
    await app.producer.send(
        topic_settings.health, owned.identity.uid.encode(), verdict.to_json_bytes(), None, None, None
    )
    log.info(
        "health verdict",
        extra={"provider": owned.identity.name, "uid": owned.identity.uid, "state": verdict.state.value},
    )


async def _persist(owned: health_agent.Owned) -> None:
    key = owned.identity.uid.encode()
    value = health_agent.encode_value(owned)
    health_table.data[key] = value
    await app.producer.send(health_table.changelog_topic.get_topic_name(), key, value, owned.partition, None, None)


def _owned_partitions() -> set[int]:
    return {tp.partition for tp in app.consumer.assignment() if tp.topic == topic_settings.outcomes}


@app.timer(1.0)  # type: ignore[untyped-decorator]
async def publish_health() -> None:
    """Ejections end and windows expire without outcomes: tick every owned provider, publish what is due."""
    if app.rebalancing:
        return
    owned_partitions = _owned_partitions()
    health_owner.forget_partitions({o.partition for o in health_owner.owned.values()} - owned_partitions)
    if not health_owner.owned and len(health_table.data):
        health_owner.load(
            value for value in health_table.data.values()
        )
        health_owner.forget_partitions({o.partition for o in health_owner.owned.values()} - owned_partitions)
    now = time.time()
    for owned in health_owner.due(now=now):
        await _publish(owned, now=now)
        await _persist(owned)
    await _write_held(now=time.monotonic())


@app.on_before_shutdown.connect
async def write_held_on_shutdown(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
    """The consumer has stopped and the producer is flushed next: write what is held."""
    try:
        await _write_held(now=time.monotonic(), at_shutdown=True)
    except Exception:
        log.exception("could not write the held health table records at shutdown")


@app.page("/ready")
async def ready_page(web: Any, request: Any) -> Any:
    plane = Runtime.plane
    rebalancing = bool(app.rebalancing) or (plane is not None and plane.rebalancing)
    ok = plane is not None and plane.ready and not app.rebalancing
    return web.json({"ready": ok, "views": views.ready, "rebalancing": rebalancing}, status=200 if ok else 503)


@app.page("/healthz")
async def healthz_page(web: Any, request: Any) -> Any:
    crashed = bool(getattr(app, "_crash_reason", None))
    return web.json({"ok": not crashed}, status=500 if crashed else 200)


@app.page("/metrics")
async def metrics_page(web: Any, request: Any) -> Any:
    return web.bytes(metrics.render(), content_type=CONTENT_TYPE.partition(";")[0] + "; version=0.0.4")


@app.page("/views")
async def views_page(web: Any, request: Any) -> Any:
    """A credential-free digest of this worker's routing and health views (to compare workers)."""
    if Runtime.plane is None or not Runtime.plane.started:
        return web.json({"error": "not started"}, status=503)
    return web.json(await Runtime.plane.read(views.snapshot))


def _window_figures(uid: str) -> dict[str, Any]:
    """This minute's windowed figures of one owned provider (wall-clock window)."""
    sends = sends_window[uid].now()
    failures = {o.value: failures_window[f"{uid}|{o.value}"].now() for o in Outcome if o is not Outcome.SUCCESS}
    latency = latency_window[uid].now()
    return {
        "sends": sends,
        "failures": {k: v for k, v in failures.items() if v},
        "mean_latency_ms": round(latency / sends, 3) if sends else None,
    }


@app.page("/stats")
async def stats_page(web: Any, request: Any) -> Any:
    plane = Runtime.plane
    send: dict[str, Any] = {"finished": {}, "in_flight": 0, "unreleased": 0, "send_partitions": []}
    if plane is not None and plane.started and not plane.stopping:
        send = await plane.read(plane.stats)
    return web.json(
        {
            **send,
            "owned_providers": sorted(health_owner.owned),
            "windows": {uid: _window_figures(uid) for uid in sorted(health_owner.owned)},
            "health_fetch_max_wait_ms": faust_tuning.fetch_max_wait_ms(app.consumer),
        }
    )
