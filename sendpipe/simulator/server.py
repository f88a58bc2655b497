"""Run the simulator: in-process on the caller's event loop (tests), or as a child process (benchmarks, demo).

``Simulator`` is the Python API: start/stop, the base URL of each provider,
ready-made credentials and settings per package, recorded requests, faults.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import urllib.request
from dataclasses import asdict
from types import TracebackType
from typing import Any

from aiohttp import web

from sendpipe.simulator.app import build_app
from sendpipe.simulator.smtp import SmtpServers
from sendpipe.simulator.state import Fault, Recorded, SimCredentials, SimState

# package -> the provider prefix it is served under
PACKAGE_PATHS: dict[str, str] = {
    "provider-ses": "ses",
    "provider-sendgrid": "sendgrid",
    "provider-mailgun": "mailgun",
    "provider-resend": "resend",
    "provider-smtp": "smtp",
    "provider-meta-cloud": "meta",
    "provider-360dialog": "360dialog",
    "provider-twilio-whatsapp": "twilio",
    "provider-africastalking": "africastalking",
    "provider-twilio-sms": "twilio",
    "provider-termii": "termii",
}


def package_config(package: str, *, http_url: str, credentials: SimCredentials, smtp_host: str = "127.0.0.1",
                   smtp_port: int = 0) -> dict[str, dict[str, Any]]:
    """Credentials and settings (snake_case field names) that make ``package`` talk to this simulator."""
    c = credentials
    base = {"base_url": f"{http_url}/{PACKAGE_PATHS[package]}"}
    configs: dict[str, dict[str, dict[str, Any]]] = {
        "provider-ses": {"credentials": {"access_key_id": c.ses_access_key_id, "secret_access_key": c.ses_secret_access_key},
                         "settings": {**base, "region": "us-east-1", "from": "noreply@acme.example"}},
        "provider-sendgrid": {"credentials": {"api_key": c.sendgrid_api_key},
                              "settings": {**base, "from": "Acme <noreply@acme.example>"}},
        "provider-mailgun": {"credentials": {"api_key": c.mailgun_api_key},
                             "settings": {**base, "domain": (c.mailgun_domains or ("mg.acme.example",))[0],
                                          "from": "Acme <noreply@mg.acme.example>"}},
        "provider-resend": {"credentials": {"api_key": c.resend_api_key},
                            "settings": {**base, "from": "Acme <noreply@acme.example>"}},
        "provider-smtp": {"credentials": {"username": c.smtp_username, "password": c.smtp_password},
                          "settings": {"host": smtp_host, "port": smtp_port, "security": "starttls",
                                       "from": "noreply@acme.example"}},
        "provider-meta-cloud": {"credentials": {"access_token": c.meta_access_token},
                                "settings": {**base, "phone_number_id": (c.meta_phone_number_ids or ("106540352242922",))[0]}},
        "provider-360dialog": {"credentials": {"api_key": c.dialog360_api_key}, "settings": base},
        "provider-twilio-whatsapp": {"credentials": {"account_sid": c.twilio_account_sid, "auth_token": c.twilio_auth_token},
                                     "settings": {**base, "from": "+14155238886"}},
        "provider-africastalking": {"credentials": {"username": c.africastalking_username, "api_key": c.africastalking_api_key},
                                    "settings": {**base, "environment": "sandbox"}},
        "provider-twilio-sms": {"credentials": {"account_sid": c.twilio_account_sid, "auth_token": c.twilio_auth_token},
                                "settings": {**base, "from": "+15005550006"}},
        "provider-termii": {"credentials": {"api_key": c.termii_api_key}, "settings": {**base, "from": "Acme", "route": "dnd"}},
    }
    return configs[package]


class Simulator:
    """All simulated provider APIs on one loopback port, plus SMTP. ``async with Simulator() as sim: ...``"""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, smtp_port: int = 0, smtp_tls_port: int = 0,
                 credentials: SimCredentials | None = None, record_limit: int = 10_000, smtp: bool = True) -> None:
        self.state = SimState(credentials, record_limit=record_limit)
        self.host, self._port = host, port
        self._extra: dict[str, Any] = {}
        self._app = build_app(self.state, extra=self._extra)
        self._runner: web.AppRunner | None = None
        self.smtp = SmtpServers(self.state, host=host, port=smtp_port, tls_port=smtp_tls_port) if smtp else None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def base_url(self, provider: str) -> str:
        return f"{self.url}/{PACKAGE_PATHS.get(provider, provider)}"

    async def start(self) -> Simulator:
        self._runner = web.AppRunner(self._app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self._port, backlog=1024)
        await site.start()
        server = site._server
        assert isinstance(server, asyncio.Server)
        self.port = server.sockets[0].getsockname()[1]
        self._extra["http"] = self.url
        if self.smtp is not None:
            await self.smtp.start()
            self._extra.update(smtp=f"{self.host}:{self.smtp.port}", smtps=f"{self.host}:{self.smtp.tls_port}",
                               smtp_ca_file=str(self.smtp.cert_file))
        return self

    async def stop(self) -> None:
        self.state.clear_faults()  # releases hung requests
        if self.smtp is not None:
            await self.smtp.stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Simulator:
        return await self.start()

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.stop()

    # ---- Python API
    def addresses(self) -> dict[str, Any]:
        return dict(self._extra)

    def config(self, package: str) -> dict[str, dict[str, Any]]:
        """Credentials and settings for ``package`` pointing at this simulator (snake_case keys)."""
        smtp_port = self.smtp.port if self.smtp is not None else 0
        return package_config(package, http_url=self.url, credentials=self.state.credentials,
                              smtp_host=self.host, smtp_port=smtp_port)

    def requests(self, provider: str | None = None) -> list[Recorded]:
        return self.state.requests(PACKAGE_PATHS.get(provider, provider) if provider else None)

    def clear_requests(self) -> None:
        self.state.clear_requests()

    def set_fault(self, provider: str, fault: Fault | None = None, **fields: Any) -> Fault:
        fault = fault if fault is not None else Fault(**fields)
        self.state.set_fault(PACKAGE_PATHS.get(provider, provider), fault)
        return fault

    def clear_faults(self, provider: str | None = None) -> None:
        self.state.clear_faults(PACKAGE_PATHS.get(provider, provider) if provider else None)

    def stats(self) -> dict[str, dict[str, int]]:
        return self.state.stats_dict()


class SimulatorProcess:
    """The simulator in a child process (its own core and event loop); reads its addresses from the first line."""

    def __init__(self, *, credentials: SimCredentials | None = None, record_limit: int = 10_000) -> None:
        self._credentials = credentials or SimCredentials()
        self._record_limit = record_limit
        self._proc: subprocess.Popen[str] | None = None
        self.addresses: dict[str, Any] = {}

    def start(self) -> SimulatorProcess:
        command = [sys.executable, "-m", "sendpipe.simulator", "run", "--port", "0", "--json",
                   "--record-limit", str(self._record_limit),
                   "--credentials-json", json.dumps(asdict(self._credentials))]
        self._proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if not line:
            self.stop()
            raise RuntimeError("the simulator process exited before it printed its addresses")
        self.addresses = json.loads(line)
        return self

    @property
    def url(self) -> str:
        return str(self.addresses["http"])

    def config(self, package: str) -> dict[str, dict[str, Any]]:
        host, _, port = str(self.addresses.get("smtp", "127.0.0.1:0")).partition(":")
        return package_config(package, http_url=self.url, credentials=self._credentials, smtp_host=host, smtp_port=int(port))

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{self.url}/_sim/{path}", data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def set_fault(self, provider: str, **fields: Any) -> Any:
        return self.admin("PUT", f"faults/{PACKAGE_PATHS.get(provider, provider)}", fields)

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            if self._proc.stdout is not None:
                self._proc.stdout.close()
            self._proc = None

    def __enter__(self) -> SimulatorProcess:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
