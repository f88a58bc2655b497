"""Two adjustments to Faust that its settings cannot make: the fetch wait, and guarded acks.

Why: faust-streaming 0.15.3 creates its aiokafka consumer with a hard-coded
``fetch_max_wait_ms=1500``. aiokafka keeps one fetch in flight per broker and
leaves out of it the partitions whose previous records are still buffered;
after a burst that state sustains itself, and a new send record then waits
for the broker to answer a fetch that does not include its partition - up to
1.5 s of added latency per message (measured: p50 ~1.5 s at half of the
maximum rate after a burst, ~30 ms before it). A short wait bounds that
delay. The patch wraps Faust's consumer factory and sets the value the
aiokafka consumer hands to its fetcher at start; ``install`` is idempotent
and ``fetch_max_wait_ms`` reports what the running consumer uses (a test
checks it, so an upgrade that renames either side fails loudly).
"""

from __future__ import annotations

from typing import Any

from faust.transport.drivers import aiokafka as faust_aiokafka

__all__ = ["fetch_max_wait_ms", "guard_acks", "install", "release"]

_ATTRIBUTE = "_fetch_max_wait_ms"  # aiokafka.AIOKafkaConsumer: passed to its Fetcher in start()


def install(max_wait_ms: int) -> None:
    """Make every worker consumer Faust creates from now on use ``max_wait_ms``."""
    thread_class: Any = faust_aiokafka.AIOKafkaConsumerThread
    original = getattr(thread_class, "_sendpipe_original_create", None) or thread_class._create_worker_consumer

    def create_worker_consumer(self: Any, transport: Any) -> Any:
        consumer = original(self, transport)
        if not hasattr(consumer, _ATTRIBUTE):
            raise RuntimeError("aiokafka consumer has no fetch wait attribute: faust_tuning needs updating")
        setattr(consumer, _ATTRIBUTE, max_wait_ms)
        return consumer

    thread_class._sendpipe_original_create = original
    thread_class._create_worker_consumer = create_worker_consumer


def fetch_max_wait_ms(consumer: Any) -> int | None:
    """The fetch wait of a running Faust consumer (its aiokafka consumer's), or None if not started."""
    thread = getattr(consumer, "_thread", None)
    inner = getattr(thread, "_consumer", None)
    return getattr(inner, _ATTRIBUTE, None)


# -- acks of the send topics: only the in-order releaser may make an offset committable ---------

_released: set[tuple[Any, int]] = set()


def release(event: Any) -> None:
    """Ack an event on behalf of the in-order releaser (the only acks the guard lets through)."""
    message = event.message
    key = (message.tp, message.offset)
    _released.add(key)
    try:
        event.ack()
    finally:
        _released.discard(key)


def guard_acks(topics: set[str]) -> None:
    """Ignore every ack of a record of ``topics`` that did not come from :func:`release`.

    Why: Faust acks events it *skips* - buffered while flow is suspended for a
    rebalance or shutdown, or fetched under an older consumer generation -
    even in ``noack`` streams, so that its commit can move past records this
    worker never processed: messages lost (seen in the SIGTERM and kill -9
    tests). A skipped record must stay uncommitted so that it is read again
    (after the rebalance's seek, or after the restart). The guard marks such a
    message acked (so ``wait_empty`` does not wait for it) without making its
    offset committable. It needs the pure-Python stream iterator: the Cython
    one inlines ``Consumer.ack``.
    """
    from faust import streams as faust_streams_module
    from faust.transport import consumer as faust_consumer

    faust_streams_module._CStreamIterator = None  # type: ignore[attr-defined]
    consumer_class: Any = faust_consumer.Consumer
    original = getattr(consumer_class, "_sendpipe_original_ack", None) or consumer_class.ack

    def ack(self: Any, message: Any) -> bool:
        if message.topic in topics and (message.tp, message.offset) not in _released:
            message.acked = True
            self._unacked_messages.discard(message)
            return False
        return bool(original(self, message))

    consumer_class._sendpipe_original_ack = original
    consumer_class.ack = ack
