"""An adjustment to Faust that its settings cannot make: the consumer's fetch wait.

Why: faust-streaming 0.15.3 creates its aiokafka consumer with a hard-coded
``fetch_max_wait_ms=1500``. aiokafka keeps one fetch in flight per broker and
leaves out of it the partitions whose previous records are still buffered;
after a burst that state sustains itself, and a new outcome record then waits
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

__all__ = ["fetch_max_wait_ms", "install"]

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
