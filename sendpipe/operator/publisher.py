"""Routing records on the compacted ``sendpipe.routing`` topic, one per (namespace, channel).

A record lists the enabled, valid Providers of its key ordered by
(priority, name), each with settings, timeout and sealed credentials; an
empty list becomes a tombstone. To avoid republish storms a record is only
produced when its content (everything but ``publishedAt``) differs from what
is on the topic: the topic is read in full at start, and sealed blobs are
reused while the credentials and the active key are unchanged (sealing is
randomised, so resealing alone would always look like a change).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import os
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaProducer

from sendpipe.bus.admin import control_topics, ensure_topics
from sendpipe.bus.connection import client_options
from sendpipe.bus.view import CompactedView
from sendpipe.core.records import RoutedProvider, RoutingRecord
from sendpipe.core.sealing import Keyring, SealingError
from sendpipe.operator.model import ProviderEntry
from sendpipe.settings import KafkaSettings, TopicSettings

__all__ = ["Publisher", "build_record", "record_content"]

log = logging.getLogger(__name__)


def record_content(record: RoutingRecord | None) -> dict[str, Any] | None:
    """What decides whether a record must be produced again: all but the timestamp."""
    return None if record is None else record.model_dump(mode="json", by_alias=True, exclude={"published_at"})


class SealCache:
    """Sealed blobs per provider uid, reused while credentials and the active key stay the same.

    Fingerprints are keyed HMACs with a per-process random key: nothing derived
    from a credential survives the process or could be compared outside it.
    """

    def __init__(self) -> None:
        self._hmac_key = os.urandom(32)
        self._entries: dict[str, tuple[bytes, str]] = {}  # uid -> (fingerprint, sealed)

    def _fingerprint(self, credentials: Mapping[str, str]) -> bytes:
        canonical = json.dumps(dict(credentials), sort_keys=True, separators=(",", ":")).encode()
        return hmac.new(self._hmac_key, canonical, hashlib.sha256).digest()

    def seal(self, keyring: Keyring, credentials: Mapping[str, str], *, uid: str) -> str:
        fingerprint = self._fingerprint(credentials)
        cached = self._entries.get(uid)
        if cached is not None and cached[0] == fingerprint and Keyring.key_id_of(cached[1]) == keyring.active_id:
            return cached[1]
        sealed = keyring.seal(credentials, provider_uid=uid)
        self._entries[uid] = (fingerprint, sealed)
        return sealed

    def adopt(self, keyring: Keyring, sealed: str, *, uid: str) -> None:
        """Remember a blob found on the topic, if this keyring opens it."""
        try:
            credentials = keyring.unseal(sealed, provider_uid=uid)
        except SealingError:
            return
        self._entries[uid] = (self._fingerprint(credentials), sealed)

    def forget(self, keep: Iterable[str]) -> None:
        alive = set(keep)
        for uid in [uid for uid in self._entries if uid not in alive]:
            del self._entries[uid]


def build_record(
    *, key: str, members: Iterable[ProviderEntry], seal: Callable[[ProviderEntry], str], now: datetime
) -> RoutingRecord | None:
    """The record of ``key`` from its Providers; None (a tombstone) when none is routable."""
    routable = sorted(
        (entry for entry in members if entry.routable),
        key=lambda entry: (entry.validation.spec.priority if entry.validation.spec else 0, entry.ref.name),
    )
    if not routable:
        return None
    namespace, _, channel = key.partition("/")
    providers = []
    for entry in routable:
        spec = entry.validation.spec
        assert spec is not None and entry.validation.package is not None
        providers.append(RoutedProvider(
            uid=entry.uid, name=entry.ref.name, package=entry.validation.package.name, priority=spec.priority,
            settings=entry.validation.settings, sealed_credentials=seal(entry),
            timeout_seconds=entry.validation.timeout_seconds,
        ))
    return RoutingRecord.model_validate(
        {"namespace": namespace, "channel": channel, "providers": providers, "publishedAt": now}
    )


class Publisher:
    """Produces routing records (acks=all, idempotent) and remembers what the topic holds."""

    def __init__(self, *, kafka: KafkaSettings, topics: TopicSettings, keyring: Callable[[], Keyring]) -> None:
        self._kafka = kafka
        self.topic = topics.routing
        self._topics = topics
        self._keyring = keyring
        self._seals = SealCache()
        self._producer: AIOKafkaProducer | None = None
        self._view: CompactedView[RoutingRecord] | None = None
        self.published: dict[str, dict[str, Any]] = {}  # key -> record content on the topic
        self.produced = 0  # records (and tombstones) produced by this process
        self.healthy = False

    async def start(self) -> None:
        """Create the topics if missing, read the routing topic in full, start the producer."""
        created = await ensure_topics(self._kafka, control_topics(self._topics))
        if created:
            log.info("created control topics", extra={"topics": created})
        await self.refresh()
        producer = AIOKafkaProducer(**client_options(self._kafka), acks="all", enable_idempotence=True,
                                    linger_ms=5, request_timeout_ms=15000)
        await producer.start()
        self._producer = producer
        self.healthy = True
        log.info("routing topic read", extra={"topic": self.topic, "records": len(self.published)})

    async def refresh(self) -> None:
        """Re-read the whole topic: what is really there becomes the baseline the next records are compared with.

        Run at start and on every resync, so a record lost or changed behind the
        operator's back is produced again.
        """
        view: CompactedView[RoutingRecord] = CompactedView(
            settings=self._kafka, topic=self.topic, decode=RoutingRecord.model_validate_json
        )
        await view.start()
        try:
            await view.wait_ready(60)
        finally:
            await view.stop()
        keyring = self._keyring()
        published: dict[str, dict[str, Any]] = {}
        for key, record in view.items():
            published[key] = record_content(record) or {}
            for provider in record.providers:
                self._seals.adopt(keyring, provider.sealed_credentials, uid=provider.uid)
        self.published = published

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()  # flushes what is pending
            self._producer = None

    async def check(self) -> None:
        """A metadata round trip to the brokers (for the liveness probe)."""
        if self._producer is None:
            raise RuntimeError("Kafka producer not started yet")
        ok = await self._producer.client.fetch_all_metadata()
        if ok is None:
            raise RuntimeError("Kafka metadata request failed")

    def known_keys(self) -> set[str]:
        return set(self.published)

    def desired(self, key: str, members: list[ProviderEntry]) -> RoutingRecord | None:
        keyring = self._keyring()

        def seal(entry: ProviderEntry) -> str:
            return self._seals.seal(keyring, entry.validation.credentials, uid=entry.uid)

        return build_record(key=key, members=members, seal=seal, now=datetime.now(UTC))

    async def publish(self, records: Mapping[str, RoutingRecord | None]) -> dict[str, BaseException | None]:
        """Produce the records that differ from the topic; the result maps each key to its error, if any."""
        assert self._producer is not None, "start() first"
        results: dict[str, BaseException | None] = {}
        futures: dict[str, asyncio.Future[Any]] = {}
        for key, record in records.items():
            content = record_content(record)
            if content == self.published.get(key):
                results[key] = None
                continue
            value = record.to_json_bytes() if record is not None else None
            try:
                futures[key] = await self._producer.send(self.topic, key=key.encode(), value=value)
            except Exception as exc:  # aiokafka raises KafkaError subclasses, or timeouts
                results[key] = exc
        for key, future in futures.items():
            try:
                await future
            except Exception as exc:
                results[key] = exc
                self.healthy = False
                continue
            results[key] = None
            self.produced += 1
            self.healthy = True
            content = record_content(records[key])
            if content is None:
                self.published.pop(key, None)
            else:
                self.published[key] = content
            record = records[key]
            log.info("routing record produced" if record else "routing tombstone produced",
                     extra={"key": key, "providers": [p.name for p in record.providers] if record else []})
        return results

    def forget_seals(self, alive_uids: Iterable[str]) -> None:
        self._seals.forget(alive_uids)
