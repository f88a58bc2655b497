"""Standard Kubernetes conditions (metav1.Condition shape) with stable lastTransitionTime.

A condition's ``lastTransitionTime`` changes only when its ``status`` changes;
reason, message and observedGeneration may change without moving it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sendpipe.core.provider import ConditionStatus, ConditionType

__all__ = ["ORDER", "make", "merge", "timestamp"]

ORDER = (ConditionType.READY, ConditionType.CREDENTIALS_VALID, ConditionType.PUBLISHED, ConditionType.HEALTHY)


def timestamp(moment: datetime) -> str:
    """RFC 3339 with second precision and ``Z``, as the API server stores it."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def make(
    type_: ConditionType, status: bool | None, *, reason: str, message: str, generation: int | None
) -> dict[str, Any]:
    value = ConditionStatus.UNKNOWN if status is None else ConditionStatus.TRUE if status else ConditionStatus.FALSE
    condition: dict[str, Any] = {"type": type_.value, "status": value.value, "reason": reason, "message": message}
    if generation is not None:
        condition["observedGeneration"] = generation
    return condition


def merge(previous: Iterable[Mapping[str, Any]], desired: Iterable[dict[str, Any]], *, now: datetime) -> list[dict[str, Any]]:
    """``desired`` with lastTransitionTime carried over from ``previous`` where the status is unchanged."""
    before = {str(c.get("type")): c for c in previous if isinstance(c, Mapping)}
    merged: list[dict[str, Any]] = []
    for condition in desired:
        old = before.get(condition["type"])
        if old is not None and old.get("status") == condition["status"] and old.get("lastTransitionTime"):
            transition = old["lastTransitionTime"]
        else:
            transition = timestamp(now)
        merged.append({**condition, "lastTransitionTime": transition})
    return merged
