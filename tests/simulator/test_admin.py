"""The simulator's controls: the admin HTTP endpoint, the Python API, and the CLI against a child process."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from click.testing import CliRunner

from sendpipe.simulator import Fault, Simulator, SimulatorProcess
from sendpipe.simulator.commands import simulator as simulator_cli


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(smtp=False) as running:
        yield running


@pytest.fixture
async def admin(sim: Simulator) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=f"{sim.url}/_sim") as http:
        yield http


async def _sendgrid(sim: Simulator, key: str = "SG.simulator-key") -> httpx.Response:
    async with httpx.AsyncClient() as http:
        return await http.post(f"{sim.url}/sendgrid/v3/mail/send", headers={"Authorization": f"Bearer {key}"}, json={
            "personalizations": [{"to": [{"email": "a@example.com"}]}], "from": {"email": "b@example.com"},
            "subject": "s", "content": [{"type": "text/plain", "value": "v"}]})


async def test_health_lists_providers(admin: httpx.AsyncClient) -> None:
    body = (await admin.get("/health")).json()
    assert body["ok"] and {"ses", "sendgrid", "mailgun", "resend", "twilio", "africastalking", "termii", "meta",
                           "360dialog", "smtp"} <= set(body["providers"])


async def test_requests_are_recorded_and_queryable(sim: Simulator, admin: httpx.AsyncClient) -> None:
    assert (await _sendgrid(sim)).status_code == 202
    assert (await _sendgrid(sim, "wrong")).status_code == 401
    records = (await admin.get("/requests", params={"provider": "sendgrid"})).json()
    assert [r["status"] for r in records] == [202, 401]
    assert json.loads(records[0]["body"])["subject"] == "s"
    assert (await admin.get("/requests", params={"provider": "termii"})).json() == []
    assert (await admin.get("/stats")).json() == {"sendgrid": {"202": 1, "401": 1}}
    await admin.delete("/requests")
    assert sim.requests() == []


async def test_faults_over_http(sim: Simulator, admin: httpx.AsyncClient) -> None:
    reply = await admin.put("/faults/sendgrid", json={"throttle": True, "retry_after_seconds": 9})
    assert reply.status_code == 200 and reply.json()["throttle"] is True
    throttled = await _sendgrid(sim)
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "9"
    assert "sendgrid" in (await admin.get("/faults")).json()
    await admin.delete("/faults/sendgrid")
    assert (await _sendgrid(sim)).status_code == 202


async def test_bad_fault_is_refused(admin: httpx.AsyncClient) -> None:
    assert (await admin.put("/faults/sendgrid", json={"failure_rate": 2})).status_code == 400
    assert (await admin.put("/faults/sendgrid", json={"colour": "red"})).status_code == 400
    assert (await admin.put("/faults/nope", json={})).status_code == 404


async def test_credentials_can_be_changed(sim: Simulator, admin: httpx.AsyncClient) -> None:
    await admin.put("/credentials", json={"sendgrid_api_key": "SG.rotated"})
    assert (await _sendgrid(sim)).status_code == 401
    assert (await _sendgrid(sim, "SG.rotated")).status_code == 202


async def test_python_api(sim: Simulator) -> None:
    fault = sim.set_fault("provider-sendgrid", Fault(failure_rate=1.0, error="server_error"))
    assert sim.state.fault("sendgrid") is fault
    assert (await _sendgrid(sim)).status_code == 500
    sim.clear_faults()
    assert (await _sendgrid(sim)).status_code == 202
    assert sim.base_url("provider-sendgrid") == f"{sim.url}/sendgrid"
    assert sim.config("provider-sendgrid")["settings"]["base_url"] == f"{sim.url}/sendgrid"


def test_fault_validation() -> None:
    with pytest.raises(ValueError):
        Fault(error="nope")
    with pytest.raises(ValueError):
        Fault(latency_ms=10, latency_max_ms=5)
    with pytest.raises(ValueError):
        Fault(outage="sometimes")


@pytest.fixture(scope="module")
def child() -> Iterator[SimulatorProcess]:
    with SimulatorProcess() as process:
        yield process


def test_cli_controls_a_running_simulator(child: SimulatorProcess) -> None:
    runner = CliRunner()
    result = runner.invoke(simulator_cli, ["fault", "twilio", "--url", child.url, "--failure-rate", "0.5",
                                           "--error", "auth", "--latency-ms", "5", "--latency-max-ms", "10"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["failure_rate"] == 0.5
    assert "twilio" in child.admin("GET", "faults")
    result = runner.invoke(simulator_cli, ["clear", "--url", child.url])
    assert result.exit_code == 0 and child.admin("GET", "faults") == {}
    result = runner.invoke(simulator_cli, ["stats", "--url", child.url])
    assert result.exit_code == 0 and json.loads(result.output) == {}
    result = runner.invoke(simulator_cli, ["requests", "--url", child.url, "--provider", "twilio"])
    assert result.exit_code == 0 and json.loads(result.output) == []


def test_cli_reports_an_unreachable_simulator() -> None:
    result = CliRunner().invoke(simulator_cli, ["stats", "--url", "http://127.0.0.1:9"])
    assert result.exit_code != 0 and "no simulator" in result.output


def test_child_process_serves_the_apis(child: SimulatorProcess) -> None:
    assert set(child.addresses) >= {"http", "smtp", "smtps", "smtp_ca_file"}
    assert child.config("provider-termii")["settings"]["base_url"] == f"{child.url}/termii"
