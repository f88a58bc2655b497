"""What the control plane publishes to the data plane over compacted Kafka topics.

``sendpipe.routing`` holds one RoutingRecord per (namespace, channel), keyed
``namespace/channel``; ``sendpipe.health`` holds one HealthVerdict per
provider, keyed by provider uid. Both are read in full by every worker.
Between workers, ``sendpipe.outcomes`` carries attempt outcomes to each
provider's health owner, keyed by provider uid (``OutcomeBatch``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from itertools import groupby
from typing import Annotated, Any, Self

from pydantic import Field, TypeAdapter, ValidationError, model_validator

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
    """One attempt's outcome for its provider's health owner (``sendpipe.outcomes`` carries them as ``OutcomeBatch``)."""

    provider_uid: ProviderUid
    namespace: str
    channel: Channel
    provider: str
    outcome: Outcome
    at: datetime
    latency_ms: float
    probe: bool = False
    retry_after_seconds: float | None = None


class OutcomeBatch(WireModel):
    """One provider's attempt outcomes of one flush: a record of ``sendpipe.outcomes``, keyed by provider uid.

    Why columns (one list per field, oldest first) rather than an array of ``OutcomeRecord``
    objects: writing and reading an outcome is on the worker's GIL-bound hot path, and columns
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

    def records(self) -> list[OutcomeRecord]:
        """The same outcomes as one model each (readable, slower: not for the hot path)."""
        probes = set(self.probes)
        return [
            OutcomeRecord(
                provider_uid=self.provider_uid, namespace=self.namespace, channel=self.channel, provider=self.provider,
                outcome=outcome, at=datetime.fromtimestamp(at, tz=UTC), latency_ms=latency,
                probe=index in probes, retry_after_seconds=self.retry_after_seconds.get(index),
            )
            for index, (outcome, at, latency) in enumerate(zip(self.outcomes, self.at, self.latency_ms, strict=True))
        ]

    @classmethod
    def of(cls, records: Sequence[OutcomeRecord]) -> OutcomeBatch:
        """One batch of one provider's ``records`` (the first one's identity)."""
        first = records[0]
        return cls(
            provider_uid=first.provider_uid, namespace=first.namespace, channel=first.channel, provider=first.provider,
            outcomes=[r.outcome for r in records], at=[r.at.timestamp() for r in records],
            latency_ms=[r.latency_ms for r in records], probes=[i for i, r in enumerate(records) if r.probe],
            retry_after_seconds={i: r.retry_after_seconds for i, r in enumerate(records) if r.retry_after_seconds is not None},
        )


_RECORDS = TypeAdapter(list[OutcomeRecord])


def decode_outcomes(raw: bytes) -> list[OutcomeBatch]:
    """The outcomes of one ``sendpipe.outcomes`` record, as batches of one provider each.

    Also reads what earlier versions wrote: an ``OutcomeRecord`` object, or an array of them.
    Raises ``ValueError`` (pydantic's ValidationError) when the record is not outcomes.
    """
    if raw.lstrip()[:1] == b"[":
        records = _RECORDS.validate_json(raw)
        return [OutcomeBatch.of(list(run)) for _, run in groupby(records, key=lambda record: record.provider_uid)]
    try:
        return [OutcomeBatch.model_validate_json(raw)]
    except ValidationError as error:
        try:
            return [OutcomeBatch.of([OutcomeRecord.model_validate_json(raw)])]
        except ValidationError:
            raise error from None
