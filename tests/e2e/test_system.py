"""The whole system, end to end, the way the README tells a newcomer to run it.

`sendpipe up` on a state directory where no stack runs yet: it builds nothing
new (the cache is shared) but starts a fresh Kafka and API server, the CRD,
the simulator, operator and worker, applies the examples and sends a burst.
Then messages from the `sendpipe send` CLI and from kcat (a non-Python Kafka
client) are delivered, an outage of acme's primary SMS provider is ridden
out by failover and shows in `kubectl get providers` and an Event, and the
provider recovers once the outage ends. `sendpipe down` leaves no process.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sendpipe.console import system as services
from sendpipe.stack import processes
from sendpipe.stack.state import StackState, load

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
SENDPIPE = [sys.executable, "-m", "sendpipe.cli"]
BURST_PER_CHANNEL = 10
BURST_TOTAL = 3 * BURST_PER_CHANNEL + 2  # + globex SMS for every 5th message


@dataclass
class System:
    state_dir: Path
    env: dict[str, str]
    up_output: str

    @property
    def stack(self) -> StackState:
        recorded = load(self.state_dir)
        assert recorded is not None
        return recorded

    @property
    def simulator_url(self) -> str:
        return f"http://127.0.0.1:{services.load(self.state_dir)['simulator'].port}"

    def run(self, *args: str, stdin: str | None = None, timeout: float = 60) -> str:
        result = subprocess.run(list(args), env=self.env, input=stdin, capture_output=True, text=True,
                                timeout=timeout, cwd=REPO)
        assert result.returncode == 0, f"{args} failed:\n{result.stdout}\n{result.stderr}"
        return result.stdout

    def sendpipe(self, *args: str, stdin: str | None = None) -> str:
        return self.run(*SENDPIPE, *args, stdin=stdin)

    def kubectl(self, *args: str) -> str:
        return self.run(str(self.stack.kubectl), "--kubeconfig", str(self.stack.kubeconfig), *args)

    def event_of(self, message_id: str) -> dict[str, Any] | None:
        lines = self.sendpipe("events", "--json", "--id", message_id).splitlines()
        return json.loads(lines[-1]) if lines else None

    def health(self, provider: str) -> str:
        return self.kubectl("get", "provider", provider, "-n", "acme", "-o", "jsonpath={.status.health}")


def eventually(check: Callable[[], Any], *, timeout: float, interval: float = 0.5, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:.0f}s: {what}")
        time.sleep(interval)


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    state_dir = tmp_path_factory.mktemp("e2e-stack")
    env = {**os.environ, "SENDPIPE_STATE_DIR": str(state_dir)}
    assert load(state_dir) is None, "the state directory must start empty: no stack runs there yet"
    up = subprocess.run([*SENDPIPE, "up", "--messages", str(BURST_PER_CHANNEL), "--watch", "90"],
                        env=env, capture_output=True, text=True, timeout=900, cwd=REPO)
    started = System(state_dir=state_dir, env=env, up_output=up.stdout)
    try:
        assert up.returncode == 0, f"sendpipe up failed:\n{up.stdout}\n{up.stderr[-4000:]}"
        env.update({"KUBECONFIG": str(started.stack.kubeconfig), "SENDPIPE_KAFKA_BOOTSTRAP": started.stack.kafka_bootstrap})
        yield started
    finally:
        recorded = load(state_dir)
        pids = [s.pid for s in services.load(state_dir).values()] + [p.pid for p in (recorded.processes if recorded else [])]
        down = subprocess.run([*SENDPIPE, "down"], env=env, capture_output=True, text=True, timeout=120)
        assert down.returncode == 0, down.stderr
        assert not [pid for pid in pids if processes.is_running(pid)], "sendpipe down left processes behind"


def test_up_runs_the_whole_system_and_delivers_the_example_burst(system: System) -> None:
    assert f"delivery events: {BURST_TOTAL}/{BURST_TOTAL}" in system.up_output, system.up_output
    assert "failed: 0" in system.up_output
    providers = system.kubectl("get", "providers", "-A")
    assert providers.count("True") == 13, providers  # 11 acme + 2 globex providers, all Ready


def test_messages_from_the_cli_and_from_kcat_are_delivered(system: System) -> None:
    if shutil.which("kcat") is None:
        pytest.fail("kcat is not installed: `apt-get install kcat` (.ci/run does it)")
    cli_id = system.sendpipe("send", "--file", "examples/messages/sms.json", "--id", f"e2e-cli-{time.time_ns()}").strip()
    kcat_id = f"e2e-kcat-{time.time_ns()}"
    message = json.loads((REPO / "examples/messages/email.json").read_text()) | {"id": kcat_id}
    system.run("kcat", "-P", "-b", system.env["SENDPIPE_KAFKA_BOOTSTRAP"], "-t", "sendpipe.send.email",
               "-k", kcat_id, stdin=json.dumps(message))
    for message_id, channel in ((cli_id, "sms"), (kcat_id, "email")):
        event = eventually(lambda: system.event_of(message_id), timeout=30, what=f"DeliveryEvent of {message_id}")
        assert event["status"] == "SENT" and event["channel"] == channel, event


def test_routing_order_is_listed_per_channel(system: System) -> None:
    listing = system.sendpipe("providers", "list", "-n", "acme", "--channel", "email")
    names = [line.split()[1] for line in listing.splitlines()[2:] if line.strip()]
    assert names == ["ses", "sendgrid", "mailgun", "resend", "smtp"], listing


def test_an_outage_fails_over_shows_unhealthy_and_recovers(system: System) -> None:
    url = system.simulator_url
    system.sendpipe("simulator", "fault", "africastalking", "--outage", "503", "--url", url)
    outage_ids = system.sendpipe("send", "-n", "acme", "-c", "sms", "--to", "+254712345678", "--text", "outage",
                                 "--id", f"e2e-outage-{time.time_ns()}", "--count", "40").split()
    started = time.monotonic()
    # Routing reacts within about a second (tests/worker/test_outage.py, bench/); the status shown by kubectl
    # follows through the health topic and the operator, and CI machines are slower: allow for that here.
    eventually(lambda: system.health("africastalking") == "unhealthy", timeout=30, what="africastalking unhealthy")
    reaction = time.monotonic() - started
    events = system.kubectl("get", "events", "-n", "acme", "--field-selector",
                            "involvedObject.name=africastalking,reason=ProviderUnhealthy", "-o", "json")
    assert json.loads(events)["items"], "no Event explains why africastalking turned unhealthy"
    for message_id in outage_ids:
        event = eventually(lambda: system.event_of(message_id), timeout=30, what=f"event of {message_id}")
        assert event["status"] == "SENT" and event["provider"] in ("twilio-sms", "termii"), event

    system.sendpipe("simulator", "clear", "africastalking", "--url", url)

    def recovered() -> bool:
        system.sendpipe("send", "-n", "acme", "-c", "sms", "--to", "+254712345678", "--text", "after",
                        "--id", f"e2e-after-{time.time_ns()}", "--count", "5")
        return system.health("africastalking") == "healthy"

    eventually(recovered, timeout=90, interval=2, what="africastalking probed and healthy again")
    events = system.kubectl("get", "events", "-n", "acme", "--field-selector",
                            "involvedObject.name=africastalking,reason=ProviderRecovered", "-o", "json")
    assert json.loads(events)["items"], "no Event tells that africastalking recovered"
    print(f"unhealthy shown {reaction:.1f}s after the outage began")
