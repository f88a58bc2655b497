"""The chart's containers, run as plain processes: `sendpipe <args>` with the rendered environment.

No container runtime here, so each Deployment's command (the image's
`sendpipe` entrypoint plus the chart's args) runs as a subprocess with the
chart's environment and the chart's generated sealing key; only addresses
(Kafka, ports, directories, unique topic names) are replaced. Its probe and
scrape endpoints must answer on the port the chart declares.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.chart.conftest import Helm, one
from tests.support.operator import free_port

pytestmark = pytest.mark.integration


def _get(port: int, path: str) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=3) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


@pytest.fixture
def worker_pod(helm: Helm, kafka_bootstrap: str, tmp_path: Path) -> Iterator[tuple[dict[str, Any], int, Path]]:
    objects = helm.template()
    pod = one(objects, "Deployment", "-worker")["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    pod_name = f"sendpipe-worker-{uuid.uuid4().hex[:5]}"
    # What the kubelet would put there: plain values, and the pod's name for a downward-API fieldRef.
    env = {
        e["name"]: e["value"] if "value" in e else {"metadata.name": pod_name}[e["valueFrom"]["fieldRef"]["fieldPath"]]
        for e in container["env"]
    }
    keys = tmp_path / "keys.json"
    keys.write_bytes(base64.b64decode(one(objects, "Secret", "-sealing-key")["data"]["keys.json"]))
    port = free_port()
    tag = uuid.uuid4().hex[:10]
    env.update({
        "SENDPIPE_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "SENDPIPE_TOPICS_REPLICATION_FACTOR": "1",
        "SENDPIPE_WORKER_WEB_PORT": str(port),
        "SENDPIPE_WORKER_WEB_HOST": "127.0.0.1",
        "SENDPIPE_WORKER_DATA_DIR": str(tmp_path / "data"),
        "SENDPIPE_WORKER_APP_ID": f"chart-{tag}",
        "SENDPIPE_SEALING_KEYS_FILE": str(keys),
        **{f"SENDPIPE_TOPICS_{name.upper()}": f"test.chart.{tag}.{name}"
           for name in ("routing", "health", "outcomes", "events", "dlq")},
        "SENDPIPE_TOPICS_SEND_PREFIX": f"test.chart.{tag}.send.",
    })
    inherited = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "VIRTUAL_ENV")}
    sendpipe = str(Path(sys.executable).parent / "sendpipe")
    log = (tmp_path / "worker.log").open("ab")
    proc = subprocess.Popen([sendpipe, *container["args"]], env={**inherited, "HOME": str(tmp_path), **env},
                            stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
    log.close()
    try:
        yield pod, port, tmp_path / "worker.log"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_worker_container_serves_probes_and_metrics_on_the_declared_port(
    worker_pod: tuple[dict[str, Any], int, Path],
) -> None:
    pod, port, log = worker_pod
    (container,) = pod["spec"]["containers"]
    probes = {container["livenessProbe"]["httpGet"]["path"], container["readinessProbe"]["httpGet"]["path"]}
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and _get(port, container["readinessProbe"]["httpGet"]["path"]) != 200:
        time.sleep(0.5)
    for path in sorted(probes | {pod["metadata"]["annotations"]["prometheus.io/path"]}):
        assert _get(port, path) == 200, f"{path} on the chart's port:\n{log.read_text(errors='replace')[-3000:]}"
