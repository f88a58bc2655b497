"""How an encoded request reaches a provider: aiohttp's connection pool, or (for tests) any httpx transport.

Why aiohttp, and not httpx's client: httpcore's pool re-scans every connection
on every request, which cost milliseconds of CPU per request at 50-200
connections. aiohttp (already installed with Faust) pools in O(1). Why not
httpx's client on top of aiohttp's pool, as before: building httpx's Request
and Response models around aiohttp's own was ~15% of a worker's CPU at full
load (py-spy, bench/worker_throughput.py). Adapters see neither library: they
build an ``HttpCall`` and read a ``Reply`` (client.py).

``HttpxSender`` sends through an httpx transport instead: httpcore's, or
respx's mock of it, so the adapters' exact requests can be checked in tests.
Both senders raise httpx's exceptions (aiohttp's are translated here), so the
ProviderClient's single translation table stays the one boundary.
``httpx-aiohttp`` exists but maps a server disconnect to ConnectTimeout
(which would hide possible duplicates).
"""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, Protocol

import aiohttp
import httpx
from yarl import URL

__all__ = ["REQUEST_SENT_EVENT", "AiohttpSender", "HttpxSender", "Reply", "Sender", "Trace", "WireRequest"]

REQUEST_SENT_EVENT = "aiohttp.send_request_headers.complete"

# Called with an event name when a step of the request is done (httpcore's trace hook, and aiohttp's
# headers-sent event under the name above): how the client knows whether the provider may have the message.
Trace = Callable[[str, Mapping[str, Any]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class WireRequest:
    """A request encoded to what goes on the wire; headers as sent (no defaults added but Host and framing)."""

    method: str
    url: URL
    headers: Mapping[str, str]
    body: bytes | None


@dataclass(frozen=True, slots=True)
class Reply:
    """A provider's reply: status, headers (case-insensitive), body (decoded from any Content-Encoding)."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


class Sender(Protocol):
    async def send(self, request: WireRequest, *, timeout: float, trace: Trace) -> Reply:
        """Send once; raise httpx's exceptions. The caller enforces the overall deadline."""
        ...

    async def aclose(self) -> None: ...


def _translate(exc: BaseException) -> httpx.HTTPError:
    """The httpx exception that says the same thing as an aiohttp one."""
    message = str(exc) or type(exc).__name__
    if isinstance(exc, aiohttp.ClientProxyConnectionError | aiohttp.ClientHttpProxyError):
        return httpx.ProxyError(message)
    if isinstance(exc, aiohttp.ClientConnectorError):  # DNS, refused, TLS handshake and certificate errors
        return httpx.ConnectError(message)
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return httpx.ConnectTimeout(message)
    if isinstance(exc, aiohttp.SocketTimeoutError):
        return httpx.ReadTimeout(message)
    if isinstance(exc, aiohttp.ServerTimeoutError | asyncio.TimeoutError):
        return httpx.TimeoutException(message)
    if isinstance(exc, aiohttp.InvalidURL):
        return httpx.UnsupportedProtocol(message)
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientResponseError | aiohttp.ClientPayloadError):
        return httpx.RemoteProtocolError(message)
    if isinstance(exc, aiohttp.ClientOSError | aiohttp.ClientConnectionError | OSError):
        return httpx.ReadError(message)
    return httpx.TransportError(message)


async def _on_headers_sent(session: aiohttp.ClientSession, context: SimpleNamespace, params: Any) -> None:
    trace = context.trace_request_ctx
    if trace is not None:
        await trace(REQUEST_SENT_EVENT, {})


class AiohttpSender:
    """One aiohttp ClientSession (created on first use, inside the event loop) for every provider and tenant."""

    def __init__(self, *, max_connections: int, keepalive_expiry: float, verify: bool | str = True) -> None:
        self._max_connections = max_connections
        self._keepalive_expiry = keepalive_expiry
        self._verify = verify
        self._session: aiohttp.ClientSession | None = None
        self._timeouts: dict[float, aiohttp.ClientTimeout] = {}

    def _ssl(self) -> ssl.SSLContext | bool:
        if self._verify is False:
            return False
        context = ssl.create_default_context()
        if isinstance(self._verify, str):
            context.load_verify_locations(self._verify)
        return context

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            trace = aiohttp.TraceConfig()
            trace.on_request_headers_sent.append(_on_headers_sent)
            connector = aiohttp.TCPConnector(
                limit=self._max_connections, limit_per_host=0, keepalive_timeout=self._keepalive_expiry, ssl=self._ssl()
            )
            # No cookie jar: one session serves every tenant, so a stored Set-Cookie would ride along on other
            # tenants' requests to the same host (aiohttp's default jar keeps cookies of named hosts).
            self._session = aiohttp.ClientSession(
                connector=connector, trace_configs=[trace], skip_auto_headers=("User-Agent",),
                cookie_jar=aiohttp.DummyCookieJar(),
            )
        return self._session

    def _timeout(self, seconds: float) -> aiohttp.ClientTimeout:
        # Each step bounded by the whole attempt's deadline, which the caller enforces (adapters have few values).
        timeout = self._timeouts.get(seconds)
        if timeout is None:
            timeout = self._timeouts[seconds] = aiohttp.ClientTimeout(
                total=None, connect=seconds, sock_connect=seconds, sock_read=seconds
            )
        return timeout

    async def send(self, request: WireRequest, *, timeout: float, trace: Trace) -> Reply:
        try:
            async with self._get_session().request(
                request.method,
                request.url,
                headers=request.headers,
                data=request.body,
                allow_redirects=False,
                compress=None,
                timeout=self._timeout(timeout),
                trace_request_ctx=trace,
            ) as response:
                return Reply(response.status, response.headers, await response.read())
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            raise _translate(exc) from exc

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


class HttpxSender:
    """Sends through an httpx transport: ``httpx.AsyncHTTPTransport()`` (httpcore), or respx's mock of it."""

    def __init__(self, transport: httpx.AsyncBaseTransport) -> None:
        self._transport = transport

    async def send(self, request: WireRequest, *, timeout: float, trace: Trace) -> Reply:
        outgoing = httpx.Request(
            request.method, str(request.url), headers=request.headers, content=request.body,
            extensions={"timeout": httpx.Timeout(timeout).as_dict(), "trace": trace},
        )
        response = await self._transport.handle_async_request(outgoing)
        try:
            body = await response.aread()
        finally:
            await response.aclose()
        return Reply(response.status_code, response.headers, body)

    async def aclose(self) -> None:
        await self._transport.aclose()
