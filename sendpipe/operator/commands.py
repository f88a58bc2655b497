"""``sendpipe operator`` (run it) and ``sendpipe providers reorder`` (rewrite a channel's priorities)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import click

from sendpipe.core.outcomes import Channel
from sendpipe.settings import KafkaSettings, OperatorSettings, SealingSettings, TopicSettings

__all__ = ["operator", "providers"]


@click.command("operator")
@click.option("-n", "--namespace", "namespaces", multiple=True,
              help="Serve only these namespaces (repeatable); default: SENDPIPE_OPERATOR_NAMESPACES or all.")
def operator(namespaces: tuple[str, ...]) -> None:
    """Run the Provider operator (Kopf) until SIGTERM/SIGINT."""
    from sendpipe.operator.app import serve

    settings = OperatorSettings()
    if namespaces:
        settings = settings.model_copy(update={"namespaces": list(namespaces)})
    asyncio.run(serve(settings=settings, kafka=KafkaSettings(), topics=TopicSettings(), sealing=SealingSettings()))


@click.group("providers")
def providers() -> None:
    """Manage Provider resources."""


@providers.command("reorder")
@click.option("-n", "--namespace", required=True, help="The Providers' namespace.")
@click.option("--channel", required=True, type=click.Choice([c.value for c in Channel]))
@click.option("--kubeconfig", type=click.Path(path_type=Path, dir_okay=False),
              help="Default: SENDPIPE_OPERATOR_KUBECONFIG, $KUBECONFIG, in-cluster.")
@click.argument("names", nargs=-1, required=True)
def reorder(namespace: str, channel: str, kubeconfig: Path | None, names: tuple[str, ...]) -> None:
    """Set the order of a channel's Providers: NAMES first to last (priorities 10, 20, 30...)."""
    from sendpipe.operator.kube import KubeClient, KubeError, load_api_client
    from sendpipe.operator.reorder import ReorderError, apply_reorder

    async def run() -> dict[str, tuple[int, int]]:
        config = kubeconfig or OperatorSettings().kubeconfig
        kube = KubeClient(load_api_client(config), component="sendpipe-cli", workers=2)
        try:
            return await apply_reorder(kube, namespace=namespace, channel=Channel(channel), names=list(names))
        finally:
            await kube.close()

    try:
        plan = asyncio.run(run())
    except (ReorderError, KubeError) as exc:
        raise click.ClickException(str(exc)) from None
    for name, (old, new) in plan.items():
        click.echo(f"{name}: priority {old} -> {new}" if old != new else f"{name}: priority {new} (unchanged)")


@providers.command("list")
@click.option("-n", "--namespace", "namespaces", multiple=True, help="Only these namespaces (repeatable); default: all.")
@click.option("--channel", type=click.Choice([c.value for c in Channel]), help="Only this channel.")
@click.option("--kubeconfig", type=click.Path(path_type=Path, dir_okay=False),
              help="Default: SENDPIPE_OPERATOR_KUBECONFIG, $KUBECONFIG, in-cluster.")
def list_providers(namespaces: tuple[str, ...], channel: str | None, kubeconfig: Path | None) -> None:
    """Providers per namespace and channel, in routing order, with their health."""
    from sendpipe.operator.kube import KubeClient, KubeError, load_api_client
    from sendpipe.operator.listing import render_listing

    async def run() -> list[dict[str, Any]]:
        kube = KubeClient(load_api_client(kubeconfig or OperatorSettings().kubeconfig), component="sendpipe-cli", workers=2)
        try:
            return await kube.list_providers(list(namespaces))
        finally:
            await kube.close()

    try:
        resources = asyncio.run(run())
    except KubeError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(render_listing(resources, channel=Channel(channel) if channel else None))
