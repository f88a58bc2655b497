"""Health verdicts on Kafka show up in `kubectl get providers`, in the Healthy condition and as Events."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.operator.conftest import OperatorEnv, produce, provider_manifest, secret_manifest, wait_for

pytestmark = pytest.mark.integration


def _verdict(uid: str, ns: str, name: str, *, state: str, rate: float, sends: int = 100, streak: int = 0,
             ejected: bool = False) -> bytes:
    now = datetime.now(UTC)
    body: dict[str, Any] = {
        "providerUid": uid, "namespace": ns, "channel": "email", "provider": name, "state": state,
        "errorRate": rate, "window": {"sends": sends, "failures": round(rate * sends)},
        "consecutiveFailures": streak, "observedAt": now.isoformat(), "lastTransitionTime": now.isoformat(),
    }
    if ejected:
        body["ejectedUntil"] = (now + timedelta(seconds=30)).isoformat()
    return json.dumps(body).encode()


def _columns(kubectl: Any, ns: str, name: str) -> dict[str, str]:
    header, *rows = kubectl("get", "providers", "-n", ns).splitlines()
    starts = [header.index(column) for column in header.split("  ") if column.strip()]
    names = [column.strip() for column in header.split("  ") if column.strip()]
    for row in rows:
        if row.split()[0] == name:
            bounds = [*starts[1:], len(row) + 1]
            return {names[i]: row[starts[i]:bounds[i]].strip() for i in range(len(names))}
    raise AssertionError(f"{name} not listed")


def _events(kubectl: Any, ns: str, name: str) -> list[dict[str, Any]]:
    items = json.loads(kubectl("get", "events", "-n", ns, "--field-selector", f"involvedObject.name={name}",
                               "-o", "json"))["items"]
    return [item for item in items if item["reason"].startswith("Provider")]


def test_verdicts_reach_status_columns_and_events(operator_env: OperatorEnv, kubectl: Any) -> None:
    env = operator_env
    ns = env.namespace
    operator = env.operator(SENDPIPE_OPERATOR_HEALTH_WRITE_INTERVAL_SECONDS="4")
    kubectl("apply", "-f", "-", input=secret_manifest("sg-creds", ns, {"apiKey": "SG.health-test-value"}))
    kubectl("apply", "-f", "-", input=provider_manifest("sg", ns, secret="sg-creds"))
    kubectl("wait", "--for=condition=Ready", "--timeout=30s", "provider/sg", "-n", ns)
    uid = json.loads(kubectl("get", "provider", "sg", "-n", ns, "-o", "json"))["metadata"]["uid"]
    assert _columns(kubectl, ns, "sg")["HEALTH"] == "unknown"

    # transition: written at once, Warning Event explaining why
    produce(env.bootstrap, env.health_topic, uid, _verdict(uid, ns, "sg", state="degraded", rate=0.34))
    columns = wait_for(lambda: (c := _columns(kubectl, ns, "sg"))["HEALTH"] == "degraded" and c, timeout=10,
                       what="HEALTH degraded")
    assert columns["ERROR RATE"] == "0.34" and columns["READY"] == "True" and columns["CHANNEL"] == "email"
    status = json.loads(kubectl("get", "provider", "sg", "-n", ns, "-o", "json"))["status"]
    assert status["window"] == {"sends": 100, "failures": 34} and status["consecutiveFailures"] == 0
    healthy = next(c for c in status["conditions"] if c["type"] == "Healthy")
    assert healthy["status"] == "False" and healthy["reason"] == "Degraded"
    assert "error rate 34% over last 100 sends" in healthy["message"]
    event = wait_for(lambda: _events(kubectl, ns, "sg"), what="an Event")[0]
    assert event["type"] == "Warning" and event["reason"] == "ProviderDegraded"
    assert "error rate 34% over last 100 sends" in event["message"]

    # same state, new figures: throttled (at most every 4 s here), then written
    produce(env.bootstrap, env.health_topic, uid, _verdict(uid, ns, "sg", state="degraded", rate=0.2))
    time.sleep(1.0)
    assert _columns(kubectl, ns, "sg")["ERROR RATE"] == "0.34", "unchanged state was written before its interval"
    wait_for(lambda: _columns(kubectl, ns, "sg")["ERROR RATE"] == "0.2", timeout=10, what="throttled figures")
    assert len(_events(kubectl, ns, "sg")) == 1, "figures without a transition made an Event"

    # unhealthy with ejection, then recovery: Warning then Normal
    produce(env.bootstrap, env.health_topic, uid,
            _verdict(uid, ns, "sg", state="unhealthy", rate=0.6, streak=5, ejected=True))
    wait_for(lambda: _columns(kubectl, ns, "sg")["HEALTH"] == "unhealthy", timeout=10, what="unhealthy")
    status = json.loads(kubectl("get", "provider", "sg", "-n", ns, "-o", "json"))["status"]
    assert status["ejectedUntil"] and status["consecutiveFailures"] == 5
    produce(env.bootstrap, env.health_topic, uid, _verdict(uid, ns, "sg", state="healthy", rate=0.01))
    wait_for(lambda: _columns(kubectl, ns, "sg")["HEALTH"] == "healthy", timeout=10, what="healthy")
    status = json.loads(kubectl("get", "provider", "sg", "-n", ns, "-o", "json"))["status"]
    assert "ejectedUntil" not in status
    reasons = wait_for(lambda: (r := [(e["type"], e["reason"]) for e in _events(kubectl, ns, "sg")]) and len(r) == 3
                       and r, what="three Events")
    assert sorted(reasons) == sorted([("Warning", "ProviderDegraded"), ("Warning", "ProviderUnhealthy"),
                                      ("Normal", "ProviderRecovered")])

    # verdicts for unknown Providers and undecodable records are ignored; the operator stays healthy
    produce(env.bootstrap, env.health_topic, "no-such-uid", _verdict("no-such-uid", ns, "ghost", state="unhealthy",
                                                                       rate=1.0))
    produce(env.bootstrap, env.health_topic, uid + "-garbage", b"{not json")
    time.sleep(1.0)
    code, body = operator.healthz()
    assert code == 200 and set(body) == {"kafka", "kubernetes"}

    # a restart rewrites nothing and records no Event for the unchanged state
    assert operator.stop() == 0
    version = json.loads(kubectl("get", "provider", "sg", "-n", ns, "-o", "json"))["metadata"]["resourceVersion"]
    operator = env.operator()
    time.sleep(1.5)
    after = json.loads(kubectl("get", "provider", "sg", "-n", ns, "-o", "json"))["metadata"]["resourceVersion"]
    assert after == version, "a restart rewrote an unchanged status"
    assert len(_events(kubectl, ns, "sg")) == 3


def test_probe_and_graceful_shutdown(operator_env: OperatorEnv) -> None:
    operator = operator_env.operator()
    code, body = operator.healthz()
    assert code == 200
    assert body["kubernetes"]["synced"] is True and body["kubernetes"]["version"].startswith("v1.")
    assert body["kafka"]["routingRecords"] == 0
    assert operator.stop() == 0
    assert [line for line in operator.lines() if line.get("message") == "operator stopped"]


def test_probe_fails_while_kafka_is_unreachable(operator_env: OperatorEnv) -> None:
    from tests.operator.conftest import free_port

    operator = operator_env.operator(wait_synced=False, SENDPIPE_KAFKA_BOOTSTRAP=f"127.0.0.1:{free_port()}")
    wait_for(lambda: operator.logged("operator start failed; retrying"), timeout=60, what="start retries")
    code, _ = wait_for(lambda: (r := operator.healthz()) and r[0] != 0 and r, timeout=30, what="a probe answer")
    assert code == 500
    assert operator.stop() == 0
