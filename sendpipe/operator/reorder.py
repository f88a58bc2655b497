"""Rewrite the priorities of one channel's Providers in one step (the seed's ``POST /v1/providers/reorder``).

The list must name every Provider of that channel in that namespace, each
once: the first gets priority 10, the next 20, and so on. Only Providers
whose priority changes are patched; the operator's debounce folds the
patches into one routing record.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sendpipe.core.catalog import UnknownPackageError, get_package
from sendpipe.core.outcomes import Channel
from sendpipe.operator.kube import KubeClient

__all__ = ["PRIORITY_STEP", "ReorderError", "apply_reorder", "plan_reorder"]

PRIORITY_STEP = 10


class ReorderError(ValueError):
    """The requested order cannot be applied; the message says why."""


def provider_channel(provider: Mapping[str, Any]) -> str | None:
    spec = provider.get("spec") or {}
    if spec.get("channel"):
        return str(spec["channel"])
    try:
        return get_package(str(spec.get("package"))).channel.value
    except UnknownPackageError:
        return (provider.get("status") or {}).get("channel")


def plan_reorder(
    providers: Sequence[Mapping[str, Any]], *, namespace: str, channel: Channel, names: Sequence[str]
) -> dict[str, tuple[int, int]]:
    """``{name: (old priority, new priority)}`` for every named Provider; ReorderError if the list is wrong."""
    if not names:
        raise ReorderError("name at least one Provider")
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ReorderError(f"named more than once: {', '.join(duplicates)}")
    by_name = {str(p["metadata"]["name"]): p for p in providers}
    unknown = [name for name in names if name not in by_name]
    if unknown:
        raise ReorderError(f"no Provider named {', '.join(unknown)} in namespace {namespace}")
    foreign = [f"{name} ({provider_channel(by_name[name])})" for name in names
               if provider_channel(by_name[name]) != channel.value]
    if foreign:
        raise ReorderError(f"not {channel.value} Providers: {', '.join(foreign)}")
    in_channel = sorted(name for name, p in by_name.items() if provider_channel(p) == channel.value)
    left_out = [name for name in in_channel if name not in names]
    if left_out:
        raise ReorderError(
            f"the list leaves out {', '.join(left_out)}: a reorder must name every {channel.value} Provider "
            f"in {namespace} ({', '.join(in_channel)})"
        )
    return {
        name: (int((by_name[name].get("spec") or {}).get("priority", 100)), PRIORITY_STEP * position)
        for position, name in enumerate(names, 1)
    }


async def apply_reorder(
    kube: KubeClient, *, namespace: str, channel: Channel, names: Sequence[str]
) -> dict[str, tuple[int, int]]:
    """Plan against the live Providers, then patch the priorities that change."""
    providers = await kube.list_providers([namespace])
    plan = plan_reorder(providers, namespace=namespace, channel=channel, names=names)
    for name, (old, new) in plan.items():
        if old != new:
            await kube.patch_provider(namespace, name, {"spec": {"priority": new}})
    return plan
