"""``sendpipe worker``: run the data-plane worker (a Faust worker process) until SIGTERM/SIGINT.

Configured by the environment only (``SENDPIPE_KAFKA_*``, ``SENDPIPE_TOPICS_*``,
``SENDPIPE_WORKER_*``, ``SENDPIPE_SEALING_*``; see ``sendpipe.settings``).
SIGTERM stops gracefully: no new messages are taken, messages in flight
finish (messages waiting for a provider to recover are handed back to their
topic), and offsets are committed.
"""

from __future__ import annotations

import asyncio
import logging
import sys

import click
from aiokafka.errors import KafkaError

# Beyond the send path's own bound (drain + close): Faust's streams and the rest of its stop.
# With the defaults, 30 + 15 + 10 = 55 s, inside the chart's 60 s termination grace period.
FAUST_STOP_SECONDS = 10.0


@click.command("worker")
def worker() -> None:
    """Consume the send topics and deliver messages through each namespace's providers."""
    from sendpipe.settings import WorkerSettings

    # Before the app module is imported: Faust and mode bind to the loop they first see.
    _choose_event_loop(WorkerSettings().event_loop)

    from sendpipe.worker.app import app, create_topics, kafka_settings, worker_settings
    from sendpipe.worker.bounded_stop import BoundedStopWorker
    from sendpipe.worker.send_plane import CLOSE_SECONDS

    worker_settings.data_dir.mkdir(parents=True, exist_ok=True)
    # Faust runs the Kafka consumer in its own thread: hand the GIL over sooner than the 5 ms default.
    sys.setswitchinterval(worker_settings.gil_switch_interval_seconds)
    loop = asyncio.get_event_loop_policy().get_event_loop()
    # Before Faust subscribes: a topic created after that is only seen at the next metadata refresh.
    try:
        loop.run_until_complete(create_topics(shared=worker_settings.create_topics))
    except (KafkaError, TimeoutError) as exc:  # unreachable broker, refused login, topics never visible: one line
        raise click.ClickException(f"cannot use Kafka at {kafka_settings.bootstrap}: {exc}") from None
    # Faust's own logging setup would replace sendpipe.logs' handler: its lines would lose their
    # fields (extra=...) and the redaction of secrets. Keep ours; the more verbose level wins.
    root = logging.getLogger()
    root.setLevel(min(root.getEffectiveLevel(), logging.getLevelName(worker_settings.log_level.upper())))
    stop_within = worker_settings.drain_seconds + CLOSE_SECONDS + FAUST_STOP_SECONDS
    BoundedStopWorker(
        app, quiet=True, loop=loop, override_logging=False, stop_within=stop_within
    ).execute_from_commandline()


def _choose_event_loop(choice: str) -> None:
    """Install uvloop's event loop when SENDPIPE_WORKER_EVENT_LOOP=uvloop (an optional package)."""
    if choice != "uvloop":
        return
    try:
        import uvloop
    except ImportError:
        raise click.ClickException("SENDPIPE_WORKER_EVENT_LOOP=uvloop but the uvloop package is not installed") from None
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    asyncio.set_event_loop(asyncio.new_event_loop())
