"""Sharing one stack between concurrent test sessions without pulling it from under anyone.

Several pytest sessions (several engineers, or CI jobs on one machine) may use
the same state directory at once. Each session holds a lease (a file named
after its pid) while it runs. A stack that a session started is marked as
such; when a session ends, the stack is stopped only if a session started it
and no other live session still holds a lease. A stack started with
``sendpipe stack up`` is never stopped by a test session.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path

from sendpipe.settings import StackSettings
from sendpipe.stack import lifecycle, processes
from sendpipe.stack.state import StackInfo

logger = logging.getLogger(__name__)

LEASES_DIR = "leases"
SESSION_STARTED = "started-by-session"


def _live_leases(leases: Path) -> list[int]:
    """Pids of sessions holding a lease; stale leases of dead sessions are removed."""
    live: list[int] = []
    for lease in leases.glob("*"):
        if lease.name.isdigit() and processes.is_running(int(lease.name)):
            live.append(int(lease.name))
        else:
            lease.unlink(missing_ok=True)
    return live


@contextlib.contextmanager
def shared_stack(settings: StackSettings) -> Iterator[StackInfo]:
    """Start or reuse the stack for the duration of a session (see the module docstring)."""
    state_dir = settings.resolved_state_dir
    leases = state_dir / LEASES_DIR
    lease = leases / str(os.getpid())
    with lifecycle.state_lock(settings):
        info = lifecycle.ensure_stack_locked(settings)
        leases.mkdir(parents=True, exist_ok=True)
        lease.write_text("")
        if info.started:
            (state_dir / SESSION_STARTED).write_text(f"{os.getpid()}\n")
    try:
        yield info
    finally:
        with lifecycle.state_lock(settings):
            lease.unlink(missing_ok=True)
            others = _live_leases(leases)
            if (state_dir / SESSION_STARTED).exists() and not others:
                lifecycle.stop_stack_locked(settings)
            else:
                logger.info("state_dir=%s status=left-running other_sessions=%s", state_dir, others)
