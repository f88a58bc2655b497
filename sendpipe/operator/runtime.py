"""The running operator's state and background work, independent of Kopf.

Kopf handlers call ``observe_provider`` / ``forget_provider`` /
``observe_secret``; those only update the model and mark routing keys and
statuses dirty. One flush task coalesces the dirty set (``debounce``), produces
the records that changed, then writes the statuses that changed. Before the
first flush the operator reads the routing topic and waits until every
Provider that exists has been observed, so a restart produces nothing when
nothing changed. A periodic resync re-lists Providers (catching lost events),
reloads the sealing keys and rechecks every key.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping
from typing import Any

from sendpipe.core.sealing import Keyring, SealingError
from sendpipe.operator.healthsync import HealthSync
from sendpipe.operator.keys import load_keyring, sealing_secret_ref
from sendpipe.operator.kube import KubeClient, KubeError, ObjectRef
from sendpipe.operator.model import Model, ProviderEntry, Publication
from sendpipe.operator.publisher import Publisher
from sendpipe.operator.status import StatusWriter
from sendpipe.operator.validation import Check, Validation, validate
from sendpipe.settings import KafkaSettings, OperatorSettings, SealingSettings, TopicSettings

__all__ = ["Runtime"]

log = logging.getLogger(__name__)

RETRY_DELAYS = (1.0, 2.0, 5.0, 10.0, 30.0)
UNREADABLE = "SecretUnreadable"
STARTUP_SECRET_WAIT = 2.0  # seconds a Provider listed at start waits for its Secret's listing event


class Runtime:
    def __init__(
        self, *, settings: OperatorSettings, kafka: KafkaSettings, topics: TopicSettings,
        sealing: SealingSettings, kube: KubeClient,
    ) -> None:
        self.settings = settings
        self._sealing = sealing
        self.kube = kube
        self.model = Model()
        self.keyring: Keyring | None = None
        self.publisher = Publisher(kafka=kafka, topics=topics, keyring=self._current_keyring)
        self.status = StatusWriter(model=self.model, kube=kube, concurrency=settings.status_concurrency)
        self.health = HealthSync(kafka=kafka, topic=topics.health, model=self.model, kube=kube,
                                 mark_status=self.mark_status, interval=settings.health_write_interval_seconds)
        self._dirty_keys: set[str] = set()
        self._dirty_status: set[str] = set()
        self._wake = asyncio.Event()
        self.synced = asyncio.Event()  # the first full flush is done
        self.connected = False
        self._main: asyncio.Task[None] | None = None
        self._tasks: list[asyncio.Task[Any]] = []
        self._failures = 0
        self._retries: set[asyncio.Task[None]] = set()
        self.secret_reads = 0
        self._secret_waiters: dict[tuple[str, str], asyncio.Event] = {}

    # -- what the Kopf handlers call ------------------------------------------------------------

    async def observe_provider(self, body: Mapping[str, Any]) -> None:
        metadata = body.get("metadata") or {}
        ref = ObjectRef(namespace=str(metadata["namespace"]), name=str(metadata["name"]), uid=str(metadata["uid"]))
        raw_spec = dict(body.get("spec") or {})
        validation = await self._validate(ref.namespace, raw_spec)
        entry = ProviderEntry(ref=ref, generation=metadata.get("generation"), raw_spec=raw_spec,
                              validation=validation, observed_status=dict(body.get("status") or {}))
        previous = self.model.put(entry)
        if previous is not None and previous.key == entry.key:
            entry.publication, entry.rank, entry.publish_error = previous.publication, previous.rank, previous.publish_error
        if previous is not None and previous.key is not None and previous.key != entry.key:
            self.mark_key(previous.key)
        self.health.attach(entry, previous)
        if entry.key is not None:
            self.mark_key(entry.key)
        self.mark_status(entry.uid)
        if validation.credentials_check.reason == UNREADABLE:
            self._retry_later(entry.uid)

    def _retry_later(self, uid: str) -> None:
        """Read an unreadable Secret again after a pause (watch events do not retry by themselves)."""

        async def retry() -> None:
            await asyncio.sleep(RETRY_DELAYS[2])
            entry = self.model.providers.get(uid)
            if entry is None or entry.validation.credentials_check.reason != UNREADABLE:
                return
            entry.validation = await self._validate(entry.ref.namespace, entry.raw_spec)
            if entry.key is not None:
                self.mark_key(entry.key)
            self.mark_status(uid)
            if entry.validation.credentials_check.reason == UNREADABLE:
                self._retry_later(uid)

        task = asyncio.get_running_loop().create_task(retry())
        self._retries.add(task)
        task.add_done_callback(self._retries.discard)

    def forget_provider(self, uid: str) -> None:
        entry = self.model.remove(uid)
        self.health.forget(uid)
        if entry is not None and entry.key is not None:
            self.mark_key(entry.key)

    async def observe_secret(self, namespace: str, name: str, data: dict[str, str] | None) -> None:
        if sealing_secret_ref(self.settings) == (namespace, name):
            await self._reload_keyring()
        self.model.set_secret(namespace, name, data)
        waiter = self._secret_waiters.pop((namespace, name), None)
        if waiter is not None:
            waiter.set()
        for entry in self.model.referencing(namespace, name):
            entry.validation = await self._validate(namespace, entry.raw_spec)
            if entry.key is not None:
                self.mark_key(entry.key)
            self.mark_status(entry.uid)

    def is_sealing_secret(self, namespace: str, name: str) -> bool:
        return sealing_secret_ref(self.settings) == (namespace, name)

    # -- dirty marks ----------------------------------------------------------------------------

    def mark_key(self, key: str) -> None:
        self._dirty_keys.add(key)
        self._wake.set()

    def mark_status(self, uid: str) -> None:
        self._dirty_status.add(uid)
        self._wake.set()

    def mark_all(self) -> None:
        self._dirty_keys |= self.model.keys() | self.publisher.known_keys()
        self._dirty_status |= set(self.model.providers)
        self._wake.set()

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        self._main = asyncio.get_running_loop().create_task(self._run(), name="sendpipe-operator")

    async def stop(self) -> None:
        for task in [*self._tasks, *self._retries, *([self._main] if self._main else [])]:
            task.cancel()
        await asyncio.gather(*self._tasks, *self._retries, *([self._main] if self._main else []),
                             return_exceptions=True)
        await self.health.stop()
        await self.publisher.stop()
        log.info("operator stopped", extra={"records_produced": self.publisher.produced,
                                            "status_writes": self.status.writes})

    async def check_kafka(self) -> dict[str, Any]:
        if not self.connected:
            raise RuntimeError("not connected to Kafka yet")
        await asyncio.wait_for(self.publisher.check(), 10)
        return {"routingRecords": len(self.publisher.published), "produced": self.publisher.produced}

    async def check_kubernetes(self) -> dict[str, Any]:
        return {"version": await self.kube.ping(), "providers": len(self.model.providers),
                "synced": self.synced.is_set()}

    async def _run(self) -> None:
        await self._connect()
        await self._initial_sync()
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._flush_loop(), name="flush"),
                       loop.create_task(self.health.run(), name="health-throttle"),
                       loop.create_task(self._resync_loop(), name="resync")]
        await asyncio.gather(*self._tasks)

    async def _connect(self) -> None:
        """Keys, topics, the routing topic's content, the producer and the health view; retried."""
        attempt = 0
        while True:
            try:
                await self._reload_keyring(strict=True)
                await self.publisher.start()
                await self.health.start()
                self.connected = True
                return
            except Exception as exc:  # Kafka, Kubernetes or key errors alike: report, back off, retry
                delay = RETRY_DELAYS[min(attempt, len(RETRY_DELAYS) - 1)]
                attempt += 1
                log.warning("operator start failed; retrying", extra={"error": f"{type(exc).__name__}: {exc}",
                                                                       "retry_in": delay})
                await self.publisher.stop()
                await self.health.stop()
                await asyncio.sleep(delay)

    async def _initial_sync(self) -> None:
        started = time.monotonic()
        expected = {item["metadata"]["uid"] for item in await self._list_providers()}
        deadline = started + 60
        while not expected <= self.model.providers.keys() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        missing = expected - self.model.providers.keys()
        if missing:
            log.warning("some listed Providers were never observed (deleted meanwhile?)", extra={"count": len(missing)})
        self.mark_all()
        log.info("initial sync", extra={"providers": len(self.model.providers), "secret_reads": self.secret_reads,
                                        "seconds": round(time.monotonic() - started, 3)})

    async def _list_providers(self) -> list[dict[str, Any]]:
        attempt = 0
        while True:
            try:
                return await self.kube.list_providers(self.settings.namespaces)
            except KubeError as exc:
                delay = RETRY_DELAYS[min(attempt, len(RETRY_DELAYS) - 1)]
                attempt += 1
                log.warning("listing Providers failed; retrying", extra={"error": str(exc), "retry_in": delay})
                await asyncio.sleep(delay)

    async def _flush_loop(self) -> None:
        while True:
            await self._wake.wait()
            if self.settings.debounce_seconds:
                await asyncio.sleep(self.settings.debounce_seconds)
            self._wake.clear()
            keys, self._dirty_keys = self._dirty_keys, set()
            uids, self._dirty_status = self._dirty_status, set()
            failed_keys = await self._publish(keys)
            uids |= {entry.uid for key in keys for entry in self.model.members(key)}
            failed_uids = await self.status.write(uids)
            if not self.synced.is_set():
                self.synced.set()
                log.info("operator in sync", extra={"providers": len(self.model.providers),
                                                    "records": len(self.publisher.published)})
            if failed_keys or failed_uids:
                delay = RETRY_DELAYS[min(self._failures, len(RETRY_DELAYS) - 1)]
                self._failures += 1
                await asyncio.sleep(delay)
                self._dirty_keys |= failed_keys
                self._dirty_status |= set(failed_uids)
                self._wake.set()
            else:
                self._failures = 0

    async def _publish(self, keys: set[str]) -> set[str]:
        records = {}
        failed: set[str] = set()
        for key in keys:
            try:
                records[key] = self.publisher.desired(key, self.model.members(key))
            except SealingError as exc:
                self._set_publication(key, None, f"sealing failed: {exc}")
                failed.add(key)
        errors = await self.publisher.publish(records)
        for key, record in records.items():
            error = errors.get(key)
            if error is not None:
                failed.add(key)
                log.warning("producing a routing record failed", extra={"key": key, "error": repr(error)})
                self._set_publication(key, None, f"producing to {self.publisher.topic} failed: {type(error).__name__}")
            else:
                self._set_publication(key, record, "")
        return failed

    def _set_publication(self, key: str, record: Any, error: str) -> None:
        ranks = {provider.uid: rank for rank, provider in enumerate(record.providers, 1)} if record else {}
        for entry in self.model.members(key):
            if error and entry.routable:
                entry.publication, entry.publish_error, entry.rank = Publication.FAILED, error, None
            elif entry.uid in ranks:
                entry.publication, entry.publish_error, entry.rank = Publication.PUBLISHED, "", ranks[entry.uid]
            else:
                entry.publication, entry.publish_error, entry.rank = Publication.EXCLUDED, "", None

    async def _resync_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.resync_seconds)
            with contextlib.suppress(SealingError, KubeError):
                await self._reload_keyring()
            listed_at = time.monotonic()
            try:
                items = await self.kube.list_providers(self.settings.namespaces)
            except KubeError as exc:
                log.warning("resync list failed", extra={"error": str(exc)})
                continue
            alive = {item["metadata"]["uid"] for item in items}
            for uid in [uid for uid in self.model.providers if uid not in alive]:
                if self.model.providers[uid].observed_at < listed_at:
                    log.info("Provider gone without a delete event", extra={"uid": uid})
                    self.forget_provider(uid)
            for item in items:
                await self.observe_provider(item)
            self.publisher.forget_seals(self.model.providers)
            try:
                await self.publisher.refresh()
            except Exception as exc:  # Kafka trouble: keep the previous baseline, try again next time
                log.warning("resync could not re-read the routing topic", extra={"error": repr(exc)})
            self.mark_all()

    # -- helpers --------------------------------------------------------------------------------

    def _current_keyring(self) -> Keyring:
        if self.keyring is None:
            raise SealingError("no sealing keyring loaded")
        return self.keyring

    async def _reload_keyring(self, *, strict: bool = False) -> None:
        try:
            keyring = await load_keyring(operator=self.settings, sealing=self._sealing, kube=self.kube)
        except (SealingError, KubeError, OSError) as exc:
            log.error("sealing keys unusable", extra={"error": str(exc)})
            if strict or self.keyring is None:
                raise
            return
        if self.keyring is None or self.keyring.active_id != keyring.active_id or self.keyring.key_ids != keyring.key_ids:
            log.info("sealing keyring loaded", extra={"active_key": keyring.active_id, "keys": keyring.key_ids})
            had = self.keyring is not None
            self.keyring = keyring
            if had:
                self.mark_all()

    async def _await_listed_secret(self, namespace: str, name: str) -> None:
        """At start, Kopf lists Secrets alongside Providers: wait briefly for it rather than reading each one."""
        waiter = self._secret_waiters.setdefault((namespace, name), asyncio.Event())
        try:
            await asyncio.wait_for(waiter.wait(), STARTUP_SECRET_WAIT)
        except asyncio.TimeoutError:
            self._secret_waiters.pop((namespace, name), None)

    async def _validate(self, namespace: str, raw_spec: dict[str, Any]) -> Validation:
        ref = raw_spec.get("credentialsSecretRef")
        name = ref.get("name") if isinstance(ref, dict) else None
        data: dict[str, str] | None = None
        if isinstance(name, str) and name:
            if not self.synced.is_set() and not self.model.has_secret(namespace, name):
                await self._await_listed_secret(namespace, name)
            if self.model.has_secret(namespace, name):
                data = self.model.secret_data(namespace, name)
            else:
                self.secret_reads += 1
                try:
                    data = await self.kube.get_secret_data(namespace, name)
                except KubeError as exc:
                    validation = validate(namespace=namespace, raw_spec=raw_spec, secret_data=None)
                    unreadable = Check(False, UNREADABLE, f"{exc}; retrying")
                    return Validation(spec=validation.spec, package=validation.package,
                                      spec_check=validation.spec_check, credentials_check=unreadable)
                if not self.model.has_secret(namespace, name):  # a watch event may have been faster
                    self.model.set_secret(namespace, name, data)
                else:
                    data = self.model.secret_data(namespace, name)
        return validate(namespace=namespace, raw_spec=raw_spec, secret_data=data)
