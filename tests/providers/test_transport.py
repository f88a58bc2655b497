"""The aiohttp sender: aiohttp errors become the right httpx errors, replies arrive intact."""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator

import aiohttp
import httpx
import pytest
from aiohttp import web
from yarl import URL

from sendpipe.providers.transport import REQUEST_SENT_EVENT, AiohttpSender, WireRequest, _translate


class _Key:
    host, port, ssl, is_ssl = "127.0.0.1", 1, None, False


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (aiohttp.ClientConnectorError(_Key(), OSError(111, "refused")), httpx.ConnectError),  # type: ignore[arg-type]
        (aiohttp.ConnectionTimeoutError("connect"), httpx.ConnectTimeout),
        (aiohttp.SocketTimeoutError("read"), httpx.ReadTimeout),
        (aiohttp.ServerTimeoutError("timeout"), httpx.TimeoutException),
        (TimeoutError(), httpx.TimeoutException),
        (aiohttp.ServerDisconnectedError(), httpx.RemoteProtocolError),
        (aiohttp.ClientPayloadError("truncated"), httpx.RemoteProtocolError),
        (aiohttp.ClientOSError(104, "reset"), httpx.ReadError),
        (aiohttp.InvalidURL("nope://"), httpx.UnsupportedProtocol),
        (aiohttp.ClientError("other"), httpx.TransportError),
    ],
    ids=lambda v: type(v).__name__,
)
def test_aiohttp_errors_become_httpx_errors(exc: BaseException, expected: type[Exception]) -> None:
    assert type(_translate(exc)) is expected


@pytest.fixture
async def gzip_server() -> AsyncIterator[str]:
    async def handle(request: web.Request) -> web.Response:
        body = await request.read()
        return web.Response(body=gzip.compress(b'{"echo": %d}' % len(body)), status=201,
                            headers={"Content-Encoding": "gzip", "Content-Type": "application/json", "X-Id": "abc"})

    app = web.Application()
    app.router.add_post("/x", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/x"  # type: ignore[union-attr]
    await runner.cleanup()


async def test_reply_status_headers_and_decoded_body(gzip_server: str) -> None:
    sender = AiohttpSender(max_connections=5, keepalive_expiry=5.0)
    events: list[str] = []

    async def trace(event: str, info: object) -> None:
        events.append(event)

    try:
        request = WireRequest("POST", URL(gzip_server), {"Content-Type": "application/json"}, b'{"a":1}')
        reply = await sender.send(request, timeout=2.0, trace=trace)
    finally:
        await sender.aclose()
    assert reply.status == 201 and reply.headers["x-id"] == "abc" and reply.headers["X-ID"] == "abc"
    assert reply.json() == {"echo": len(b'{"a":1}')}
    assert events == [REQUEST_SENT_EVENT]
