"""What the control plane publishes to the data plane over compacted Kafka topics.

``sendpipe.routing`` holds one RoutingRecord per (namespace, channel), keyed
``namespace/channel``; ``sendpipe.health`` holds one HealthVerdict per
provider, keyed by provider uid. Both are read in full by every worker.
Between workers, ``sendpipe.outcomes`` carries attempt outcomes to each
provider's health owner, keyed by provider uid (``OutcomeBatch``).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any, Self

from pydantic import Field, model_validator

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


class OutcomeBatch(WireModel):
    """One provider's attempt outcomes of one flush: a record of ``sendpipe.outcomes``, keyed by provider uid.

    Why columns (one list per field, oldest first) rather than an array of one object per
    attempt: writing and reading an outcome is on the worker's GIL-bound hot path, and columns
    measured ~0.4 µs per outcome for both against ~4.8 µs for the objects (datetimes, one
    model each), at a fifth of the bytes. Probes and Retry-After are rare: listed by index.
    """

    provider_uid: ProviderUid
    namespace: str
    channel: Channel
    provider: str
    outcomes: list[Outcome]
    at: list[float] = Field(description="When each attempt ended, epoch seconds.")
    latency_ms: list[float]
    probes: list[int] = Field(default=[], description="Indices of the attempts that were probes.")
    retry_after_seconds: dict[int, float] = Field(
        default={}, description="By index: the Retry-After a THROTTLED attempt was given."
    )

    @model_validator(mode="after")
    def _columns_line_up(self) -> Self:
        size = len(self.outcomes)
        if len(self.at) != size or len(self.latency_ms) != size:
            raise ValueError("outcomes, at and latencyMs must have one entry per attempt")
        if any(not 0 <= index < size for index in (*self.probes, *self.retry_after_seconds)):
            raise ValueError("probes and retryAfterSeconds must index the attempts")
        return self

    def entries(self) -> Iterator[tuple[Outcome, float, float | None]]:
        """Each attempt's (outcome, at, Retry-After), oldest first."""
        retry_after = self.retry_after_seconds
        for index, (outcome, at) in enumerate(zip(self.outcomes, self.at, strict=True)):
            yield outcome, at, retry_after.get(index) if retry_after else None

