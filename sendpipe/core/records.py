"""What the control plane publishes to the data plane over compacted Kafka topics.

``sendpipe.routing`` holds one RoutingRecord per (namespace, channel), keyed
``namespace/channel``; ``sendpipe.health`` holds one HealthVerdict per
provider, keyed by provider uid. Both are read in full by every worker.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import Field

from sendpipe.core.messages import ProviderUid
from sendpipe.core.outcomes import Channel, HealthState, Outcome
from sendpipe.core.provider import WindowCounts
from sendpipe.core.wire import WireModel


def routing_key(namespace: str, channel: Channel | str) -> str:
    return f"{namespace}/{Channel(channel).value}"


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
