"""``sendpipe simulator``: serve the simulated provider APIs and SMTP, and steer a running simulator.

``run`` serves everything and prints its addresses; ``fault``, ``clear``,
``stats`` and ``requests`` talk to a running simulator's admin endpoint.
"""

from __future__ import annotations

import asyncio
import json
import signal
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import click
import yaml

from sendpipe.simulator.state import ERROR_KINDS, SimCredentials

DEFAULT_PORT = 4010
DEFAULT_URL = f"http://127.0.0.1:{DEFAULT_PORT}"


def _credentials(path: Path | None, inline: str | None) -> SimCredentials:
    data: dict[str, Any] = {}
    if path is not None:
        data.update(yaml.safe_load(path.read_text()) or {})
    if inline:
        data.update(json.loads(inline))
    return SimCredentials.from_dict(data)


async def _serve(*, host: str, port: int, smtp_port: int, smtps_port: int, credentials: SimCredentials,
                 record_limit: int, as_json: bool) -> None:
    from sendpipe.simulator.server import Simulator

    simulator = Simulator(host=host, port=port, smtp_port=smtp_port, smtp_tls_port=smtps_port,
                          credentials=credentials, record_limit=record_limit)
    await simulator.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    addresses = simulator.addresses()
    if as_json:
        click.echo(json.dumps(addresses), nl=True)
    else:
        click.echo(f"SendPipe provider simulator on {addresses['http']}")
        for package in ("provider-ses", "provider-sendgrid", "provider-mailgun", "provider-resend", "provider-meta-cloud",
                        "provider-360dialog", "provider-twilio-sms", "provider-africastalking", "provider-termii"):
            click.echo(f"  {package:<26} baseUrl {simulator.base_url(package)}")
        click.echo(f"  {'provider-smtp':<26} STARTTLS {addresses.get('smtp')}  implicit TLS {addresses.get('smtps')}")
        click.echo(f"  admin: {addresses['http']}/_sim/ (requests, faults, stats, credentials)")
    try:
        await stop.wait()
    finally:
        await simulator.stop()


@click.group()
def simulator() -> None:
    """A local stand-in for the ten provider HTTP APIs and an SMTP server, with fault injection."""


@simulator.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Loopback address to listen on.")
@click.option("--port", default=DEFAULT_PORT, show_default=True, help="HTTP port (0: any free port).")
@click.option("--smtp-port", default=0, help="SMTP (STARTTLS) port; 0: any free port.")
@click.option("--smtps-port", default=0, help="SMTP implicit-TLS port; 0: any free port.")
@click.option("--credentials", "credentials_file", type=click.Path(path_type=Path, exists=True, dir_okay=False),
              help="YAML/JSON file of accepted credentials (field names of SimCredentials).")
@click.option("--credentials-json", help="Accepted credentials as a JSON object (overrides the file).")
@click.option("--record-limit", default=10_000, show_default=True, help="How many requests to keep for inspection.")
@click.option("--json", "as_json", is_flag=True, help="Print the addresses as one JSON line.")
def run(host: str, port: int, smtp_port: int, smtps_port: int, credentials_file: Path | None,
        credentials_json: str | None, record_limit: int, as_json: bool) -> None:
    """Serve all simulated APIs (path prefix per provider) and SMTP until interrupted."""
    credentials = _credentials(credentials_file, credentials_json)
    asyncio.run(_serve(host=host, port=port, smtp_port=smtp_port, smtps_port=smtps_port, credentials=credentials,
                       record_limit=record_limit, as_json=as_json))


def _admin(url: str, method: str, path: str, body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{url.rstrip('/')}/_sim/{path}", data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        raise click.ClickException(exc.read().decode(errors="replace")) from None
    except urllib.error.URLError as exc:
        raise click.ClickException(f"no simulator at {url}: {exc.reason}") from None


url_option = click.option("--url", default=DEFAULT_URL, show_default=True, help="The running simulator.")


@simulator.command()
@click.argument("provider")
@url_option
@click.option("--failure-rate", type=click.FloatRange(0, 1), default=0.0, help="Share of requests that fail.")
@click.option("--error", type=click.Choice(ERROR_KINDS), default="server_error", show_default=True)
@click.option("--latency-ms", type=float, default=0.0, help="Fixed latency (or the lower bound).")
@click.option("--latency-max-ms", type=float, default=None, help="Uniform latency up to this.")
@click.option("--throttle", is_flag=True, help="Answer every request with 429 and Retry-After.")
@click.option("--rate-limit", type=float, default=None, help="Requests per second before 429s.")
@click.option("--retry-after", type=int, default=1, show_default=True)
@click.option("--outage", type=click.Choice(["503", "drop"]), default=None)
@click.option("--hang", is_flag=True, help="Accept requests and never answer (until cleared).")
def fault(provider: str, url: str, failure_rate: float, error: str, latency_ms: float, latency_max_ms: float | None,
          throttle: bool, rate_limit: float | None, retry_after: int, outage: str | None, hang: bool) -> None:
    """Set the behaviour of PROVIDER (a path prefix such as sendgrid, twilio, smtp)."""
    body = {"failure_rate": failure_rate, "error": error, "latency_ms": latency_ms, "latency_max_ms": latency_max_ms,
            "throttle": throttle, "rate_limit_per_second": rate_limit, "retry_after_seconds": retry_after,
            "outage": outage, "hang": hang}
    click.echo(json.dumps(_admin(url, "PUT", f"faults/{provider}", body)))


@simulator.command()
@click.argument("provider", required=False)
@url_option
def clear(provider: str | None, url: str) -> None:
    """Clear the faults of PROVIDER (or of every provider)."""
    _admin(url, "DELETE", f"faults/{provider}" if provider else "faults")
    click.echo("cleared")


@simulator.command()
@url_option
def stats(url: str) -> None:
    """Requests received, by provider and answered status."""
    click.echo(json.dumps(_admin(url, "GET", "stats"), indent=2))


@simulator.command()
@click.option("--provider", default=None)
@click.option("--limit", default=20, show_default=True)
@url_option
def requests(provider: str | None, limit: int, url: str) -> None:
    """The last requests received (as JSON)."""
    query = f"requests?limit={limit}" + (f"&provider={provider}" if provider else "")
    click.echo(json.dumps(_admin(url, "GET", query), indent=2))
