"""Routing records on Kafka follow the Providers: create, update, disable, re-enable, reorder, Secret
rotation, key rotation, delete; a restarted operator loses nothing and produces nothing it need not."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from typing import Any

import pytest

from sendpipe.core.sealing import Keyring
from tests.operator.conftest import REPO, OperatorEnv, make_keys, provider_manifest, secret_manifest, wait_for

pytestmark = pytest.mark.integration


def _names(record: dict[str, Any] | None) -> list[str]:
    return [provider["name"] for provider in (record or {}).get("providers", [])]


def _provider(record: dict[str, Any], name: str) -> dict[str, Any]:
    return next(provider for provider in record["providers"] if provider["name"] == name)


def _uid(kubectl: Any, namespace: str, name: str) -> str:
    return str(json.loads(kubectl("get", "provider", name, "-n", namespace, "-o", "json"))["metadata"]["uid"])


def test_routing_topic_follows_providers(operator_env: OperatorEnv, kubectl: Any, kubeconfig: Any) -> None:
    env = operator_env
    ns = env.namespace
    email, sms = f"{ns}/email", f"{ns}/sms"
    values = {name: f"{name}-{uuid.uuid4().hex}" for name in ("a", "b", "t")}
    for name, value in values.items():
        kubectl("apply", "-f", "-", input=secret_manifest(f"{name}-creds", ns, {"apiKey": value}))

    operator = env.operator()
    kubectl("apply", "-f", "-", input=provider_manifest("a", ns, package="provider-sendgrid", priority=20))
    kubectl("apply", "-f", "-", input=provider_manifest("b", ns, package="provider-resend", priority=10))
    kubectl("apply", "-f", "-", input=provider_manifest("t", ns, package="provider-termii", priority=5,
                                                        settings={"from": "Acme"}))

    # create: one record per (namespace, channel), ordered by priority, credentials sealed for each uid
    state = dict(wait_for(lambda: (s := env.routing().latest()) and _names(s.get(email)) == ["b", "a"]
                          and _names(s.get(sms)) == ["t"] and s, what="email [b, a] and sms [t]"))
    record = state[email]
    assert record["namespace"] == ns and record["channel"] == "email"
    a = _provider(record, "a")
    assert a["package"] == "provider-sendgrid" and a["priority"] == 20 and a["settings"]["from"] == "noreply@acme.example"
    assert a["uid"] == _uid(kubectl, ns, "a") and a["timeoutSeconds"] == 10.0
    keyring = Keyring.from_path(env.keys_file)
    assert keyring.unseal(a["sealedCredentials"], provider_uid=a["uid"]) == {"apiKey": values["a"]}
    assert values["a"] not in json.dumps(state)

    def until(check: Any, what: str) -> dict[str, Any]:
        def probe() -> dict[str, Any] | None:
            latest = env.routing().latest()
            return latest if check(latest) else None

        return dict(wait_for(probe, what=what))

    def step(action: Any, check: Any, what: str) -> dict[str, Any]:
        """One change -> exactly one new record (a storm would show up within the pause)."""
        before = env.routing().count()
        action()
        latest = until(check, what)
        time.sleep(0.5)
        assert env.routing().count() - before == 1, f"{what}: expected exactly 1 new record"
        return latest

    # update: the settings' timeout reaches the record
    state = step(lambda: kubectl("patch", "provider", "a", "-n", ns, "--type=merge", "-p",
                                 '{"spec": {"settings": {"from": "noreply@acme.example", "timeoutSeconds": 3}}}'),
                 lambda s: s.get(email) and _provider(s[email], "a")["timeoutSeconds"] == 3.0, "timeout update")
    # disable / re-enable
    step(lambda: kubectl("patch", "provider", "b", "-n", ns, "--type=merge", "-p", '{"spec": {"enabled": false}}'),
         lambda s: _names(s.get(email)) == ["a"], "b disabled")
    step(lambda: kubectl("patch", "provider", "b", "-n", ns, "--type=merge", "-p", '{"spec": {"enabled": true}}'),
         lambda s: _names(s.get(email)) == ["b", "a"], "b re-enabled")

    # reorder through the CLI: first = highest priority
    result = subprocess.run(
        [sys.executable, "-m", "sendpipe.cli", "providers", "reorder", "-n", ns, "--channel", "email", "a", "b",
         "--kubeconfig", str(kubeconfig)], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "a: priority 20 -> 10" in result.stdout and "b: priority 10 -> 20" in result.stdout
    state = until(lambda s: _names(s.get(email)) == ["a", "b"] and _provider(s[email], "b")["priority"] == 20,
                  "reordered [a, b]")
    assert [p["priority"] for p in state[email]["providers"]] == [10, 20]

    # Secret rotation: new value, resealed, nothing else changes
    rotated = f"a-rotated-{uuid.uuid4().hex}"
    values["a-rotated"] = rotated
    state = step(lambda: kubectl("apply", "-f", "-", input=secret_manifest("a-creds", ns, {"apiKey": rotated})),
                 lambda s: s.get(email) and keyring.unseal(_provider(s[email], "a")["sealedCredentials"],
                                                           provider_uid=a["uid"]) == {"apiKey": rotated},
                 "Secret rotation")

    # restart: nothing changed -> nothing produced
    assert operator.stop() == 0
    before = env.routing().count()
    operator = env.operator()
    time.sleep(1.0)
    assert env.routing().count() == before, "a restart without changes produced records"

    # changes while the operator is down are caught up at start: delete t -> sms tombstone, exactly one record
    assert operator.stop() == 0
    kubectl("delete", "provider", "t", "-n", ns)
    before = env.routing().count()
    operator = env.operator()
    wait_for(lambda: sms not in env.routing().latest(), what="sms tombstone after restart")
    time.sleep(0.5)
    records = env.routing()
    assert records.count() - before == 1 and records.items[-1] == (sms, None)

    # key rotation: the workers get k1 + k2, the operator seals with k2 after a restart
    assert operator.stop() == 0
    old_keys = json.loads(env.keys_file.read_text())
    new_keys = make_keys("k2", active="k2")
    env.set_keys({"active": "k2", "keys": {**old_keys["keys"], **new_keys["keys"]}})
    operator = env.operator()
    both = Keyring.from_path(env.keys_file)
    state = until(lambda s: s.get(email) and all(
        Keyring.key_id_of(p["sealedCredentials"]) == "k2" for p in s[email]["providers"]), "resealed with k2")
    assert both.unseal(_provider(state[email], "a")["sealedCredentials"], provider_uid=a["uid"]) == {"apiKey": rotated}

    # delete the last providers of the channel -> tombstone
    kubectl("delete", "provider", "a", "b", "-n", ns)
    wait_for(lambda: env.routing().latest() == {}, what="email tombstone")
    assert env.routing().items[-1] == (email, None)
    assert operator.stop() == 0


def test_reorder_refuses_incomplete_or_foreign_lists(operator_env: OperatorEnv, kubectl: Any, kubeconfig: Any) -> None:
    ns = operator_env.namespace
    for name, package, settings in (("e1", "provider-sendgrid", None), ("e2", "provider-resend", None),
                                    ("s1", "provider-termii", {"from": "Acme"})):
        kubectl("apply", "-f", "-", input=provider_manifest(name, ns, package=package, settings=settings))

    def reorder(*names: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "sendpipe.cli", "providers", "reorder", "-n", ns, "--channel", "email", *names,
             "--kubeconfig", str(kubeconfig)], capture_output=True, text=True, cwd=REPO, timeout=60)

    cases = {
        ("e1", "nope"): "no Provider named nope",
        ("e1", "e2", "s1"): "not email Providers: s1 (sms)",
        ("e2",): "leaves out e1",
        ("e1", "e1", "e2"): "named more than once: e1",
    }
    for names, message in cases.items():
        result = reorder(*names)
        assert result.returncode != 0, names
        assert message in result.stderr, (names, result.stderr)
    priorities = {p["metadata"]["name"]: p["spec"]["priority"]
                  for p in json.loads(kubectl("get", "providers", "-n", ns, "-o", "json"))["items"]}
    assert priorities == {"e1": 10, "e2": 10, "s1": 10}, "a refused reorder changed something"
    assert reorder("e2", "e1").returncode == 0


def test_sealing_keys_from_a_secret_rotate_without_restart(operator_env: OperatorEnv, kubectl: Any) -> None:
    """The operator reads its keyring from a Secret it watches: a new active key reseals every record."""
    env = operator_env
    ns = env.namespace
    k1 = make_keys("k1", active="k1")
    kubectl("apply", "-f", "-", input=secret_manifest("sealing", ns, {"keys.json": json.dumps(k1)}))
    kubectl("apply", "-f", "-", input=secret_manifest("a-creds", ns, {"apiKey": "SG.sealing-secret-test"}))
    kubectl("apply", "-f", "-", input=provider_manifest("a", ns))
    operator = env.operator(SENDPIPE_OPERATOR_SEALING_SECRET=f"{ns}/sealing", SENDPIPE_SEALING_KEYS_FILE="")
    email = f"{ns}/email"

    def sealed() -> str | None:
        record = env.routing().latest().get(email)
        return str(record["providers"][0]["sealedCredentials"]) if record else None

    first = wait_for(sealed, what="record sealed with k1")
    uid = _uid(kubectl, ns, "a")
    assert Keyring.key_id_of(first) == "k1"
    assert Keyring.from_json(json.dumps(k1)).unseal(first, provider_uid=uid) == {"apiKey": "SG.sealing-secret-test"}

    both = {"active": "k2", "keys": {**k1["keys"], **make_keys("k2", active="k2")["keys"]}}
    kubectl("apply", "-f", "-", input=secret_manifest("sealing", ns, {"keys.json": json.dumps(both)}))
    second = wait_for(lambda: (s := sealed()) and Keyring.key_id_of(s) == "k2" and s, what="resealed with k2")
    assert Keyring.from_json(json.dumps(both)).unseal(second, provider_uid=uid) == {"apiKey": "SG.sealing-secret-test"}
    assert operator.stop() == 0


def test_resync_repairs_the_topic(operator_env: OperatorEnv, kubectl: Any) -> None:
    """A record lost behind the operator's back (here: a foreign tombstone) is produced again by the resync."""
    from tests.operator.conftest import produce

    env = operator_env
    ns = env.namespace
    kubectl("apply", "-f", "-", input=secret_manifest("a-creds", ns, {"apiKey": "SG.resync-test-value"}))
    kubectl("apply", "-f", "-", input=provider_manifest("a", ns))
    operator = env.operator(SENDPIPE_OPERATOR_RESYNC_SECONDS="2")
    email = f"{ns}/email"
    wait_for(lambda: email in env.routing().latest(), what="record")
    produce(env.bootstrap, env.routing_topic, email, None)
    wait_for(lambda: email in env.routing().latest(), timeout=15, what="record produced again by the resync")
    time.sleep(4.5)  # two more resyncs: nothing more to produce
    records = env.routing()
    assert records.count(email) == 3, records.items
    assert operator.stop() == 0
