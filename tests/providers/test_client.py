"""The shared client: every httpx exception mapped, deadlines, refused connections, Retry-After, scrubbing."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

import sendpipe.providers as providers
from sendpipe.core.outcomes import Outcome
from sendpipe.providers.client import EXCEPTION_MAP, HttpCall, ProviderClient, TransportFailure, encode, translate
from sendpipe.providers.result import SendResult, parse_retry_after, scrub

HTTPX_EXCEPTIONS = sorted(
    (getattr(httpx, name) for name in httpx.__all__
     if isinstance(getattr(httpx, name), type) and issubclass(getattr(httpx, name), Exception)),
    key=lambda klass: klass.__name__,
)


def test_public_names_are_complete() -> None:
    exported = {name for name in dir(providers) if not name.startswith("_") and name[0].isupper()}
    assert exported - {"TYPE_CHECKING"} <= set(providers.__all__) | {"ADAPTERS"}
    for name in providers.__all__:
        assert hasattr(providers, name)


@pytest.mark.parametrize("klass", HTTPX_EXCEPTIONS, ids=lambda k: k.__name__)
def test_every_httpx_exception_is_mapped_explicitly(klass: type[Exception]) -> None:
    assert klass in EXCEPTION_MAP, f"{klass.__name__} has no explicit outcome"
    if klass is httpx.HTTPStatusError:
        exc: Exception = klass("boom", request=httpx.Request("GET", "http://x"), response=httpx.Response(500))
    elif klass in (httpx.RequestNotRead, httpx.ResponseNotRead, httpx.StreamClosed, httpx.StreamConsumed):
        exc = klass()
    else:
        exc = klass("boom")
    failure = translate(exc, request_sent=True, latency_ms=1.0)
    assert isinstance(failure, TransportFailure) and failure.outcome in Outcome


@pytest.mark.parametrize(
    ("klass", "sent", "outcome", "duplicate"),
    [
        (httpx.ConnectError, False, Outcome.FAIL_NETWORK, False),
        (httpx.ConnectTimeout, False, Outcome.FAIL_NETWORK, False),
        (httpx.PoolTimeout, False, Outcome.FAIL_NETWORK, False),
        (httpx.ReadTimeout, True, Outcome.FAIL_NETWORK, True),
        (httpx.WriteTimeout, False, Outcome.FAIL_NETWORK, False),
        (httpx.RemoteProtocolError, True, Outcome.FAIL_NETWORK, True),
        (httpx.RemoteProtocolError, False, Outcome.FAIL_NETWORK, False),
        (httpx.ReadError, True, Outcome.FAIL_NETWORK, True),
        (httpx.DecodingError, True, Outcome.FAIL_PROVIDER, True),
        (httpx.UnsupportedProtocol, False, Outcome.FAIL_NETWORK, False),
    ],
)
def test_duplicates_only_when_the_request_may_have_arrived(
    klass: type[Exception], sent: bool, outcome: Outcome, duplicate: bool
) -> None:
    failure = translate(klass("x"), request_sent=sent, latency_ms=0.0)
    assert (failure.outcome, failure.possible_duplicate) == (outcome, duplicate)


def test_non_httpx_exceptions_are_not_swallowed() -> None:
    with pytest.raises(TypeError):
        translate(ValueError("bug"), request_sent=False, latency_ms=0.0)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("7", 7.0), ("0.5", 0.5), (None, None), ("", None), ("soon", None), ("-3", 0.0), ("99999", 3600.0),
     ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0)],
)
def test_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value) == expected


def test_retry_after_http_date_in_the_future() -> None:
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now=1445412480.0) == 30.0


def test_scrub_removes_secrets() -> None:
    result = SendResult(outcome=Outcome.FAIL_AUTH, error="key sk-123456 rejected")
    assert scrub(result, ["sk-123456"]).error == "key *** rejected"


@pytest.fixture(params=["aiohttp", "httpcore"])
async def client(request: pytest.FixtureRequest) -> AsyncIterator[ProviderClient]:
    """Both transports must fail the same way."""
    transport = httpx.AsyncHTTPTransport() if request.param == "httpcore" else None
    async with ProviderClient(transport=transport) as provider_client:
        yield provider_client


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_refused_connection_is_a_network_failure_without_duplicate(client: ProviderClient) -> None:
    call = HttpCall(method="POST", url=f"http://127.0.0.1:{_free_port()}/x", json_body={})
    with pytest.raises(TransportFailure) as caught:
        await client.execute(call, timeout=2.0)
    assert caught.value.outcome is Outcome.FAIL_NETWORK and not caught.value.possible_duplicate


@pytest.fixture
async def closing_server() -> AsyncIterator[int]:
    """Reads a whole request, then closes the connection without answering."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        await reader.read(2)
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()


async def test_disconnect_after_the_request_is_a_possible_duplicate(client: ProviderClient, closing_server: int) -> None:
    call = HttpCall(method="POST", url=f"http://127.0.0.1:{closing_server}/x", json_body={})
    with pytest.raises(TransportFailure) as caught:
        await client.execute(call, timeout=2.0)
    assert caught.value.outcome is Outcome.FAIL_NETWORK and caught.value.possible_duplicate


@pytest.fixture
async def silent_server() -> AsyncIterator[int]:
    """Accepts and reads, never answers."""
    done = asyncio.Event()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await done.wait()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    done.set()
    server.close()
    await server.wait_closed()


async def test_deadline_covers_the_whole_attempt(client: ProviderClient, silent_server: int) -> None:
    call = HttpCall(method="POST", url=f"http://127.0.0.1:{silent_server}/x", json_body={"a": 1})
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(TransportFailure) as caught:
        await client.execute(call, timeout=0.3)
    assert loop.time() - started < 2.0
    assert caught.value.outcome is Outcome.FAIL_NETWORK and caught.value.possible_duplicate
    assert caught.value.latency_ms >= 250


@pytest.fixture
async def cookie_server() -> AsyncIterator[tuple[int, list[bytes]]]:
    """Answers 200 with a Set-Cookie; records each request's head."""
    heads: list[bytes] = []
    writers: list[asyncio.StreamWriter] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                heads.append(head)
                length = next((int(line.split(b":")[1]) for line in head.lower().split(b"\r\n")
                               if line.startswith(b"content-length:")), 0)
                await reader.readexactly(length)
                writer.write(b"HTTP/1.1 200 OK\r\nSet-Cookie: session=tenant-a; Path=/\r\nContent-Length: 2\r\n\r\n{}")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1], heads
    # The pooled client keeps its connection open: close our side so no transport outlives the loop.
    for writer in writers:
        writer.close()
        await writer.wait_closed()
    server.close()
    await server.wait_closed()


async def test_reply_cookies_are_never_kept_or_sent(client: ProviderClient, cookie_server: tuple[int, list[bytes]]) -> None:
    """One client serves every tenant: a provider's Set-Cookie must not ride along on later requests.

    By host name: aiohttp's default cookie jar ignores cookies from IP addresses, so 127.0.0.1 would hide a jar.
    """
    port, heads = cookie_server
    call = HttpCall(method="POST", url=f"http://localhost:{port}/x", json_body={})
    for _ in range(2):
        reply, _ = await client.execute(call, timeout=2.0)
        assert reply.status == 200
    assert len(heads) == 2 and all(b"cookie:" not in head.lower() for head in heads)


# -- encoding: what goes on the wire is what httpx would have sent ------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        HttpCall(method="POST", url="https://api.example.com/v3/mail/send", json_body={"é": [1, 2.5, None], "b": "ü"}),
        HttpCall(method="POST", url="https://api.example.com/sms", form={"To": "+2547", "Body": "a b&c=é"}),
        HttpCall(method="POST", url="https://api.example.com/m", json_body={}, auth=("AC123", "tok:en")),
        HttpCall(method="GET", url="https://api.example.com/x?y=1", headers={"Accept": "application/json"}),
    ],
    ids=["json", "form", "basic-auth", "no-body"],
)
def test_encoded_request_matches_httpx(call: HttpCall) -> None:
    wire = encode(call)
    expected = httpx.Request(call.method, call.url, json=call.json_body, data=call.form, headers=dict(call.headers))
    if isinstance(call.auth, tuple):
        expected = next(httpx.BasicAuth(*call.auth).sync_auth_flow(expected))
    assert (wire.method, str(wire.url), wire.body or b"") == (expected.method, str(expected.url), expected.content)
    sent = {name.lower(): value for name, value in wire.headers.items()}
    for name in ("content-type", "authorization", "accept"):
        assert sent.get(name) == expected.headers.get(name)
    assert sent["user-agent"] == "sendpipe/0.1"


def test_a_signing_auth_signs_the_encoded_body() -> None:
    class Signing(httpx.Auth):
        def auth_flow(self, request: httpx.Request) -> Any:
            request.headers["X-Signed"] = f"{request.method} {request.url.host} {len(request.content)}"
            yield request

    wire = encode(HttpCall(method="POST", url="https://email.eu-west-1.amazonaws.com/v2", json_body={"a": 1}, auth=Signing()))
    assert wire.headers["x-signed"] == "POST email.eu-west-1.amazonaws.com 7" and wire.body == b'{"a":1}'


@pytest.mark.parametrize(
    ("call", "summary"),
    [
        (HttpCall(method="POST", url="http://[::1/x"), "invalid URL"),
        (HttpCall(method="POST", url="ftp://example.com/x"), "unsupported URL scheme"),
        (HttpCall(method="POST", url="/relative"), "unsupported URL scheme"),
        (HttpCall(method="POST", url="https://x.test/", headers={"X-Key": "a\r\nInjected: 1"}), "could not encode the request"),
        (HttpCall(method="POST", url="https://x.test/", headers={"Bad Name": "v"}), "could not encode the request"),
        (HttpCall(method="POST", url="https://x.test/", headers={"X-Key": "clé"}), "could not encode the request"),
        (HttpCall(method="POST", url="https://x.test/", json_body={"n": float("nan")}), "could not encode the request"),
        (HttpCall(method="POST", url="https://x.test/", auth=("us:er", "pw")), "could not encode the request"),
    ],
    ids=["bad-ipv6", "ftp", "relative", "header-injection", "header-name", "non-ascii-value", "nan", "colon-user"],
)
def test_calls_that_cannot_be_encoded_fail_before_sending(call: HttpCall, summary: str) -> None:
    with pytest.raises(TransportFailure) as caught:
        ProviderClient().prepare(call, timeout=1.0)
    assert caught.value.summary == summary and caught.value.outcome is Outcome.FAIL_NETWORK
    assert not caught.value.possible_duplicate
