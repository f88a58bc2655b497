"""Bringing the whole local stack up, finding it again, reporting on it and tearing it down.

``ensure_stack`` is idempotent: under a lock on the state directory it first
looks for a recorded stack whose processes are still ours and answering; only
otherwise does it stop any leftovers, pick free ports, and start etcd, Kafka
and kube-apiserver (in parallel where they do not depend on each other).
"""

from __future__ import annotations

import logging
import time
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

from sendpipe.settings import StackSettings
from sendpipe.stack import gobuild, kafka, kube, maven, pki, ports, processes, state, tools
from sendpipe.stack.errors import StackError
from sendpipe.stack.state import ProcessRecord, StackInfo, StackState

logger = logging.getLogger(__name__)

# Start order; stopped in reverse (apiserver before its etcd).
PROCESS_NAMES = ("etcd", "kafka", "kube-apiserver")
START_ATTEMPTS = 2


@dataclass(frozen=True)
class Artifacts:
    kafka_libs: Path
    kube: gobuild.KubeBinaries


@dataclass(frozen=True)
class ProcessStatus:
    name: str
    pid: int
    running: bool
    ports: dict[str, int]
    rss_bytes: int | None
    log: Path


def build(settings: StackSettings) -> Artifacts:
    """Resolve Kafka and build the Kubernetes binaries into the cache (no-op when cached)."""
    cache = settings.resolved_cache_dir
    return Artifacts(
        kafka_libs=maven.ensure_kafka(cache, settings.kafka_version),
        kube=gobuild.ensure_kube_binaries(cache, settings.kubernetes_version),
    )


def is_built(settings: StackSettings) -> bool:
    """Whether the cache already holds everything ``build`` would make (no download, no compile)."""
    cache = settings.resolved_cache_dir
    return (
        maven.kafka_libs(cache, settings.kafka_version) is not None
        and gobuild.cached_binaries(cache, settings.kubernetes_version) is not None
    )


def _marker(state_dir: Path) -> str:
    # With the trailing slash, ".../state" never matches ".../state2/...".
    return f"{state_dir}/"


def _healthy(recorded: StackState) -> bool:
    """Whether every recorded process is still ours and answering."""
    marker = _marker(recorded.state_dir)
    if not all(processes.is_ours(p.pid, marker=marker) for p in recorded.processes):
        return False
    if not kube.apiserver_ready(
        recorded.api_server_url, ca_cert=recorded.ca_cert, token=recorded.admin_token
    ):
        return False
    return kafka.metadata_ok(recorded.kafka_bootstrap)


def find_stack(settings: StackSettings) -> StackInfo | None:
    """The running stack recorded in the state directory, if it is healthy."""
    recorded = state.load(settings.resolved_state_dir)
    if recorded is None or not _healthy(recorded):
        return None
    return StackInfo.from_state(recorded, started=False)


def ensure_stack(settings: StackSettings) -> StackInfo:
    """Reuse the running stack of ``settings``' state directory, or build and start one."""
    with state_lock(settings):
        return ensure_stack_locked(settings)


def state_lock(settings: StackSettings) -> AbstractContextManager[None]:
    """The lock that serialises every start, stop and lease of one state directory."""
    return tools.file_lock(settings.resolved_state_dir / ".lock")


def ensure_stack_locked(settings: StackSettings) -> StackInfo:
    """``ensure_stack`` for a caller that already holds ``state_lock``."""
    state_dir = settings.resolved_state_dir
    found = find_stack(settings)
    if found is not None:
        logger.info(
            "state_dir=%s status=reused kafka=%s api=%s", state_dir, found.kafka_bootstrap, found.api_server_url
        )
        return found
    _stop_recorded(state_dir)
    artifacts = build(settings)
    for attempt in range(1, START_ATTEMPTS + 1):
        try:
            return StackInfo.from_state(_start(settings, artifacts), started=True)
        except StackError as exc:
            # Free ports are picked before the daemons bind them; another program may win the race.
            if attempt == START_ATTEMPTS:
                raise
            logger.warning("state_dir=%s status=retrying-start attempt=%d error=%s", state_dir, attempt, exc)
    raise AssertionError("unreachable")


def _start(settings: StackSettings, artifacts: Artifacts) -> StackState:
    state_dir = settings.resolved_state_dir
    timeout = settings.stack_ready_timeout
    started = time.monotonic()
    etcd_port, etcd_peer, broker_port, controller_port, api_port = ports.free_ports(5)
    logger.info("state_dir=%s status=starting", state_dir)
    records: list[ProcessRecord] = []

    def record(name: str, pid: int, ports_: dict[str, int], log: Path) -> None:
        records.append(ProcessRecord(name=name, pid=pid, ports=ports_, log=log))
        _save_partial(settings, records)

    # Order for speed: the apiserver waits only for etcd; Kafka's storage format (a JVM run)
    # and its start overlap with the apiserver's.
    try:
        etcd_dir = state_dir / "etcd"
        etcd_pid = kube.start_etcd(
            etcd=artifacts.kube.etcd, workdir=etcd_dir, client_port=etcd_port, peer_port=etcd_peer
        )
        record("etcd", etcd_pid, {"client": etcd_port, "peer": etcd_peer}, etcd_dir / "etcd.log")
        creds = pki.generate(state_dir / "pki")
        kube.wait_etcd(client_port=etcd_port, pid=etcd_pid, log_path=etcd_dir / "etcd.log", timeout=timeout)
        api_dir = state_dir / "kube-apiserver"
        api_pid = kube.start_apiserver(
            kube_apiserver=artifacts.kube.kube_apiserver, workdir=api_dir,
            etcd_port=etcd_port, secure_port=api_port, pki=creds,
        )
        record("kube-apiserver", api_pid, {"secure": api_port}, api_dir / "kube-apiserver.log")
        kafka_dir = state_dir / "kafka"
        kafka_pid = kafka.start(
            libs=artifacts.kafka_libs, workdir=kafka_dir,
            broker_port=broker_port, controller_port=controller_port,
        )
        record("kafka", kafka_pid, {"broker": broker_port, "controller": controller_port}, kafka_dir / "kafka.log")
        url = f"https://{ports.LOOPBACK}:{api_port}"
        kubeconfig = pki.write_kubeconfig(
            state_dir / state.KUBECONFIG_FILE, server=url, ca_cert=creds.ca_cert, token=creds.admin_token
        )
        full = StackState(
            state_dir=state_dir,
            kafka_version=settings.kafka_version,
            kubernetes_version=settings.kubernetes_version,
            kafka_bootstrap=f"{ports.LOOPBACK}:{broker_port}",
            api_server_url=url,
            admin_token=creds.admin_token,
            ca_cert=creds.ca_cert,
            kubeconfig=kubeconfig,
            kubectl=artifacts.kube.kubectl,
            processes=records,
        )
        state.save(full)
        kube.wait_apiserver(
            url=url, ca_cert=creds.ca_cert, token=creds.admin_token,
            pid=api_pid, log_path=api_dir / "kube-apiserver.log", timeout=timeout,
        )
        kafka.wait_ready(
            bootstrap=full.kafka_bootstrap, pid=kafka_pid, log_path=kafka_dir / "kafka.log", timeout=timeout
        )
    except BaseException:
        logger.error("state_dir=%s status=start-failed; stopping what was started", state_dir)
        _stop_records(state_dir, records)
        state.clear(state_dir)
        raise
    logger.info(
        "state_dir=%s status=up elapsed=%.1fs kafka=%s api=%s",
        state_dir, time.monotonic() - started, full.kafka_bootstrap, url,
    )
    return full


def _save_partial(settings: StackSettings, records: list[ProcessRecord]) -> None:
    """Record pids as soon as they exist, so `down` can stop a half-started stack."""
    state.save_pids(settings.resolved_state_dir, records)


def _stop_records(state_dir: Path, records: list[ProcessRecord]) -> None:
    marker = _marker(state_dir)
    for record in sorted(records, key=lambda r: -PROCESS_NAMES.index(r.name)):
        processes.stop(record.pid, marker=marker, name=record.name)


def _stop_recorded(state_dir: Path) -> list[str]:
    """Stop every process recorded in the state directory; returns their names."""
    records: dict[int, ProcessRecord] = {}
    recorded = state.load(state_dir)
    if recorded is not None:
        records.update({p.pid: p for p in recorded.processes})
    records.update({p.pid: p for p in state.load_pids(state_dir)})
    marker = _marker(state_dir)
    alive = [r for r in records.values() if processes.is_ours(r.pid, marker=marker)]
    _stop_records(state_dir, alive)
    state.clear(state_dir)
    return [r.name for r in alive]


def stop_stack(settings: StackSettings) -> list[str]:
    """Stop the stack of ``settings``' state directory; returns the names of the processes stopped."""
    with state_lock(settings):
        return stop_stack_locked(settings)


def stop_stack_locked(settings: StackSettings) -> list[str]:
    """``stop_stack`` for a caller that already holds ``state_lock``."""
    state_dir = settings.resolved_state_dir
    stopped = _stop_recorded(state_dir)
    logger.info("state_dir=%s status=down stopped=%s", state_dir, ",".join(stopped) or "-")
    return stopped


def stack_status(settings: StackSettings) -> tuple[StackState | None, list[ProcessStatus]]:
    """The recorded state and the liveness and memory of each recorded process."""
    recorded = state.load(settings.resolved_state_dir)
    if recorded is None:
        return None, []
    marker = _marker(recorded.state_dir)
    return recorded, [
        ProcessStatus(
            name=p.name,
            pid=p.pid,
            running=processes.is_ours(p.pid, marker=marker),
            ports=p.ports,
            rss_bytes=processes.rss_bytes(p.pid),
            log=p.log,
        )
        for p in recorded.processes
    ]
