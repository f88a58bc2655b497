"""The local SendPipe system that `sendpipe up` starts on top of the stack: simulator, operator, worker.

Each process is started detached (it outlives `sendpipe up`) with its log in
the stack's state directory, and recorded in ``system.json`` so `sendpipe
down` (or a second `sendpipe up`) finds exactly the processes it started.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sendpipe.stack import ports, processes
from sendpipe.stack.errors import StackError

SYSTEM_FILE = "system.json"


@dataclass(frozen=True)
class Service:
    name: str
    pid: int
    log: str
    port: int  # the port that answers once the service is up
    extra_ports: dict[str, int] = field(default_factory=dict)


def marker(state_dir: Path) -> str:
    """What identifies our processes: the state directory, named in their command line."""
    return str(state_dir)


def load(state_dir: Path) -> dict[str, Service]:
    try:
        raw = json.loads((state_dir / SYSTEM_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return {name: Service(**entry) for name, entry in raw.items()}


def save(state_dir: Path, services: dict[str, Service]) -> None:
    (state_dir / SYSTEM_FILE).write_text(json.dumps({name: asdict(s) for name, s in services.items()}, indent=2))


def running(state_dir: Path, service: Service) -> bool:
    return processes.is_ours(service.pid, marker=marker(state_dir))


def start(
    *, state_dir: Path, name: str, args: list[str], env: dict[str, str], port: int,
    extra_ports: dict[str, int] | None = None,
) -> Service:
    """Start ``sendpipe <args>`` detached; the state dir is passed to mark the process as ours."""
    log = state_dir / "logs" / f"{name}.log"
    command = [sys.executable, "-m", "sendpipe.cli", "--instance", marker(state_dir), *args]
    pid = processes.spawn_detached(command, name=name, log_path=log, cwd=state_dir, env={**os.environ, **env})
    return Service(name=name, pid=pid, log=str(log), port=port, extra_ports=extra_ports or {})


def wait_port(service: Service, *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ports.port_open(service.port):
            return
        processes.ensure_alive(service.pid, name=service.name, log_path=Path(service.log))
        time.sleep(0.2)
    raise StackError(f"{service.name} did not open port {service.port} within {timeout:.0f}s; log: {service.log}")


def stop_all(state_dir: Path) -> list[str]:
    """Stop every recorded service (workers first, so in-flight messages finish); return their names."""
    services = load(state_dir)
    stopped = []
    for name in sorted(services, key=lambda n: ("worker" not in n, "operator" not in n, n)):
        service = services[name]
        processes.stop(service.pid, marker=marker(state_dir), name=name)
        stopped.append(name)
    (state_dir / SYSTEM_FILE).unlink(missing_ok=True)
    return stopped
