"""The operator's in-memory picture of the cluster: Providers, their validation, publication and health.

Kopf handlers and the health follower write here; the reconciler reads it to
compute routing records and statuses. Only referenced Secrets are kept, and
only their raw data (never logged; ``repr`` hides it).
"""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass, field
from typing import Any

from sendpipe.core.records import HealthVerdict, routing_key
from sendpipe.operator.kube import ObjectRef
from sendpipe.operator.validation import Validation

__all__ = ["Model", "ProviderEntry", "Publication"]

SecretKey = tuple[str, str]  # (namespace, name)


class Publication(enum.Enum):
    PENDING = "pending"  # not reconciled with the routing topic yet
    PUBLISHED = "published"  # member of the record on the topic
    EXCLUDED = "excluded"  # disabled or not valid: left out on purpose
    FAILED = "failed"  # producing the record failed; retried


@dataclass(slots=True)
class ProviderEntry:
    ref: ObjectRef
    generation: int | None
    raw_spec: dict[str, Any]
    validation: Validation
    observed_status: dict[str, Any] = field(default_factory=dict)
    publication: Publication = Publication.PENDING
    publish_error: str = ""
    rank: int | None = None
    health: HealthVerdict | None = None  # the verdict last written (throttled), not the latest seen
    observed_at: float = field(default_factory=time.monotonic)

    @property
    def uid(self) -> str:
        return self.ref.uid

    @property
    def key(self) -> str | None:
        channel = self.validation.channel
        return routing_key(self.ref.namespace, channel) if channel is not None else None

    @property
    def enabled(self) -> bool:
        return self.validation.spec is not None and self.validation.spec.enabled

    @property
    def routable(self) -> bool:
        return self.validation.ok and self.enabled

    @property
    def secret(self) -> SecretKey | None:
        spec = self.validation.spec
        return (self.ref.namespace, spec.credentials_secret_ref.name) if spec is not None else None


class _SecretData(dict[str, str]):
    def __repr__(self) -> str:
        return f"<secret data: {len(self)} entries>"


class Model:
    def __init__(self) -> None:
        self.providers: dict[str, ProviderEntry] = {}
        self._secrets: dict[SecretKey, _SecretData | None] = {}

    def put(self, entry: ProviderEntry) -> ProviderEntry | None:
        previous = self.providers.get(entry.uid)
        self.providers[entry.uid] = entry
        if previous is not None and previous.secret != entry.secret and previous.secret is not None:
            self._drop_secret_if_unused(previous.secret)
        return previous

    def remove(self, uid: str) -> ProviderEntry | None:
        entry = self.providers.pop(uid, None)
        if entry is not None and entry.secret is not None:
            self._drop_secret_if_unused(entry.secret)
        return entry

    def members(self, key: str) -> list[ProviderEntry]:
        return [entry for entry in self.providers.values() if entry.key == key]

    def keys(self) -> set[str]:
        return {key for entry in self.providers.values() if (key := entry.key) is not None}

    def referencing(self, namespace: str, name: str) -> list[ProviderEntry]:
        return [entry for entry in self.providers.values() if entry.secret == (namespace, name)]

    # Secrets: a cached value of None means "known not to exist".
    def has_secret(self, namespace: str, name: str) -> bool:
        return (namespace, name) in self._secrets

    def secret_data(self, namespace: str, name: str) -> dict[str, str] | None:
        return self._secrets.get((namespace, name))

    def set_secret(self, namespace: str, name: str, data: dict[str, str] | None) -> None:
        self._secrets[(namespace, name)] = _SecretData(data) if data is not None else None

    def _drop_secret_if_unused(self, secret: SecretKey) -> None:
        if not any(entry.secret == secret for entry in self.providers.values()):
            self._secrets.pop(secret, None)
