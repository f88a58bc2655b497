"""The tallies expose what prometheus_client's own Counter and Histogram would, for the same observations."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from sendpipe.core.outcomes import Channel, Outcome
from sendpipe.worker.metrics import CounterTally, HistogramTally

BUCKETS = (0.005, 0.01, 0.025, 1.0, 30.0)
LATENCIES = (0.004, 0.005, 0.021, 0.021, 3.0, 99.0)


def _exposition(registry: CollectorRegistry) -> list[str]:
    """The exposition lines, without prometheus_client's optional ``_created`` samples (tallies omit them)."""
    return [line for line in generate_latest(registry).decode().splitlines() if "_created" not in line]


def test_a_counter_tally_exposes_what_a_counter_would() -> None:
    expected, got = CollectorRegistry(), CollectorRegistry()
    counter = Counter("sendpipe_attempts", "Attempts.", ["channel", "provider", "outcome"], registry=expected)
    tally = CounterTally("sendpipe_attempts", "Attempts.", ("channel", "provider", "outcome"), registry=got)
    for channel, provider, outcome in [("email", "sg", "SUCCESS"), ("email", "sg", "SUCCESS"), ("sms", "at", "FAIL_AUTH")]:
        counter.labels(channel, provider, outcome).inc()
    tally.add((Channel.EMAIL, "sg", Outcome.SUCCESS))  # StrEnum members and their values are one label set
    tally.add(("email", "sg", "SUCCESS"))
    tally.add((Channel.SMS, "at", Outcome.FAIL_AUTH))

    assert _exposition(got) == _exposition(expected)
    assert 'sendpipe_attempts_total{channel="email",outcome="SUCCESS",provider="sg"} 2.0' in _exposition(got)


def test_a_histogram_tally_exposes_what_a_histogram_would() -> None:
    expected, got = CollectorRegistry(), CollectorRegistry()
    histogram = Histogram("sendpipe_latency_seconds", "Latency.", ["channel", "provider"], buckets=BUCKETS, registry=expected)
    tally = HistogramTally("sendpipe_latency_seconds", "Latency.", ("channel", "provider"), buckets=BUCKETS, registry=got)
    for latency in LATENCIES:  # on a bound (0.005), between bounds, above the last one
        histogram.labels("email", "sg").observe(latency)
        tally.observe((Channel.EMAIL, "sg"), latency)
    histogram.labels("sms", "at").observe(0.5)
    tally.observe(("sms", "at"), 0.5)

    assert _exposition(got) == _exposition(expected)


def test_an_unused_tally_exposes_its_family_without_samples() -> None:
    expected, got = CollectorRegistry(), CollectorRegistry()
    Counter("sendpipe_messages", "Messages.", ["channel"], registry=expected)
    CounterTally("sendpipe_messages", "Messages.", ("channel",), registry=got)

    assert _exposition(got) == _exposition(expected)
