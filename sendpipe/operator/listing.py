"""The table behind `sendpipe providers list`: each channel's providers in routing order, with health.

Routing order is the core's (priority, then name); providers that are
disabled or not Ready are listed after the routed ones, marked as skipped.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sendpipe.core.outcomes import Channel
from sendpipe.core.routing import is_ready, resource_channel
from sendpipe.core.provider import ProviderResource

COLUMNS = ("ORDER", "NAME", "PACKAGE", "PRIORITY", "HEALTH", "ERROR RATE", "WINDOW", "READY", "NOTE")


def _row(position: str, resource: ProviderResource, note: str) -> tuple[str, ...]:
    status = resource.status
    window = f"{status.window.failures}/{status.window.sends}" if status and status.window else "-"
    rate = f"{status.error_rate:.1%}" if status and status.error_rate is not None else "-"
    return (position, str(resource.metadata.get("name")), resource.spec.package, str(resource.spec.priority),
            status.health.value if status else "unknown", rate, window, "True" if is_ready(resource) else "False", note)


def _note(resource: ProviderResource) -> str:
    if not resource.spec.enabled:
        return "disabled"
    if not is_ready(resource):
        ready = next((c for c in (resource.status.conditions if resource.status else []) if c.type == "Ready"), None)
        return f"not ready: {ready.message}" if ready and ready.message else "not ready"
    return ""


def render_listing(objects: Iterable[dict[str, Any]], *, channel: Channel | None = None) -> str:
    groups: dict[tuple[str, Channel], list[ProviderResource]] = defaultdict(list)
    for obj in objects:
        resource = ProviderResource.model_validate({key: obj.get(key) for key in ("metadata", "spec", "status") if obj.get(key) is not None})
        if channel is None or resource_channel(resource) is channel:
            groups[(str(resource.metadata.get("namespace")), resource_channel(resource))].append(resource)
    if not groups:
        return "no providers found"
    blocks = []
    for (namespace, group_channel), members in sorted(groups.items()):
        members.sort(key=lambda r: (r.spec.priority, str(r.metadata.get("name"))))
        routed = [r for r in members if r.spec.enabled and is_ready(r)]
        rows = [_row(str(i), r, "") for i, r in enumerate(routed, 1)]
        rows += [_row("-", r, _note(r)) for r in members if r not in routed]
        widths = [max(len(COLUMNS[i]), *(len(row[i]) for row in rows)) for i in range(len(COLUMNS))]
        lines = [f"{namespace} / {group_channel.value}"]
        for row in (COLUMNS, *rows):
            lines.append("  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)
