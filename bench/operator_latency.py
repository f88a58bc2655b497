"""Operator benchmark against the real local stack (Kafka + kube-apiserver), figures printed.

1. Latency from `kubectl apply` of a Provider to the routing record containing it on Kafka
   (p50/p95 over N applies; target p95 < 1 s).
2. Convergence after operator start with P Providers (each with its own Secret) across M
   namespaces: time until every record is on the topic and every Provider is Ready, and the
   operator's memory (RSS now and peak; target < 60 s and < 300 MB).

    python bench/operator_latency.py [--applies 50] [--providers 1000] [--namespaces 100]

The operator runs as a subprocess (`python -m sendpipe.cli operator`) on fresh topics. Objects
created for part 2 are deleted afterwards (the namespaces stay: without a controller-manager
namespace deletion never finishes).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from kubernetes import client as k8s
from kubernetes import config as k8s_config

from sendpipe.settings import StackSettings
from sendpipe.stack import ensure_stack

REPO = Path(__file__).resolve().parents[1]
PACKAGES = [("provider-sendgrid", {"from": "noreply@acme.example"}),
            ("provider-termii", {"from": "Acme"}),
            ("provider-360dialog", {})]


class TopicFollower:
    """Follows a topic in a thread; records when each provider name first appears in a record."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.bootstrap, self.topic = bootstrap, topic
        self.first_seen: dict[str, float] = {}
        self.latest: dict[str, Any] = {}
        self.records = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    async def _run(self) -> None:
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, auto_offset_reset="earliest",
                                    enable_auto_commit=False)
        await consumer.start()
        try:
            partitions = None
            while not partitions and not self._stop.is_set():
                partitions = (await consumer._client.fetch_all_metadata()).partitions_for_topic(self.topic)
                await asyncio.sleep(0.1)
            tps = [TopicPartition(self.topic, p) for p in sorted(partitions or ())]
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            while not self._stop.is_set():
                batches = await consumer.getmany(timeout_ms=100)
                now = time.monotonic()
                for records in batches.values():
                    for record in records:
                        self.records += 1
                        key = record.key.decode()
                        if record.value is None:
                            self.latest.pop(key, None)
                            continue
                        value = json.loads(record.value)
                        self.latest[key] = value
                        for provider in value["providers"]:
                            self.first_seen.setdefault(f"{value['namespace']}/{provider['name']}", now)
        finally:
            await consumer.stop()


def rss_mb(pid: int) -> tuple[float, float]:
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def start_operator(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "sendpipe.cli", "--log-format", "json", "operator"],
                                env=env, stdout=out, stderr=subprocess.STDOUT, cwd=REPO)


def wait_log(log: Path, message: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if f'"message": "{message}"' in log.read_text(errors="replace"):
            return
        time.sleep(0.05)
    raise SystemExit(f"operator did not log {message!r} within {timeout}s; see {log}")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    process.wait(60)


def manifest(name: str, namespace: str, index: int) -> tuple[dict[str, Any], dict[str, Any]]:
    package, settings = PACKAGES[index % len(PACKAGES)]
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": f"{name}-creds", "namespace": namespace},
              "stringData": {"apiKey": f"bench-{uuid.uuid4().hex}"}}
    provider = {"apiVersion": "sendpipe.io/v1alpha1", "kind": "Provider",
                "metadata": {"name": name, "namespace": namespace, "labels": {"sendpipe.io/bench": "1"}},
                "spec": {"package": package, "priority": index, "credentialsSecretRef": {"name": f"{name}-creds"},
                         "settings": settings}}
    return secret, provider


def base_env(stack: Any, workdir: Path, *, tag: str) -> dict[str, str]:
    keys = workdir / "keys.json"
    keys.write_text(json.dumps({"active": "k1", "keys": {"k1": base64.b64encode(os.urandom(32)).decode()}}))
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENDPIPE_")}
    env.update({"SENDPIPE_KAFKA_BOOTSTRAP": stack.kafka_bootstrap, "SENDPIPE_OPERATOR_KUBECONFIG": str(stack.kubeconfig),
                "SENDPIPE_OPERATOR_PROBE_PORT": "0", "SENDPIPE_SEALING_KEYS_FILE": str(keys),
                "SENDPIPE_TOPICS_ROUTING": f"bench.routing.{tag}", "SENDPIPE_TOPICS_HEALTH": f"bench.health.{tag}"})
    return env


def latency(stack: Any, workdir: Path, applies: int) -> None:
    tag = uuid.uuid4().hex[:8]
    namespace = f"bench-latency-{tag}"
    kubectl = [str(stack.kubectl), f"--kubeconfig={stack.kubeconfig}"]
    subprocess.run([*kubectl, "create", "namespace", namespace], check=True, capture_output=True)
    env = base_env(stack, workdir, tag=tag) | {"SENDPIPE_OPERATOR_NAMESPACES": namespace}
    log = workdir / "latency.log"
    operator = start_operator(env, log)
    try:
        wait_log(log, "operator in sync", 60)
        follower = TopicFollower(stack.kafka_bootstrap, env["SENDPIPE_TOPICS_ROUTING"])
        follower.start()
        samples = []
        for index in range(applies):
            secret, provider = manifest(f"p{index:03d}", namespace, index)
            subprocess.run([*kubectl, "apply", "-f", "-"], input=json.dumps(secret).encode(), check=True,
                           capture_output=True)
            started = time.monotonic()
            subprocess.run([*kubectl, "apply", "-f", "-"], input=json.dumps(provider).encode(), check=True,
                           capture_output=True)
            key = f"{namespace}/p{index:03d}"
            while key not in follower.first_seen:
                if time.monotonic() - started > 30:
                    raise SystemExit(f"no record for {key} after 30 s")
                time.sleep(0.002)
            samples.append(follower.first_seen[key] - started)
        follower.stop()
        samples.sort()
        p50 = statistics.median(samples)
        p95 = samples[max(0, int(round(0.95 * len(samples))) - 1)]
        print(f"apply -> routing record: n={len(samples)} p50={p50 * 1000:.0f} ms p95={p95 * 1000:.0f} ms "
              f"max={samples[-1] * 1000:.0f} ms (target p95 < 1000 ms) records={follower.records}")
    finally:
        stop(operator)


def convergence(stack: Any, workdir: Path, providers: int, namespaces: int) -> None:
    tag = uuid.uuid4().hex[:8]
    api = k8s_config.new_client_from_config(config_file=str(stack.kubeconfig))
    api.configuration.connection_pool_maxsize = 16
    core, custom = k8s.CoreV1Api(api), k8s.CustomObjectsApi(api)
    names = [f"bench-conv-{tag}-{i:03d}" for i in range(namespaces)]
    objects = []
    for index in range(providers):
        namespace = names[index % namespaces]
        objects.append((namespace, *manifest(f"p{index:04d}", namespace, index)))
    started = time.monotonic()
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda n: core.create_namespace({"metadata": {"name": n}}), names))
        list(pool.map(lambda o: core.create_namespaced_secret(o[0], o[1]), objects))
        list(pool.map(lambda o: custom.create_namespaced_custom_object("sendpipe.io", "v1alpha1", o[0], "providers",
                                                                       o[2]), objects))
    print(f"created {providers} Providers + Secrets in {namespaces} namespaces in {time.monotonic() - started:.1f} s")
    env = base_env(stack, workdir, tag=tag)  # cluster-wide
    expected_keys = {f"{o[0]}/{ch}" for o in objects
                     for ch in [{"provider-sendgrid": "email", "provider-termii": "sms",
                                 "provider-360dialog": "whatsapp"}[o[2]["spec"]["package"]]]}
    follower = TopicFollower(stack.kafka_bootstrap, env["SENDPIPE_TOPICS_ROUTING"])
    log = workdir / "convergence.log"
    started = time.monotonic()
    operator = start_operator(env, log)
    print(f"  operator started at {time.strftime('%H:%M:%S')}")
    try:
        follower.start()
        records_done = ready_done = None
        peak = 0.0
        while time.monotonic() - started < 300:
            rss, hwm = rss_mb(operator.pid)
            peak = max(peak, hwm)
            if records_done is None and expected_keys <= set(follower.latest):
                records_done = time.monotonic() - started
            if records_done is not None and ready_done is None:
                items = custom.list_cluster_custom_object("sendpipe.io", "v1alpha1", "providers",
                                                          label_selector="sendpipe.io/bench=1")["items"]
                mine = [i for i in items if i["metadata"]["namespace"].startswith(f"bench-conv-{tag}")]
                ready = sum(1 for i in mine for c in (i.get("status") or {}).get("conditions", [])
                            if c["type"] == "Ready" and c["status"] == "True")
                if ready == providers:
                    ready_done = time.monotonic() - started
                    break
            time.sleep(0.25)
        rss, hwm = rss_mb(operator.pid)
        print(f"convergence: {providers} Providers / {namespaces} namespaces / {len(expected_keys)} records: "
              f"all records on Kafka after {records_done:.1f} s, all Ready after {ready_done:.1f} s "
              f"(target < 60 s); operator RSS {rss:.0f} MB, peak {max(peak, hwm):.0f} MB (target < 300 MB); "
              f"records produced {follower.records}")
        phases = [json.loads(line) for line in log.read_text().splitlines()
                  if '"initial sync"' in line or '"operator in sync"' in line or '"routing topic read"' in line]
        for phase in phases:
            print(f"  {phase['time'][11:23]} {phase['message']} "
                  f"{ {k: v for k, v in phase.items() if k not in ('time', 'level', 'logger', 'message')} }")
        time.sleep(2)
        before = follower.records
        stop(operator)
        operator = start_operator(env, log)
        wait_log(log, "operator stopped", 5)
        restart = time.monotonic()
        while log.read_text().count('"message": "operator in sync"') < 2 and time.monotonic() - restart < 120:
            time.sleep(0.1)
        synced = time.monotonic() - restart
        time.sleep(2)
        print(f"restart with {providers} unchanged Providers: in sync after {synced:.1f} s, "
              f"records produced {follower.records - before} (expected 0)")
    finally:
        stop(operator)
        follower.stop()
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(lambda o: custom.delete_namespaced_custom_object("sendpipe.io", "v1alpha1", o[0], "providers",
                                                                           o[2]["metadata"]["name"]), objects))
            list(pool.map(lambda o: core.delete_namespaced_secret(o[1]["metadata"]["name"], o[0]), objects))
        api.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--applies", type=int, default=50)
    parser.add_argument("--providers", type=int, default=1000)
    parser.add_argument("--namespaces", type=int, default=100)
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--skip-convergence", action="store_true")
    args = parser.parse_args()
    stack = ensure_stack(StackSettings())
    subprocess.run([str(stack.kubectl), f"--kubeconfig={stack.kubeconfig}", "apply", "--server-side",
                    "--force-conflicts", "-f", str(REPO / "crds" / "provider.yaml")], check=True, capture_output=True)
    with tempfile.TemporaryDirectory(prefix="sendpipe-bench-") as tmp:
        if not args.skip_latency:
            latency(stack, Path(tmp), args.applies)
        if not args.skip_convergence:
            convergence(stack, Path(tmp), args.providers, args.namespaces)


if __name__ == "__main__":
    main()
