"""An httpx transport that sends through aiohttp's connection pool: httpx's API, aiohttp's speed.

Why: httpcore's pool re-scans every connection on every request (and asks
anyio for socket attributes each time), which costs milliseconds of CPU per
request at 50-200 connections; measured on this project's benchmark it kept a
worker to a few hundred sends/s. aiohttp (already installed with Faust) pools
in O(1). Adapters still see only httpx: this is a plug-in at httpx's one
transport method, and aiohttp's exceptions are turned into httpx's here so the
ProviderClient's single translation table stays the one boundary.

``httpx-aiohttp`` exists but maps a server disconnect to ConnectTimeout
(which would hide possible duplicates), hence this small module.
"""

from __future__ import annotations

import asyncio
import ssl
from types import SimpleNamespace
from typing import Any

import aiohttp
import httpx

REQUEST_SENT_EVENT = "aiohttp.send_request_headers.complete"


async def _on_headers_sent(session: aiohttp.ClientSession, context: SimpleNamespace, params: Any) -> None:
    trace = context.trace_request_ctx
    if trace is not None:
        await trace(REQUEST_SENT_EVENT, {})


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


class AiohttpTransport(httpx.AsyncBaseTransport):
    """One aiohttp ClientSession (created on first use, inside the event loop) behind an httpx client."""

    def __init__(self, *, limits: httpx.Limits, verify: bool | str = True) -> None:
        self._limits = limits
        self._verify = verify
        self._session: aiohttp.ClientSession | None = None

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
                limit=self._limits.max_connections or 0,
                limit_per_host=0,
                keepalive_timeout=self._limits.keepalive_expiry or 15.0,
                ssl=self._ssl(),
            )
            # No cookie jar: one session serves every tenant, so a stored Set-Cookie would ride along on other
            # tenants' requests to the same host (aiohttp's default jar keeps cookies of named hosts).
            self._session = aiohttp.ClientSession(
                connector=connector, trace_configs=[trace], auto_decompress=False, skip_auto_headers=("User-Agent",),
                cookie_jar=aiohttp.DummyCookieJar(),
            )
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeout = request.extensions.get("timeout", {})
        body = await request.aread()
        try:
            async with self._get_session().request(
                request.method,
                str(request.url),
                headers=[(name.decode("latin-1"), value.decode("latin-1")) for name, value in request.headers.raw],
                data=body or None,
                allow_redirects=False,
                compress=None,
                timeout=aiohttp.ClientTimeout(
                    total=None, connect=timeout.get("pool"), sock_connect=timeout.get("connect"),
                    sock_read=timeout.get("read"),
                ),
                trace_request_ctx=request.extensions.get("trace"),
            ) as response:
                content = await response.read()
                headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in response.raw_headers]
                status = response.status
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            raise _translate(exc) from exc
        return httpx.Response(status, headers=headers, content=content, request=request,
                              extensions={"http_version": b"HTTP/1.1"})

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
