"""The outbox gathers each provider's outcomes as columns and writes them as batches of a bounded size."""

from __future__ import annotations

from sendpipe.core.messages import ProviderUid
from sendpipe.core.outcomes import Channel, Outcome
from sendpipe.core.records import OutcomeBatch, RoutedProvider
from sendpipe.worker.outbox import _Outcomes

PROVIDER = RoutedProvider(uid=ProviderUid("uid-1"), name="sg", package="sendgrid", priority=1, sealed_credentials="x", timeout_seconds=5)


def _gathered(count: int, *, probes: set[int], throttled: dict[int, float]) -> _Outcomes:
    pending = _Outcomes(PROVIDER, "acme", Channel.EMAIL)
    for index in range(count):
        pending.add(
            Outcome.THROTTLED if index in throttled else Outcome.SUCCESS,
            at=1000.0 + index,
            latency_ms=float(index),
            probe=index in probes,
            retry_after_seconds=throttled.get(index),
        )
    return pending


def test_batches_split_the_columns_and_index_probes_and_retry_after_within_each() -> None:
    pending = _gathered(5, probes={1, 3}, throttled={4: 30.0})
    first, second = pending.batches(3)
    assert first.at == [1000.0, 1001.0, 1002.0] and first.probes == [1] and first.retry_after_seconds == {}
    assert second.at == [1003.0, 1004.0] and second.probes == [0] and second.retry_after_seconds == {1: 30.0}
    assert [(b.provider_uid, b.provider, b.namespace, b.channel) for b in (first, second)] == [
        ("uid-1", "sg", "acme", Channel.EMAIL)
    ] * 2


def test_a_batch_reads_back_as_the_outcomes_it_was_gathered_from() -> None:
    (batch,) = _gathered(4, probes={0}, throttled={2: 5.0}).batches(5000)
    decoded = OutcomeBatch.model_validate_json(batch.to_json_bytes())
    assert decoded == batch
    assert list(decoded.entries()) == [
        (Outcome.SUCCESS, 1000.0, None), (Outcome.SUCCESS, 1001.0, None),
        (Outcome.THROTTLED, 1002.0, 5.0), (Outcome.SUCCESS, 1003.0, None),
    ]
    assert decoded.probes == [0] and decoded.latency_ms == [0.0, 1.0, 2.0, 3.0]
