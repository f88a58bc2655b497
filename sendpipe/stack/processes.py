"""Starting, recognising and stopping the stack's detached processes.

A pid in ``state.json`` only counts as ours while ``/proc/<pid>/cmdline``
still mentions the stack's state directory: after a reboot or pid reuse the
number may belong to someone else, and we must never signal that process.
Stopping is SIGTERM to the process group, then SIGKILL after a grace period.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from sendpipe.stack import spawn, tools
from sendpipe.stack.errors import StackError

logger = logging.getLogger(__name__)

GRACE_SECONDS = 15.0


def spawn_detached(
    command: Sequence[str | os.PathLike[str]],
    *,
    name: str,
    log_path: Path,
    cwd: Path,
    env: dict[str, str] | None = None,
) -> int:
    """Start ``command`` in a new session with output to ``log_path``; return its pid."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    out = subprocess.run(
        [sys.executable, spawn.__file__, str(log_path), str(cwd), *map(str, command)],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
    )
    if out.returncode != 0 or not out.stdout.strip().isdigit():
        raise StackError(f"could not start {name} ({command[0]}): {out.stderr.strip() or out.stdout.strip()}")
    pid = int(out.stdout.strip())
    logger.info("process=%s pid=%d log=%s status=spawned", name, pid, log_path)
    return pid


def _proc_state(pid: int) -> str | None:
    """The one-letter state from /proc/<pid>/stat, or None when there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[0]


def is_running(pid: int) -> bool:
    state = _proc_state(pid)
    return state is not None and state not in ("Z", "X")


def cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def is_ours(pid: int, *, marker: str) -> bool:
    """Whether ``pid`` is alive and its command line mentions ``marker`` (the state dir)."""
    return is_running(pid) and any(marker in arg for arg in cmdline(pid))


def rss_bytes(pid: int) -> int | None:
    """Resident memory of a process (from /proc/<pid>/status), or None if gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def stop(pid: int, *, marker: str, name: str, grace: float = GRACE_SECONDS) -> None:
    """SIGTERM the process group of ``pid``, SIGKILL it if still alive after ``grace`` seconds."""
    if not is_ours(pid, marker=marker):
        return
    logger.info("process=%s pid=%d status=stopping", name, pid)
    _signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not is_running(pid):
            logger.info("process=%s pid=%d status=stopped", name, pid)
            return
        time.sleep(0.1)
    logger.warning("process=%s pid=%d status=killing grace=%.0fs", name, pid, grace)
    _signal_group(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while is_running(pid):
        if time.monotonic() > deadline:
            raise StackError(f"{name} (pid {pid}) survived SIGKILL; kill it by hand")
        time.sleep(0.05)


def _signal_group(pid: int, sig: signal.Signals) -> None:
    # Each process leads its own session (start_new_session), so pgid == pid.
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        return
    except PermissionError:
        os.kill(pid, sig)


def ensure_alive(pid: int, *, name: str, log_path: Path) -> None:
    """Raise with the log's tail if a process we just started has died."""
    if not is_running(pid):
        raise StackError(f"{name} exited during start-up; log: {log_path}\n{tools.tail(log_path)}")
