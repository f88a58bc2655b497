"""The one HTTP client of a worker: pooled connections, explicit timeouts, errors translated at the boundary.

Every adapter's HTTP goes through ``ProviderClient`` (``prepare`` encodes the
request, ``send`` sends it; ``execute`` does both): it times the attempt,
enforces the per-attempt deadline (connect to last byte), and turns each
transport exception (httpx's vocabulary, see transport.py) into a
``TransportFailure`` carrying the outcome (ARCHITECTURE.md §5). Whether the
request was fully written is taken from the transport's trace hook, so a
failure after the provider may have accepted the message is marked
``possible_duplicate``.
"""

from __future__ import annotations

import asyncio
import json
import string
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any
from urllib.parse import urlencode

import aiohttp
import httpx
from yarl import URL

from sendpipe.core.outcomes import Outcome
from sendpipe.providers.transport import REQUEST_SENT_EVENT, AiohttpSender, HttpxSender, Reply, Sender, WireRequest

__all__ = ["EXCEPTION_MAP", "HttpCall", "PreparedCall", "ProviderClient", "Reply", "TransportFailure"]

USER_AGENT = "sendpipe/0.1"


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpCall:
    """One request, fully built by an adapter. At most one of json_body / form (none: no body).

    ``auth``: a (user, password) pair for Basic auth, or an httpx ``Auth`` that signs the request (SES's SigV4).
    """

    method: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    json_body: Any = None
    form: Mapping[str, str] | None = None
    auth: httpx.Auth | tuple[str, str] | None = None


class TransportFailure(Exception):
    """No usable HTTP reply: what happened, whether the provider may have the message, how long it took."""

    def __init__(self, outcome: Outcome, summary: str, *, possible_duplicate: bool, latency_ms: float) -> None:
        super().__init__(summary)
        self.outcome = outcome
        self.summary = summary
        self.possible_duplicate = possible_duplicate
        self.latency_ms = latency_ms


# exact httpx exception class -> (outcome, summary, possible duplicate if the request was written).
# "None" for the last item: decide from the trace (was the whole request written?).
EXCEPTION_MAP: dict[type[BaseException], tuple[Outcome, str, bool | None]] = {
    httpx.ConnectTimeout: (Outcome.FAIL_NETWORK, "connect timeout", False),
    httpx.ConnectError: (Outcome.FAIL_NETWORK, "connection failed", False),
    httpx.PoolTimeout: (Outcome.FAIL_NETWORK, "no free connection in the pool before the deadline", False),
    httpx.ProxyError: (Outcome.FAIL_NETWORK, "proxy error", False),
    httpx.UnsupportedProtocol: (Outcome.FAIL_NETWORK, "unsupported URL scheme", False),
    httpx.InvalidURL: (Outcome.FAIL_NETWORK, "invalid URL", False),
    httpx.LocalProtocolError: (Outcome.FAIL_NETWORK, "could not encode the request", False),
    httpx.WriteTimeout: (Outcome.FAIL_NETWORK, "write timeout", None),
    httpx.WriteError: (Outcome.FAIL_NETWORK, "write error", None),
    httpx.ReadTimeout: (Outcome.FAIL_NETWORK, "read timeout: no reply in time", True),
    httpx.ReadError: (Outcome.FAIL_NETWORK, "read error", None),
    httpx.CloseError: (Outcome.FAIL_NETWORK, "error closing the connection", None),
    httpx.RemoteProtocolError: (Outcome.FAIL_NETWORK, "server broke the HTTP protocol or disconnected", None),
    httpx.NetworkError: (Outcome.FAIL_NETWORK, "network error", None),
    httpx.TimeoutException: (Outcome.FAIL_NETWORK, "timeout", None),
    httpx.ProtocolError: (Outcome.FAIL_NETWORK, "protocol error", None),
    httpx.TransportError: (Outcome.FAIL_NETWORK, "transport error", None),
    httpx.DecodingError: (Outcome.FAIL_PROVIDER, "could not decode the reply body", True),
    httpx.TooManyRedirects: (Outcome.FAIL_PROVIDER, "too many redirects", None),
    httpx.RequestError: (Outcome.FAIL_NETWORK, "request error", None),
    httpx.HTTPStatusError: (Outcome.FAIL_PROVIDER, "HTTP error status", True),
    httpx.HTTPError: (Outcome.FAIL_PROVIDER, "HTTP error", None),
    httpx.CookieConflict: (Outcome.FAIL_PROVIDER, "cookie conflict", False),
    httpx.StreamConsumed: (Outcome.FAIL_PROVIDER, "request stream already consumed", False),
    httpx.StreamClosed: (Outcome.FAIL_PROVIDER, "stream closed", None),
    httpx.ResponseNotRead: (Outcome.FAIL_PROVIDER, "response not read", True),
    httpx.RequestNotRead: (Outcome.FAIL_PROVIDER, "request not read", False),
    httpx.StreamError: (Outcome.FAIL_PROVIDER, "stream error", None),
}


def translate(exc: BaseException, *, request_sent: bool, latency_ms: float) -> TransportFailure:
    """The TransportFailure for an httpx exception (most specific class in EXCEPTION_MAP wins)."""
    for klass in type(exc).__mro__:
        if klass in EXCEPTION_MAP:
            outcome, summary, duplicate = EXCEPTION_MAP[klass]
            break
    else:  # not an httpx exception: let it propagate as a bug
        raise TypeError(f"not an httpx exception: {type(exc).__name__}") from exc
    return TransportFailure(
        outcome, summary, possible_duplicate=request_sent if duplicate is None else duplicate, latency_ms=latency_ms
    )


# What httpx raises (InvalidURL, CookieConflict and the stream errors are not HTTPError subclasses).
_HTTPX_ERRORS = (httpx.HTTPError, httpx.InvalidURL, httpx.CookieConflict, httpx.StreamError)

_TOKEN = frozenset(string.ascii_letters + string.digits + "!#$%&'*+-.^_`|~")  # what a header name may hold


class _SentTracker:
    """Trace hook: notes when the request has been fully written (httpcore's event, or aiohttp's)."""

    __slots__ = ("sent",)

    def __init__(self) -> None:
        self.sent = False

    async def __call__(self, event: str, info: Mapping[str, Any]) -> None:
        if event.endswith("send_request_body.complete") or event == REQUEST_SENT_EVENT:
            self.sent = True


@dataclass(frozen=True, slots=True)
class PreparedCall:
    """An HttpCall encoded by ``ProviderClient.prepare``; send it once."""

    request: WireRequest
    timeout: float
    tracker: _SentTracker


def encode(call: HttpCall) -> WireRequest:
    """The request as it goes on the wire: URL checked, body encoded as httpx would, auth applied.

    Raises httpx's InvalidURL, UnsupportedProtocol or LocalProtocolError when the call cannot be sent.
    """
    try:
        url = URL(call.url)
    except ValueError as exc:
        raise httpx.InvalidURL(str(exc)) from exc
    if url.scheme not in ("http", "https") or not url.host:
        raise httpx.UnsupportedProtocol(f"not an http(s) URL: {url.scheme or 'no scheme'}")
    headers = {"User-Agent": USER_AGENT, **call.headers}
    for name, value in headers.items():
        if not name or not _TOKEN.issuperset(name) or not value.isascii() or not value.isprintable():
            raise httpx.LocalProtocolError(f"invalid header {name!r}")
    body: bytes | None = None
    if call.json_body is not None:
        try:
            body = json.dumps(call.json_body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
        except (TypeError, ValueError) as exc:
            raise httpx.LocalProtocolError(f"body is not JSON: {exc}") from exc
        content_type = "application/json"
    elif call.form is not None:
        body = urlencode(list(call.form.items())).encode()
        content_type = "application/x-www-form-urlencoded"
    if body is not None and not any(name.lower() == "content-type" for name in headers):
        headers["Content-Type"] = content_type
    if isinstance(call.auth, tuple):
        try:
            headers["Authorization"] = aiohttp.encode_basic_auth(*call.auth)
        except ValueError as exc:  # a colon in the user name
            raise httpx.LocalProtocolError("invalid Basic auth user") from exc
    elif call.auth is not None:
        # Signed over the URL exactly as aiohttp will send it (yarl's encoding of the path and query).
        signing = httpx.Request(call.method, str(url), headers=headers, content=body)
        headers = dict(next(call.auth.sync_auth_flow(signing)).headers)
    return WireRequest(call.method, url, headers, body)


class ProviderClient:
    """One per worker process; share it across adapters and messages. Use as an async context manager or call aclose().

    Requests go through aiohttp's pool (see transport.py); pass ``transport=httpx.AsyncHTTPTransport()``
    to send through httpx's own (respx mocks that one).
    """

    def __init__(
        self,
        *,
        max_connections: int = 200,
        keepalive_expiry: float = 30.0,
        verify: bool | str = True,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._sender: Sender = (
            HttpxSender(transport) if transport is not None
            else AiohttpSender(max_connections=max_connections, keepalive_expiry=keepalive_expiry, verify=verify)
        )

    async def execute(self, call: HttpCall, *, timeout: float) -> tuple[Reply, float]:
        """Send one request; return the reply and its latency in ms, or raise TransportFailure."""
        return await self.send(self.prepare(call, timeout=timeout))

    def prepare(self, call: HttpCall, *, timeout: float) -> PreparedCall:
        """Encode the request now, to ``send`` once later (many encoded back to back run in warm caches).

        Raises TransportFailure when the call cannot be encoded (e.g. an invalid URL or header).
        """
        try:
            request = encode(call)
        except _HTTPX_ERRORS as exc:
            raise translate(exc, request_sent=False, latency_ms=0.0) from exc
        return PreparedCall(request, timeout, _SentTracker())

    async def send(self, prepared: PreparedCall) -> tuple[Reply, float]:
        """Send a prepared request; return the reply and its latency in ms (from now), or raise TransportFailure."""
        tracker = prepared.tracker
        started = time.perf_counter()
        try:
            async with asyncio.timeout(prepared.timeout):
                reply = await self._sender.send(prepared.request, timeout=prepared.timeout, trace=tracker)
        except TimeoutError:
            latency = (time.perf_counter() - started) * 1000
            summary = "no reply before the deadline" if tracker.sent else "deadline passed before the request was sent"
            raise TransportFailure(
                Outcome.FAIL_NETWORK, summary, possible_duplicate=tracker.sent, latency_ms=latency
            ) from None
        except _HTTPX_ERRORS as exc:
            raise translate(exc, request_sent=tracker.sent, latency_ms=(time.perf_counter() - started) * 1000) from exc
        return reply, (time.perf_counter() - started) * 1000

    async def aclose(self) -> None:
        await self._sender.aclose()

    async def __aenter__(self) -> ProviderClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
