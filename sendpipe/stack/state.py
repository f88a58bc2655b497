"""What a running stack left behind for later commands: ``state.json`` and ``StackInfo``.

``sendpipe stack up`` writes the pids, ports, versions and credentials of the
stack it started into ``<state_dir>/state.json``; ``up`` (again), ``status``,
``env``, ``down`` and the test fixtures read it back. ``StackInfo`` is the
small, stable view other code uses to connect.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict

STATE_FILE = "state.json"
PIDS_FILE = "pids.json"
KUBECONFIG_FILE = "kubeconfig"


class ProcessRecord(BaseModel):
    """One daemon of the stack."""

    model_config = ConfigDict(frozen=True)

    name: str
    pid: int
    ports: dict[str, int]
    log: Path


class StackState(BaseModel):
    """The contents of ``state.json``."""

    model_config = ConfigDict(frozen=True)

    state_dir: Path
    kafka_version: str
    kubernetes_version: str
    kafka_bootstrap: str
    api_server_url: str
    admin_token: str
    ca_cert: Path
    kubeconfig: Path
    kubectl: Path
    processes: list[ProcessRecord]

    def process(self, name: str) -> ProcessRecord:
        for record in self.processes:
            if record.name == name:
                return record
        raise KeyError(name)


@dataclass(frozen=True)
class StackInfo:
    """How to reach a running local stack."""

    state_dir: Path
    kafka_bootstrap: str
    kubeconfig: Path
    kubectl: Path
    api_server_url: str
    admin_token: str
    ca_cert: Path
    pids: dict[str, int]
    started: bool  # True when this call started the stack, False when it reused one

    @classmethod
    def from_state(cls, state: StackState, *, started: bool) -> StackInfo:
        return cls(
            state_dir=state.state_dir,
            kafka_bootstrap=state.kafka_bootstrap,
            kubeconfig=state.kubeconfig,
            kubectl=state.kubectl,
            api_server_url=state.api_server_url,
            admin_token=state.admin_token,
            ca_cert=state.ca_cert,
            pids={p.name: p.pid for p in state.processes},
            started=started,
        )


def load(state_dir: Path) -> StackState | None:
    """The recorded state, or None when there is none (or it is unreadable)."""
    path = state_dir / STATE_FILE
    try:
        return StackState.model_validate(json.loads(path.read_text()))
    except (OSError, ValueError):
        return None


def save(state: StackState) -> Path:
    """Write ``state.json`` atomically (readers never see half a file); mode 0600, it holds a token."""
    path = state.state_dir / STATE_FILE
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(state.model_dump_json(indent=2))
    tmp.replace(path)
    return path


class _Pids(BaseModel):
    processes: list[ProcessRecord]


def save_pids(state_dir: Path, records: list[ProcessRecord]) -> None:
    """Record pids the moment they exist, so `down` can stop a half-started stack."""
    state_dir.mkdir(parents=True, exist_ok=True)
    (state_dir / PIDS_FILE).write_text(_Pids(processes=records).model_dump_json())


def load_pids(state_dir: Path) -> list[ProcessRecord]:
    try:
        return _Pids.model_validate_json((state_dir / PIDS_FILE).read_text()).processes
    except (OSError, ValueError):
        return []


def clear(state_dir: Path) -> None:
    """Forget the stack: state, pids and who started it (session leases are left to their owners)."""
    for name in (STATE_FILE, PIDS_FILE, "started-by-session"):
        (state_dir / name).unlink(missing_ok=True)
