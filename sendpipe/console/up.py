"""`sendpipe up` and `sendpipe down`: the whole system on the local stack, with messages flowing.

`up` brings up Kafka and the API server (building them the first time),
installs the CRD, creates the sealing key, starts the provider simulator,
applies ``examples/organizations`` with every provider pointed at the
simulator, starts the operator and a worker, sends a burst of example
messages and shows a live summary. Everything keeps running afterwards;
`down` stops it all.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import click
import yaml

from sendpipe.console import demo, system
from sendpipe.core.crd import build_crd
from sendpipe.core.sealing import Keyring, generate_key
from sendpipe.bus.admin import control_topics, data_topics, ensure_topics
from sendpipe.core.outcomes import Channel
from sendpipe.settings import KafkaSettings, StackSettings, TopicSettings
from sendpipe.simulator.commands import DEFAULT_PORT as SIMULATOR_DEFAULT_PORT
from sendpipe.stack import ports
from sendpipe.stack.errors import StackError
from sendpipe.stack.kubectl import Kubectl
from sendpipe.stack.lifecycle import ensure_stack, stop_stack
from sendpipe.stack.state import StackInfo

REPOSITORY = Path(__file__).resolve().parents[2]
SEALING_NAMESPACE = "sendpipe-system"
SEALING_SECRET = "sendpipe-sealing-key"


def _step(text: str) -> None:
    click.secho(f"==> {text}", bold=True, err=True)


def _kubectl(info: StackInfo) -> Kubectl:
    return Kubectl(binary=info.kubectl, kubeconfig=info.kubeconfig)


def _apply(kubectl: Kubectl, documents: list[dict[str, Any]]) -> str:
    return kubectl("apply", "--server-side", "--force-conflicts", "-f", "-", input=yaml.safe_dump_all(documents))


def _sealing_keys(state_dir: Path, kubectl: Kubectl) -> Path:
    """The keyring file shared by the local operator and worker; also stored as the cluster's Secret."""
    path = state_dir / "sealing-keys.json"
    if not path.exists():
        path.write_text(json.dumps({"active": "k1", "keys": {"k1": generate_key()}}))
        path.chmod(0o600)
    Keyring.from_path(path)  # fail early on a damaged file
    _apply(kubectl, [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": SEALING_NAMESPACE}},
        {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
         "metadata": {"name": SEALING_SECRET, "namespace": SEALING_NAMESPACE},
         "stringData": {"keys.json": path.read_text()}},
    ])
    return path


def _environment(info: StackInfo, *, keys: Path) -> dict[str, str]:
    return {
        "KUBECONFIG": str(info.kubeconfig),
        "SENDPIPE_OPERATOR_KUBECONFIG": str(info.kubeconfig),
        "SENDPIPE_KAFKA_BOOTSTRAP": info.kafka_bootstrap,
        "SENDPIPE_SEALING_KEYS_FILE": str(keys),
    }


def _start_services(info: StackInfo, *, env: dict[str, str], worker_health_base: float) -> dict[str, system.Service]:
    state_dir = info.state_dir
    services = {name: s for name, s in system.load(state_dir).items() if system.running(state_dir, s)}
    if "simulator" not in services:
        http, smtp, smtps = ports.free_ports(3)
        if not ports.port_open(SIMULATOR_DEFAULT_PORT):
            http = SIMULATOR_DEFAULT_PORT  # so `sendpipe simulator fault ...` needs no --url
        services["simulator"] = system.start(
            state_dir=state_dir, name="simulator", port=http, env=env, extra_ports={"smtp": smtp},
            args=["simulator", "run", "--port", str(http), "--smtp-port", str(smtp), "--smtps-port", str(smtps), "--json"],
        )
        system.wait_port(services["simulator"], timeout=30)
    if "operator" not in services:
        (probe,) = ports.free_ports(1)
        services["operator"] = system.start(
            state_dir=state_dir, name="operator", port=probe, args=["operator"],
            env={**env, "SENDPIPE_OPERATOR_PROBE_PORT": str(probe), "SENDPIPE_OPERATOR_PROBE_HOST": "127.0.0.1"},
        )
    if "worker" not in services:
        (web,) = ports.free_ports(1)
        services["worker"] = system.start(
            state_dir=state_dir, name="worker", port=web, args=["worker"],
            env={**env, "SENDPIPE_WORKER_WEB_PORT": str(web), "SENDPIPE_WORKER_WEB_HOST": "127.0.0.1",
                 "SENDPIPE_WORKER_DATA_DIR": str(state_dir / "worker"),
                 "SENDPIPE_WORKER_HEALTH_EJECTION_BASE_SECONDS": str(worker_health_base)},
        )
    system.save(state_dir, services)
    for name in ("operator", "worker"):
        system.wait_port(services[name], timeout=90)
    return services


@click.command("up")
@click.option("--examples", type=click.Path(exists=True, file_okay=False, path_type=Path),
              default=REPOSITORY / "examples" / "organizations", show_default=True,
              help="Organization folders to apply (each provider is pointed at the simulator).")
@click.option("--messages", default=50, show_default=True, type=click.IntRange(0, 100_000),
              help="Example messages to send per channel.")
@click.option("--watch", default=15.0, show_default=True, type=click.FloatRange(0, 3600),
              help="Seconds of live summary before returning (the system keeps running).")
def up(examples: Path, messages: int, watch: float) -> None:
    """Run the whole system locally: stack, CRD, simulator, operator, worker, example providers and messages."""
    started = time.monotonic()
    try:
        _step("Local stack (Kafka + kube-apiserver). The first run builds it: about 15 minutes.")
        info = ensure_stack(StackSettings())
        kubectl = _kubectl(info)
        _step("Provider CRD and the credential-sealing key")
        _apply(kubectl, [build_crd()])
        kubectl("wait", "--for=condition=Established", "--timeout=60s", "crd/providers.sendpipe.io")
        keys = _sealing_keys(info.state_dir, kubectl)
        # Created here, before anything produces: the broker would auto-create them with one partition.
        topics = TopicSettings()
        asyncio.run(ensure_topics(KafkaSettings(bootstrap=info.kafka_bootstrap),
                                  data_topics(topics, [c.value for c in Channel]) + control_topics(topics)))
        _step("Simulator, operator and worker")
        services = _start_services(info, env=_environment(info, keys=keys), worker_health_base=10.0)
        simulator = services["simulator"]
        simulator_url = f"http://127.0.0.1:{simulator.port}"
        _step(f"Example organizations from {examples}, pointed at the simulator ({simulator_url})")
        documents = demo.example_documents(examples, simulator_url=simulator_url, smtp_port=simulator.extra_ports["smtp"])
        _apply(kubectl, documents)
        kubectl("wait", "--for=condition=Ready", "--timeout=90s", "providers", "--all", "-A")
        demo.wait_worker_ready(services["worker"].port, timeout=90)
        _step(f"Sending {messages} example messages per channel")
        expected = demo.send_burst(info.kafka_bootstrap, per_channel=messages)
        demo.live_summary(kafka_bootstrap=info.kafka_bootstrap, kubectl=kubectl, seconds=watch, expected=expected)
    except StackError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(demo.next_steps(info=info, services=services, elapsed=time.monotonic() - started))


@click.command("down")
def down() -> None:
    """Stop the worker, operator and simulator that `sendpipe up` started, then the local stack."""
    settings = StackSettings()
    for name in system.stop_all(settings.resolved_state_dir):
        click.echo(f"stopped {name}")
    for name in stop_stack(settings):
        click.echo(f"stopped {name}")
