"""Bad input goes to the DLQ with the original bytes and a reason; the worker keeps going."""

from __future__ import annotations

import json

from sendpipe.core.messages import MAX_REQUEST_BYTES
from sendpipe.core.outcomes import DeliveryStatus
from sendpipe.worker.dlq import HEADER_DETAIL, HEADER_REASON, HEADER_SOURCE
from tests.worker.harness import Bench, Events, TopicReader, WorkerProcess, email, produce, sms


async def test_bad_input_goes_to_the_dlq_with_a_reason(bench: Bench, sim, worker: WorkerProcess) -> None:
    await bench.publish_routing("acme", "email", [bench.provider(sim, "provider-sendgrid", name="sg", priority=1)])
    missing = json.dumps({"id": "m-missing", "namespace": "acme", "channel": "email", "to": "a@example.com"}).encode()
    oversized = email("m-big", "acme", text="x" * (MAX_REQUEST_BYTES + 10))
    cases = {
        b"k-malformed": (b'{"id": "m-bad", "namespace": ', "invalid"),
        b"k-missing": (missing, "invalid"),
        b"k-wrong-channel": (sms("m-sms", "acme"), "wrong-channel"),
        b"k-unknown-ns": (email("m-nowhere", "nobody-here"), "unknown-namespace"),
        b"k-oversized": (oversized, "oversized"),
        b"k-not-utf8": (b"\xff\xfe\x00garbage", "invalid"),
    }
    items = [(key, value) for key, (value, _) in cases.items()] + [(b"m-good", email("m-good", "acme"))]
    await produce(bench.bootstrap, bench.send_topic("email"), items, max_request_size=2 * 1024 * 1024)

    async with Events(bench.bootstrap, bench.topics.events) as events:
        good = await events.wait_ids({"m-good"}, timeout=30)
        assert good["m-good"].status is DeliveryStatus.SENT
    async with TopicReader(bench.bootstrap, bench.topics.dlq) as dlq:
        await dlq.until(lambda: len(dlq.records) >= len(cases), timeout=30, what="DLQ records")
        assert len(dlq.records) == len(cases)
        for record in dlq.records:
            headers = dict(record.headers)
            value, reason = cases[record.key]
            assert record.value == value, "the original bytes are kept"
            assert headers[HEADER_REASON].decode() == reason, headers
            assert headers[HEADER_DETAIL], "a human-readable detail"
            assert headers[HEADER_SOURCE].decode() == bench.send_topic("email")
        missing_detail = next(dict(r.headers)[HEADER_DETAIL] for r in dlq.records if r.key == b"k-missing")
        assert b"subject" in missing_detail, "the detail names the missing field"
    assert worker.json("/stats")["finished"]["dlq"] == len(cases)
