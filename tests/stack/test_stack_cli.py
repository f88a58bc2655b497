"""`sendpipe stack up|status|env|down` as a user runs them: idempotent up, clean down, side-by-side stacks."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sendpipe.stack import StackInfo, processes
from sendpipe.stack.ports import port_open
from sendpipe.stack.state import load


def sendpipe(*args: str, state_dir: Path, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SENDPIPE_STATE_DIR": str(state_dir)}
    return subprocess.run(
        [sys.executable, "-m", "sendpipe.cli", "stack", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )


def test_up_reuses_the_running_stack(stack: StackInfo) -> None:
    started = time.monotonic()
    result = sendpipe("up", state_dir=stack.state_dir)
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    assert "already running" in result.stdout
    assert elapsed < 30
    recorded = load(stack.state_dir)
    assert recorded is not None
    assert {p.name: p.pid for p in recorded.processes} == stack.pids


@pytest.mark.slow
def test_second_stack_starts_beside_reuses_and_goes_down_cleanly(stack: StackInfo, tmp_path: Path) -> None:
    state_dir = tmp_path / "second-stack"
    pids: dict[str, int] = {}
    ports: list[int] = []
    try:
        first = sendpipe("up", state_dir=state_dir)
        assert first.returncode == 0, first.stderr
        assert "stack started" in first.stdout
        recorded = load(state_dir)
        assert recorded is not None
        pids = {p.name: p.pid for p in recorded.processes}
        ports = [port for p in recorded.processes for port in p.ports.values()]
        assert set(pids) == {"etcd", "kafka", "kube-apiserver"}
        assert recorded.kafka_bootstrap != stack.kafka_bootstrap
        assert recorded.api_server_url != stack.api_server_url

        started = time.monotonic()
        again = sendpipe("up", state_dir=state_dir)
        assert again.returncode == 0, again.stderr
        assert "already running" in again.stdout
        assert time.monotonic() - started < 30
        reloaded = load(state_dir)
        assert reloaded is not None
        assert {p.name: p.pid for p in reloaded.processes} == pids

        status = sendpipe("status", state_dir=state_dir)
        assert status.returncode == 0, status.stdout + status.stderr
        assert status.stdout.count(" running ") == 3

        env = sendpipe("env", state_dir=state_dir)
        assert env.returncode == 0, env.stderr
        assert f"export KUBECONFIG={recorded.kubeconfig}" in env.stdout
        assert f"export SENDPIPE_KAFKA_BOOTSTRAP={recorded.kafka_bootstrap}" in env.stdout
        assert f"export PATH={recorded.kubectl.parent}:" in env.stdout
    finally:
        down = sendpipe("down", state_dir=state_dir)
    assert down.returncode == 0, down.stderr
    assert all(not processes.is_running(pid) for pid in pids.values())
    assert not any(port_open(port) for port in ports)
    assert sendpipe("status", state_dir=state_dir).returncode == 1
    # The session's own stack is untouched.
    assert all(processes.is_running(pid) for pid in stack.pids.values())
