"""The simulator's HTTP side: every simulated API under its path prefix, fault injection, and the admin endpoint.

Request pipeline (per provider): outage "drop" closes the connection; latency
is applied; outage "503"; "hang" waits until the fault is cleared; throttling
and the rate limit answer with the provider's 429; ``failure_rate`` answers
with the chosen error kind; otherwise the provider's own handler checks auth
and payload. Every request is recorded (status None when nothing was answered).

Admin endpoint (JSON): ``GET /_sim/health``, ``GET|DELETE /_sim/requests[?provider=]``,
``GET /_sim/stats``, ``GET /_sim/faults``, ``PUT|DELETE /_sim/faults/{provider}``,
``DELETE /_sim/faults``, ``GET|PUT /_sim/credentials``.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import asdict
from typing import Any

from aiohttp import web

from sendpipe.simulator.base import ProviderSim, SimRequest, text_reply
from sendpipe.simulator.email_apis import MailgunSim, ResendSim, SendGridSim, SesSim
from sendpipe.simulator.sms_apis import AfricasTalkingSim, TermiiSim, TwilioSim
from sendpipe.simulator.state import Fault, Recorded, SimCredentials, SimState
from sendpipe.simulator.whatsapp_apis import Dialog360Sim, MetaCloudSim

HANG_LIMIT_SECONDS = 600.0
SMTP_NAME = "smtp"
STATE_KEY: web.AppKey[SimState] = web.AppKey("state", SimState)
EXTRA_KEY: web.AppKey[dict[str, Any]] = web.AppKey("extra", dict)


def default_sims() -> list[ProviderSim]:
    return [SesSim(), SendGridSim(), MailgunSim(), ResendSim(), TwilioSim(), AfricasTalkingSim(), TermiiSim(),
            MetaCloudSim(), Dialog360Sim()]


def _handler(sim: ProviderSim, state: SimState) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handle(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        path = request.raw_path.split("?", 1)[0]
        entry = Recorded(sim.name, request.method, path, request.query_string, dict(request.headers), body, None)
        fault = state.fault(sim.name)
        response: web.Response | None = None
        if fault is not None:
            if fault.outage == "drop":
                state.record(entry)
                if request.transport is not None:
                    request.transport.close()
                raise asyncio.CancelledError  # aiohttp treats this as a lost connection: nothing is written
            delay = fault.latency_seconds()
            if delay > 0:
                await asyncio.sleep(delay)
            if fault.outage == "503":
                response = text_reply("Service Unavailable", status=503, headers={"Retry-After": str(fault.retry_after_seconds)})
            elif fault.hang:
                state.record(entry)
                release = state.release
                try:
                    await asyncio.wait_for(release.wait(), HANG_LIMIT_SECONDS)
                except TimeoutError:
                    pass
                entry = Recorded(sim.name, request.method, path, request.query_string, dict(request.headers), body, None)
            elif fault.throttle or state.over_rate_limit(sim.name):
                response = sim.error("throttle", retry_after=fault.retry_after_seconds)
            elif fault.failure_rate and random.random() < fault.failure_rate:
                response = sim.error(fault.error, retry_after=fault.retry_after_seconds)
        if response is None:
            sreq = SimRequest(request.method, path, request.headers, body, dict(request.match_info), state.credentials)
            response = await sim.handle(sreq)
        entry.status = response.status
        state.record(entry)
        return response

    return handle


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(text=json.dumps(data), status=status, content_type="application/json")


def _admin_routes(state: SimState, names: Iterable[str], extra: dict[str, Any]) -> list[web.RouteDef]:
    known = set(names) | {SMTP_NAME}

    async def health(request: web.Request) -> web.Response:
        return _json({"ok": True, "providers": sorted(known), **extra})

    async def list_requests(request: web.Request) -> web.Response:
        provider = request.query.get("provider")
        limit = int(request.query.get("limit", "1000"))
        records = state.requests(provider)[-limit:]
        return _json([r.to_dict() for r in records])

    async def clear_requests(request: web.Request) -> web.Response:
        state.clear_requests()
        return _json({"cleared": True})

    async def stats(request: web.Request) -> web.Response:
        return _json(state.stats_dict())

    async def list_faults(request: web.Request) -> web.Response:
        return _json({name: fault.to_dict() for name, fault in state.faults.items()})

    async def put_fault(request: web.Request) -> web.Response:
        provider = request.match_info["provider"]
        if provider not in known:
            return _json({"error": f"unknown provider {provider!r}; known: {', '.join(sorted(known))}"}, 404)
        try:
            fault = Fault.from_dict(await request.json())
        except (ValueError, TypeError) as exc:
            return _json({"error": str(exc)}, 400)
        state.set_fault(provider, fault)
        return _json(fault.to_dict())

    async def delete_fault(request: web.Request) -> web.Response:
        state.clear_faults(request.match_info.get("provider"))
        return _json({"cleared": True})

    async def get_credentials(request: web.Request) -> web.Response:
        return _json(asdict(state.credentials))

    async def put_credentials(request: web.Request) -> web.Response:
        try:
            state.credentials = SimCredentials.from_dict({**asdict(state.credentials), **await request.json()})
        except (ValueError, TypeError) as exc:
            return _json({"error": str(exc)}, 400)
        return _json(asdict(state.credentials))

    return [
        web.get("/_sim/health", health),
        web.get("/_sim/requests", list_requests),
        web.delete("/_sim/requests", clear_requests),
        web.get("/_sim/stats", stats),
        web.get("/_sim/faults", list_faults),
        web.put("/_sim/faults/{provider}", put_fault),
        web.delete("/_sim/faults/{provider}", delete_fault),
        web.delete("/_sim/faults", delete_fault),
        web.get("/_sim/credentials", get_credentials),
        web.put("/_sim/credentials", put_credentials),
    ]


def build_app(state: SimState, *, sims: list[ProviderSim] | None = None, extra: dict[str, Any] | None = None) -> web.Application:
    sims = sims if sims is not None else default_sims()
    app = web.Application(client_max_size=1024 * 1024)
    app[STATE_KEY] = state
    for sim in sims:
        handler = _handler(sim, state)
        for method, route in sim.routes:
            app.router.add_route(method, f"/{sim.name}{route}", handler)
    app.add_routes(_admin_routes(state, [s.name for s in sims], extra if extra is not None else {}))
    return app
