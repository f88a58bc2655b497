"""What the control plane publishes to the data plane over compacted Kafka topics.

``sendpipe.routing`` holds one RoutingRecord per (namespace, channel), keyed
``namespace/channel``; ``sendpipe.health`` holds one HealthVerdict per
provider, keyed by provider uid. Both are read in full by every worker.
Between workers, ``sendpipe.outcomes`` carries attempt outcomes to each
provider's health owner, keyed by provider uid (``encode_outcomes``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any

from pydantic import Field, TypeAdapter

from sendpipe.core.messages import ProviderUid
from sendpipe.core.outcomes import Channel, HealthState, Outcome
from sendpipe.core.provider import WindowCounts
from sendpipe.core.wire import WireModel


def routing_key(namespace: str, channel: Channel | str) -> str:
    # A Channel formats as its value; a plain string is checked to be one (the lookup costs ~0.6 µs, per message).
    return f"{namespace}/{channel if isinstance(channel, Channel) else Channel(channel)}"


class RoutedProvider(WireModel):
    """One candidate of a routing record, in the operator's priority order."""

    uid: ProviderUid
    name: str
    package: str
    priority: int
    settings: dict[str, Any] = {}
    sealed_credentials: str = Field(description="Credentials sealed with sendpipe.core.sealing; never plaintext.")
    timeout_seconds: Annotated[float, Field(gt=0)]


class RoutingRecord(WireModel):
    namespace: str
    channel: Channel
    providers: list[RoutedProvider] = Field(description="Enabled, Ready providers ordered by (priority, name).")
    published_at: datetime

    @property
    def key(self) -> str:
        return routing_key(self.namespace, self.channel)


class HealthVerdict(WireModel):
    """The health owner's verdict on one provider, as published to ``sendpipe.health``."""

    provider_uid: ProviderUid
    namespace: str
    channel: Channel
    provider: str  # the Provider resource's name
    state: HealthState
    error_rate: Annotated[float, Field(ge=0, le=1)]
    window: WindowCounts
    consecutive_failures: Annotated[int, Field(ge=0)]
    ejected_until: datetime | None = None
    probing: bool = Field(default=False, description="Ejection has ended: live probe sends are allowed.")
    throttled_until: datetime | None = Field(
        default=None, description="The provider asked to slow down (THROTTLED, Retry-After): skip it until then."
    )
    reason: str = ""
    last_transition_time: datetime | None = None
    observed_at: datetime


class OutcomeRecord(WireModel):
    """One attempt's outcome as sent to ``sendpipe.outcomes`` (keyed by provider uid) for the health owner."""

    provider_uid: ProviderUid
    namespace: str
    channel: Channel
    provider: str
    outcome: Outcome
    at: datetime
    latency_ms: float
    probe: bool = False
    retry_after_seconds: float | None = None


OUTCOMES = TypeAdapter(list[OutcomeRecord])
"""Validates (``validate_python``, ``validate_json``) and writes a list of outcomes."""


def encode_outcomes(records: Sequence[OutcomeRecord]) -> bytes:
    """One record of ``sendpipe.outcomes``: a JSON array of one provider's outcomes, oldest first.

    Why an array: the health agent pays a fixed cost per Kafka record (Faust's per-event
    path), so a worker writes each provider's outcomes of one flush as a single record.
    """
    return OUTCOMES.dump_json(list(records), by_alias=True, exclude_none=True)


def decode_outcomes(raw: bytes) -> list[OutcomeRecord]:
    """The outcomes of one ``sendpipe.outcomes`` record (a single object is read as a batch of one).

    Raises ``ValueError`` (pydantic's ValidationError) when the record is not outcomes.
    """
    if raw.lstrip()[:1] == b"{":
        return [OutcomeRecord.model_validate_json(raw)]
    return OUTCOMES.validate_json(raw)
