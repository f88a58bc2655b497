"""Faust's worker with a bound on how long stopping may take.

The send path bounds its own drain and last commit (``send_plane.CLOSE_SECONDS``),
but Faust stops its streams first and waits for their commits without a limit:
with the broker unreachable, a worker sent SIGTERM hung there until the pod's
grace period ran out and it was killed, with no word why. Past the bound the
process says so and exits with code 1. What it did not commit is read again by
the partitions' next owner, as after a crash.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

from faust.worker import Worker

__all__ = ["BoundedStopWorker"]

log = logging.getLogger(__name__)


class BoundedStopWorker(Worker):
    def __init__(self, *args: Any, stop_within: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stop_within = stop_within
        self._deadline: threading.Timer | None = None

    async def stop(self) -> None:
        if self._deadline is None:
            # A thread, not a loop task: the loop may be the thing that is stuck.
            self._deadline = threading.Timer(self.stop_within, _exit_unfinished, args=(self.stop_within,))
            self._deadline.daemon = True
            self._deadline.start()
        await super().stop()


def _exit_unfinished(seconds: float) -> None:
    log.error("worker did not stop within its bound; exiting without its last commit", extra={"seconds": seconds})
    for handler in logging.getLogger().handlers:
        handler.flush()
    os._exit(1)
