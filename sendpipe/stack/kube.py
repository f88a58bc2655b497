"""etcd and kube-apiserver on loopback, configured like controller-runtime's envtest.

No controller-manager or scheduler: CRDs, custom resources with /status,
Secrets, Events, RBAC, watches, admission and impersonation work; pods never
run and namespace deletion never finishes. etcd keeps its data in the state
directory without fsync (test data only). Ready means ``GET /readyz`` answers
``ok`` over TLS verified against our own CA.
"""

from __future__ import annotations

import logging
import shutil
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from sendpipe.stack import processes, tools
from sendpipe.stack.errors import StackError
from sendpipe.stack.pki import ApiServerPki
from sendpipe.stack.ports import LOOPBACK

logger = logging.getLogger(__name__)


def etcd_command(*, etcd: Path, data_dir: Path, client_port: int, peer_port: int) -> list[str]:
    client = f"http://{LOOPBACK}:{client_port}"
    peer = f"http://{LOOPBACK}:{peer_port}"
    return [
        str(etcd),
        "--name=sendpipe",
        f"--data-dir={data_dir}",
        f"--listen-client-urls={client}",
        f"--advertise-client-urls={client}",
        f"--listen-peer-urls={peer}",
        f"--initial-advertise-peer-urls={peer}",
        f"--initial-cluster=sendpipe={peer}",
        "--unsafe-no-fsync=true",
        "--quota-backend-bytes=1073741824",
        "--log-level=warn",
    ]


def apiserver_command(
    *, kube_apiserver: Path, workdir: Path, etcd_port: int, secure_port: int, pki: ApiServerPki
) -> list[str]:
    return [
        str(kube_apiserver),
        f"--etcd-servers=http://{LOOPBACK}:{etcd_port}",
        f"--bind-address={LOOPBACK}",
        f"--advertise-address={LOOPBACK}",
        f"--secure-port={secure_port}",
        f"--cert-dir={workdir / 'certs'}",
        f"--tls-cert-file={pki.serving_cert}",
        f"--tls-private-key-file={pki.serving_key}",
        f"--client-ca-file={pki.ca_cert}",
        "--service-cluster-ip-range=10.0.0.0/24",
        f"--service-account-issuer=https://{LOOPBACK}:{secure_port}",
        f"--service-account-key-file={pki.sa_public_key}",
        f"--service-account-signing-key-file={pki.sa_private_key}",
        f"--token-auth-file={pki.token_file}",
        "--authorization-mode=RBAC",
        "--disable-admission-plugins=ServiceAccount",
        "--endpoint-reconciler-type=none",
        "--allow-privileged=true",
        "--v=0",
    ]


def start_etcd(*, etcd: Path, workdir: Path, client_port: int, peer_port: int) -> int:
    data_dir = workdir / "data"
    shutil.rmtree(data_dir, ignore_errors=True)
    workdir.mkdir(parents=True, exist_ok=True)
    return processes.spawn_detached(
        etcd_command(etcd=etcd, data_dir=data_dir, client_port=client_port, peer_port=peer_port),
        name="etcd",
        log_path=workdir / "etcd.log",
        cwd=workdir,
    )


def start_apiserver(
    *, kube_apiserver: Path, workdir: Path, etcd_port: int, secure_port: int, pki: ApiServerPki
) -> int:
    workdir.mkdir(parents=True, exist_ok=True)
    return processes.spawn_detached(
        apiserver_command(
            kube_apiserver=kube_apiserver,
            workdir=workdir,
            etcd_port=etcd_port,
            secure_port=secure_port,
            pki=pki,
        ),
        name="kube-apiserver",
        log_path=workdir / "kube-apiserver.log",
        cwd=workdir,
    )


def _get(url: str, *, context: ssl.SSLContext | None = None, token: str | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=3, context=context) as response:
            return response.status, response.read().decode(errors="replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")
    except (OSError, ssl.SSLError):
        return 0, ""


def etcd_healthy(client_port: int) -> bool:
    status, body = _get(f"http://{LOOPBACK}:{client_port}/health")
    return status == 200 and '"health":"true"' in body.replace(" ", "")


def apiserver_ready(url: str, *, ca_cert: Path, token: str) -> bool:
    context = ssl.create_default_context(cafile=str(ca_cert))
    status, body = _get(f"{url}/readyz", context=context, token=token)
    return status == 200 and body.strip() == "ok"


def wait_etcd(*, client_port: int, pid: int, log_path: Path, timeout: float) -> None:
    _wait(lambda: etcd_healthy(client_port), name="etcd", pid=pid, log_path=log_path, timeout=timeout)


def wait_apiserver(
    *, url: str, ca_cert: Path, token: str, pid: int, log_path: Path, timeout: float
) -> None:
    _wait(
        lambda: apiserver_ready(url, ca_cert=ca_cert, token=token),
        name="kube-apiserver",
        pid=pid,
        log_path=log_path,
        timeout=timeout,
    )


def _wait(check: Callable[[], bool], *, name: str, pid: int, log_path: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        processes.ensure_alive(pid, name=name, log_path=log_path)
        if check():
            logger.info("process=%s pid=%d status=ready", name, pid)
            return
        time.sleep(0.3)
    raise StackError(f"{name} not ready after {timeout:.0f}s; log: {log_path}\n{tools.tail(log_path)}")
