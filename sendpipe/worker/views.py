"""What every worker knows about the control plane: routing records, health verdicts, unsealed credentials.

Routing (key ``namespace/channel``) and health (key provider uid) are
compacted topics read in full from every partition by each worker
(``sendpipe.bus.view.CompactedView``: no consumer group, so two workers
always converge on the same views). Credentials arrive sealed inside routing
records and are unsealed in memory only, cached by (provider uid, sealed
blob): a rotated secret is a new blob, hence a cache miss.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sendpipe.bus.view import CompactedView
from sendpipe.core.catalog import Credentials, Settings, get_package
from sendpipe.core.messages import ProviderUid
from sendpipe.core.records import HealthVerdict, RoutedProvider, RoutingRecord, routing_key
from sendpipe.settings import KafkaSettings, TopicSettings

__all__ = ["CredentialCache", "CredentialsUnavailable", "Resolved", "Unseal", "Views"]

log = logging.getLogger(__name__)

Unseal = Callable[[str, ProviderUid], Mapping[str, Any]]
"""(sealed blob, provider uid) -> the Secret's keys and values, in memory."""


class CredentialsUnavailable(Exception):
    """A provider's sealed credentials cannot be used here (unknown key id, tampered, wrong schema)."""


@dataclass(frozen=True, slots=True)
class Resolved:
    """A routed provider ready for its adapter: parsed credentials and settings (timeout from the record)."""

    credentials: Credentials
    settings: Settings


class CredentialCache:
    """Unsealed, parsed credentials and settings per (uid, sealed blob); never logged, never persisted."""

    def __init__(self, unseal: Unseal, *, max_entries: int = 10_000) -> None:
        self._unseal = unseal
        self._max_entries = max_entries
        self._entries: dict[tuple[str, str], tuple[dict[str, Any], Resolved]] = {}

    def resolve(self, provider: RoutedProvider) -> Resolved:
        key = (provider.uid, provider.sealed_credentials)
        cached = self._entries.get(key)
        if cached is not None and cached[0] == provider.settings:
            return cached[1]
        package = get_package(provider.package)
        try:
            plain = self._unseal(provider.sealed_credentials, provider.uid)
        except Exception as exc:  # the sealing module's errors: unknown kid, tampering, wrong uid
            raise CredentialsUnavailable(f"sealed credentials unusable: {type(exc).__name__}") from None
        try:
            credentials = package.credentials.model_validate(dict(plain))
            settings = package.settings.model_validate(
                {**provider.settings, "timeoutSeconds": provider.timeout_seconds}
            )
        except ValueError as exc:
            # pydantic names the field, never the value for SecretStr; keep only field names to be sure
            fields = sorted({str(e["loc"][0]) for e in getattr(exc, "errors", lambda: [])() if e.get("loc")})
            raise CredentialsUnavailable(f"credentials or settings do not fit {provider.package}: {fields}") from None
        resolved = Resolved(credentials, settings)
        if len(self._entries) >= self._max_entries:
            self._entries.clear()
        self._entries[key] = (dict(provider.settings), resolved)
        return resolved


class Views:
    """The routing and health views of one worker, kept current from the compacted topics."""

    def __init__(
        self,
        *,
        kafka: KafkaSettings,
        topics: TopicSettings,
        on_verdict: Callable[[HealthVerdict], None] | None = None,
    ) -> None:
        self.health: dict[ProviderUid, HealthVerdict] = {}
        self.version = 0  # counts changes of routing or health: a plan made at another version may be stale
        self._on_verdict = on_verdict
        self._namespaces: dict[str, set[str]] = {}
        self.routing: CompactedView[RoutingRecord] = CompactedView(
            settings=kafka, topic=topics.routing, decode=RoutingRecord.model_validate_json, on_change=self._route
        )
        self._health_view: CompactedView[HealthVerdict] = CompactedView(
            settings=kafka, topic=topics.health, decode=HealthVerdict.model_validate_json, on_change=self._verdict
        )

    def _route(self, key: str, record: RoutingRecord | None) -> None:
        self.version += 1
        namespace = key.partition("/")[0]
        keys = self._namespaces.setdefault(namespace, set())
        if record is None:
            keys.discard(key)
            if not keys:
                del self._namespaces[namespace]
        else:
            keys.add(key)

    def knows_namespace(self, namespace: str) -> bool:
        """Whether any routing record (of any channel) exists for the namespace."""
        return namespace in self._namespaces

    def _verdict(self, key: str, verdict: HealthVerdict | None) -> None:
        self.version += 1
        if verdict is None:
            self.health.pop(ProviderUid(key), None)
            return
        self.health[verdict.provider_uid] = verdict
        if self._on_verdict is not None:
            self._on_verdict(verdict)

    def record_for(self, namespace: str, channel: str) -> RoutingRecord | None:
        return self.routing.get(routing_key(namespace, channel))

    @property
    def ready(self) -> bool:
        return self.routing.ready and self._health_view.ready

    async def start(self, *, timeout: float = 60.0) -> None:
        await self.routing.start()
        await self._health_view.start()
        await self.routing.wait_ready(timeout)
        await self._health_view.wait_ready(timeout)
        log.info("views ready", extra={"routing_records": len(self.routing), "verdicts": len(self.health)})

    async def stop(self) -> None:
        await self.routing.stop()
        await self._health_view.stop()

    def snapshot(self) -> dict[str, Any]:
        """A credential-free digest of both views (to compare two workers)."""
        return {
            "routing": {
                key: [(p.uid, p.name, p.priority) for p in record.providers] for key, record in self.routing.items()
            },
            "health": {uid: (v.state.value, v.observed_at.isoformat()) for uid, v in self.health.items()},
        }
