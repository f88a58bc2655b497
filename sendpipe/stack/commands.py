"""``sendpipe stack up|down|status|env|build``: the local stack from the command line.

Progress and diagnostics are log lines on stderr; stdout carries only what a
script would consume (``env``'s exports, ``status``'s report), so
``eval "$(sendpipe stack env)"`` works.
"""

from __future__ import annotations

import logging
import shlex
import sys
import time

import click

from sendpipe.settings import StackSettings
from sendpipe.stack import helm, lifecycle
from sendpipe.stack.errors import StackError
from sendpipe.stack.state import StackInfo


def _settings(state_dir: str | None) -> StackSettings:
    settings = StackSettings()
    if state_dir is not None:
        settings = settings.model_copy(update={"state_dir": state_dir})
    return settings


def _configure_logging(verbose: bool) -> None:
    # The root command configures handlers and format; here only levels.
    if verbose:
        logging.getLogger("sendpipe").setLevel(logging.DEBUG)
    # aiokafka logs every refused connection while Kafka boots; that is expected.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)


state_dir_option = click.option(
    "--state-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Directory of this stack's pids, logs and kubeconfig (default: $SENDPIPE_STATE_DIR or <cache>/state).",
)


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Debug logging.")
def stack(verbose: bool) -> None:
    """Run Kafka and a Kubernetes API server locally (built on first use; that takes minutes)."""
    _configure_logging(verbose)


def _fail(exc: StackError) -> None:
    raise click.ClickException(str(exc)) from exc


@stack.command()
def build() -> None:
    """Download Kafka and build etcd/kube-apiserver/kubectl and helm into the cache (first time: minutes)."""
    settings = StackSettings()
    try:
        artifacts = lifecycle.build(settings)
        helm_binary = helm.ensure_helm(settings.resolved_cache_dir, settings.helm_version)
    except StackError as exc:
        _fail(exc)
    click.echo(f"kafka jars: {artifacts.kafka_libs}")
    click.echo(f"kube binaries: {artifacts.kube.kube_apiserver.parent}")
    click.echo(f"helm: {helm_binary}")


@stack.command()
@state_dir_option
def up(state_dir: str | None) -> None:
    """Start the stack, or reuse the one already running."""
    started = time.monotonic()
    try:
        info = lifecycle.ensure_stack(_settings(state_dir))
    except StackError as exc:
        _fail(exc)
    verb = "started" if info.started else "already running"
    click.echo(f"stack {verb} in {time.monotonic() - started:.1f}s ({info.state_dir})")
    click.echo(f"  kafka:      {info.kafka_bootstrap}")
    click.echo(f"  kubernetes: {info.api_server_url}  (KUBECONFIG={info.kubeconfig})")
    click.echo('  use it:     eval "$(sendpipe stack env)"')


@stack.command()
@state_dir_option
def down(state_dir: str | None) -> None:
    """Stop every process of the stack (SIGTERM, then SIGKILL after a grace period)."""
    try:
        stopped = lifecycle.stop_stack(_settings(state_dir))
    except StackError as exc:
        _fail(exc)
    click.echo(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")


@stack.command()
@state_dir_option
def status(state_dir: str | None) -> None:
    """Show the stack's processes, ports and memory; exit 1 when it is not fully running."""
    recorded, rows = lifecycle.stack_status(_settings(state_dir))
    if recorded is None:
        click.echo("no stack recorded; run `sendpipe stack up`")
        sys.exit(1)
    click.echo(f"state dir:  {recorded.state_dir}")
    click.echo(f"kafka:      {recorded.kafka_bootstrap} (Apache Kafka {recorded.kafka_version})")
    click.echo(f"kubernetes: {recorded.api_server_url} ({recorded.kubernetes_version})")
    click.echo(f"kubeconfig: {recorded.kubeconfig}")
    for row in rows:
        rss = f"{row.rss_bytes / 2**20:.0f} MiB" if row.rss_bytes is not None else "-"
        ports = ",".join(f"{k}={v}" for k, v in row.ports.items())
        state_word = "running" if row.running else "NOT RUNNING"
        click.echo(f"  {row.name:<15} pid={row.pid:<8} {state_word:<12} rss={rss:<9} {ports}  log={row.log}")
    if not all(row.running for row in rows):
        sys.exit(1)


def env_exports(info: StackInfo) -> str:
    """Shell lines that point kubectl and SendPipe's clients at the stack."""
    kubectl_dir = shlex.quote(str(info.kubectl.parent))
    return "\n".join(
        [
            f"export KUBECONFIG={shlex.quote(str(info.kubeconfig))}",
            f"export SENDPIPE_KAFKA_BOOTSTRAP={shlex.quote(info.kafka_bootstrap)}",
            f'export PATH={kubectl_dir}:"$PATH"',
        ]
    )


@stack.command()
@state_dir_option
def env(state_dir: str | None) -> None:
    """Print shell exports for the running stack: eval "$(sendpipe stack env)"."""
    info = lifecycle.find_stack(_settings(state_dir))
    if info is None:
        raise click.ClickException("no running stack; run `sendpipe stack up` first")
    click.echo(env_exports(info))
