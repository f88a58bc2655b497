"""``sendpipe worker``: run the data-plane worker (a Faust worker process) until SIGTERM/SIGINT.

Configured by the environment only (``SENDPIPE_KAFKA_*``, ``SENDPIPE_TOPICS_*``,
``SENDPIPE_WORKER_*``, ``SENDPIPE_SEALING_*``; see ``sendpipe.settings``).
SIGTERM stops gracefully: no new messages are taken, messages in flight
finish (messages waiting for a provider to recover are handed back to their
topic), and offsets are committed.
"""

from __future__ import annotations

import asyncio
import sys

import click


@click.command("worker")
def worker() -> None:
    """Consume the send topics and deliver messages through each namespace's providers."""
    from faust.worker import Worker

    from sendpipe.worker.app import app, create_topics, worker_settings

    worker_settings.data_dir.mkdir(parents=True, exist_ok=True)
    if worker_settings.create_topics:
        asyncio.run(create_topics())
    # Faust runs the Kafka consumer in its own thread: hand the GIL over sooner than the 5 ms default.
    sys.setswitchinterval(worker_settings.gil_switch_interval_seconds)
    Worker(app, loglevel=worker_settings.log_level, quiet=True).execute_from_commandline()
