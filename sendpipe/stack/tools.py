"""Finding the build tools and running long build steps with visible progress.

The Maven resolution and the Go build run for minutes the first time. They
write their full output to a log file in the cache; meanwhile this module logs
a heartbeat with the elapsed time and the last log line, so neither a
developer nor CI mistakes a cold build for a hang.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from sendpipe.stack.errors import StackError

logger = logging.getLogger(__name__)

INSTALL_HINTS: dict[str, str] = {
    "java": "install a JDK 17+, e.g. `apt-get install default-jdk-headless`",
    "mvn": "install Apache Maven 3.8+, e.g. `apt-get install maven`",
    "go": "install Go 1.26+ (see https://go.dev/doc/install); Debian's golang-go is too old",
}

HEARTBEAT_SECONDS = 15.0


def require_tool(name: str) -> Path:
    """The absolute path of an executable on PATH, or a StackError saying how to install it."""
    found = shutil.which(name)
    if found is None:
        hint = INSTALL_HINTS.get(name, f"install {name}")
        raise StackError(f"{name} not found on PATH: {hint}")
    return Path(found)


def last_line(path: Path, *, limit: int = 160) -> str:
    """The last non-empty line of a (possibly large) log file, shortened."""
    try:
        with path.open("rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 4096))
            lines = [ln for ln in f.read().decode(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    return lines[-1][:limit] if lines else ""


def tail(path: Path, *, lines: int = 20) -> str:
    """The last lines of a log file, for error messages."""
    try:
        with path.open("rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 16384))
            text = f.read().decode(errors="replace")
    except OSError:
        return f"(no log at {path})"
    return "\n".join(text.splitlines()[-lines:])


def run_logged(
    args: Sequence[str | os.PathLike[str]],
    *,
    log_path: Path,
    step: str,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> None:
    """Run a long build step, appending its output to ``log_path`` and logging a heartbeat.

    Raises StackError with the log's tail when the step fails.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    logger.info("step=%s status=started log=%s", step, log_path)
    full_env = None if env is None else dict(env)
    with log_path.open("ab") as log:
        log.write(f"\n$ {' '.join(map(str, args))}\n".encode())
        log.flush()
        proc = subprocess.Popen(
            [str(a) for a in args],
            cwd=cwd,
            env=full_env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            while True:
                try:
                    returncode = proc.wait(timeout=HEARTBEAT_SECONDS)
                    break
                except subprocess.TimeoutExpired:
                    elapsed = time.monotonic() - started
                    logger.info(
                        "step=%s status=running elapsed=%.0fs last=%r",
                        step,
                        elapsed,
                        last_line(log_path),
                    )
        except BaseException:
            proc.kill()
            proc.wait()
            raise
    elapsed = time.monotonic() - started
    if returncode != 0:
        raise StackError(
            f"{step} failed (exit {returncode}); full log: {log_path}\n{tail(log_path)}"
        )
    logger.info("step=%s status=done elapsed=%.1fs", step, elapsed)


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive advisory lock on ``path`` (two builds or two `up`s never interleave)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            logger.info("lock=%s status=waiting (another sendpipe process holds it)", path)
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def child_env(overrides: Mapping[str, str]) -> dict[str, str]:
    """The environment for a child process: ours plus ``overrides``."""
    return {**os.environ, **overrides}
