"""Small pure pieces of the operator: validation messages, conditions, reorder planning, status diffs,
health Events and record building. Everything else is tested against the real stack."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sendpipe.core.outcomes import Channel, HealthState
from sendpipe.core.provider import ConditionType
from sendpipe.core.records import HealthVerdict
from sendpipe.core.sealing import Keyring, generate_key
from sendpipe.operator import conditions
from sendpipe.operator.healthsync import event_for
from sendpipe.operator.kube import ObjectRef
from sendpipe.operator.model import ProviderEntry
from sendpipe.operator.publisher import SealCache, build_record, record_content
from sendpipe.operator.reorder import ReorderError, plan_reorder
from sendpipe.operator.status import status_patch
from sendpipe.operator.validation import validate

SES = {"package": "provider-ses", "credentialsSecretRef": {"name": "ses"},
       "settings": {"region": "us-east-1", "from": "a@acme.example"}}


def _b64(data: dict[str, str]) -> dict[str, str]:
    return {key: base64.b64encode(value.encode()).decode() for key, value in data.items()}


def test_validation_names_keys_never_values() -> None:
    secret = _b64({"accessKeyId": "SHORTVAL", "unrelated": "x"})
    result = validate(namespace="ns", raw_spec=SES, secret_data=secret)
    check = result.credentials_check
    assert not check.ok and check.reason == "MissingKeys"
    assert "missing key(s): secretAccessKey" in check.message and "accessKeyId" in check.message
    assert "SHORTVAL" not in check.message and result.credentials == {}


def test_validation_ok_keeps_only_the_package_keys() -> None:
    secret = _b64({"accessKeyId": "AKIAIOSFODNN7EXAMPLE", "secretAccessKey": "s" * 40, "other": "ignored"})
    result = validate(namespace="ns", raw_spec=SES, secret_data=secret)
    assert result.ok and result.channel is Channel.EMAIL
    assert set(result.credentials) == {"accessKeyId", "secretAccessKey"}
    assert "s" * 40 not in repr(result)


def test_validation_settings_errors_are_readable() -> None:
    result = validate(namespace="ns", raw_spec={**SES, "settings": {"region": "moon", "bogus": 1}}, secret_data=None)
    assert result.spec_check.reason == "InvalidSettings"
    assert "spec.settings.region" in result.spec_check.message and "spec.settings.bogus" in result.spec_check.message


def test_condition_transition_time_moves_only_on_status_change() -> None:
    t0, t1 = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC)
    first = conditions.merge([], [conditions.make(ConditionType.READY, False, reason="A", message="a",
                                                  generation=1)], now=t0)
    same = conditions.merge(first, [conditions.make(ConditionType.READY, False, reason="B", message="b",
                                                    generation=2)], now=t1)
    flipped = conditions.merge(same, [conditions.make(ConditionType.READY, True, reason="Ready", message="",
                                                      generation=2)], now=t1)
    assert same[0]["lastTransitionTime"] == "2026-01-01T00:00:00Z" and same[0]["reason"] == "B"
    assert flipped[0]["lastTransitionTime"] == "2026-01-02T00:00:00Z"


def test_status_patch_nulls_removed_fields_and_skips_equal() -> None:
    observed = {"health": "unhealthy", "ejectedUntil": "2026-01-01T00:00:00Z", "errorRate": 0}
    assert status_patch(observed, {"health": "unhealthy", "ejectedUntil": "2026-01-01T00:00:00Z",
                                   "errorRate": 0.0}) is None
    assert status_patch(observed, {"health": "healthy", "errorRate": 0.0}) == {
        "health": "healthy", "errorRate": 0.0, "ejectedUntil": None}


def _providers(*rows: tuple[str, str, int]) -> list[dict[str, Any]]:
    return [{"metadata": {"name": name}, "spec": {"package": package, "priority": priority}}
            for name, package, priority in rows]


def test_reorder_plan() -> None:
    providers = _providers(("a", "provider-ses", 5), ("b", "provider-resend", 7), ("s", "provider-termii", 1))
    assert plan_reorder(providers, namespace="ns", channel=Channel.EMAIL, names=["b", "a"]) == {
        "b": (7, 10), "a": (5, 20)}
    for names, message in ((["a"], "leaves out b"), (["a", "b", "s"], "not email"), (["a", "x"], "no Provider"),
                           (["a", "a", "b"], "more than once"), ([], "at least one")):
        with pytest.raises(ReorderError, match=message):
            plan_reorder(providers, namespace="ns", channel=Channel.EMAIL, names=names)


def _verdict(state: HealthState, **extra: Any) -> HealthVerdict:
    return HealthVerdict.model_validate({
        "providerUid": "u", "namespace": "ns", "channel": "email", "provider": "p", "state": state,
        "errorRate": 0.34, "window": {"sends": 100, "failures": 34}, "consecutiveFailures": 2,
        "observedAt": datetime.now(UTC), **extra})


def test_health_events() -> None:
    degraded = event_for(HealthState.HEALTHY, _verdict(HealthState.DEGRADED))
    assert degraded is not None and degraded[:2] == ("Warning", "ProviderDegraded")
    assert "error rate 34% over last 100 sends (34 failed), 2 consecutive failures" in degraded[2]
    until = datetime.now(UTC) + timedelta(seconds=30)
    unhealthy = event_for(HealthState.DEGRADED, _verdict(HealthState.UNHEALTHY, ejectedUntil=until))
    assert unhealthy is not None and unhealthy[1] == "ProviderUnhealthy" and "ejected until" in unhealthy[2]
    recovered = event_for(HealthState.UNHEALTHY, _verdict(HealthState.HEALTHY))
    assert recovered is not None and recovered[:2] == ("Normal", "ProviderRecovered")
    assert event_for(HealthState.DEGRADED, _verdict(HealthState.DEGRADED)) is None


def _entry(name: str, priority: int, *, enabled: bool = True, uid: str | None = None) -> ProviderEntry:
    spec = {**SES, "priority": priority, "enabled": enabled}
    secret = _b64({"accessKeyId": "AKIAIOSFODNN7EXAMPLE", "secretAccessKey": "s" * 40})
    return ProviderEntry(ref=ObjectRef("ns", name, uid or f"uid-{name}"), generation=1, raw_spec=spec,
                         validation=validate(namespace="ns", raw_spec=spec, secret_data=secret))


def test_record_order_exclusion_tombstone_and_stable_seals() -> None:
    keyring = Keyring.from_mapping({"active": "k1", "k1": generate_key()})
    cache = SealCache()
    members = [_entry("b", 10), _entry("a", 10), _entry("c", 5), _entry("off", 1, enabled=False)]

    def build() -> Any:
        return build_record(key="ns/email", members=members, now=datetime.now(UTC),
                            seal=lambda e: cache.seal(keyring, e.validation.credentials, uid=e.uid))

    first, second = build(), build()
    assert first is not None and [p.name for p in first.providers] == ["c", "a", "b"]
    assert record_content(first) == record_content(second)  # same content -> nothing to produce
    assert keyring.unseal(first.providers[0].sealed_credentials, provider_uid="uid-c")["accessKeyId"]
    assert build_record(key="ns/email", members=[members[-1]], seal=lambda e: "", now=datetime.now(UTC)) is None
