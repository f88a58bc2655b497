"""The one HTTP client of a worker: pooled connections, explicit timeouts, errors translated at the boundary.

Every adapter's HTTP goes through ``ProviderClient`` (``prepare`` builds the
request, ``send`` sends it; ``execute`` does both): it times the
attempt, enforces the per-attempt deadline (connect to last byte), and turns
each httpx exception into a ``TransportFailure`` carrying the outcome
(ARCHITECTURE.md §5). Whether the request was fully written is taken from
httpx's trace hook, so a failure after the provider may have accepted the
message is marked ``possible_duplicate``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import httpx

from sendpipe.core.outcomes import Outcome
from sendpipe.providers.transport import REQUEST_SENT_EVENT, AiohttpTransport

__all__ = ["EXCEPTION_MAP", "HttpCall", "PreparedCall", "ProviderClient", "Reply", "TransportFailure"]

USER_AGENT = "sendpipe/0.1"


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpCall:
    """One request, fully built by an adapter. Exactly one of json_body / form / content (or none)."""

    method: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    json_body: Any = None
    form: Mapping[str, str] | None = None
    auth: httpx.Auth | tuple[str, str] | None = None


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    headers: httpx.Headers
    body: bytes

    def json(self) -> Any:
        import json

        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


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

_READ = httpx.ByteStream(b"")  # stands in for a response's consumed stream


class _SentTracker:
    """httpx trace hook: notes when the request body has been fully written."""

    __slots__ = ("sent",)

    def __init__(self) -> None:
        self.sent = False

    async def __call__(self, event: str, info: Mapping[str, Any]) -> None:
        if event.endswith("send_request_body.complete") or event == REQUEST_SENT_EVENT:
            self.sent = True


class _NoCookies(httpx.Cookies):
    """A cookie jar that never stores anything.

    Why: provider APIs are stateless, and one client serves every tenant and
    credential, so a stored ``Set-Cookie`` would go out with other tenants'
    requests to the same host. It also skips httpx's per-response cookie
    parsing (urllib request/response shims for every reply): ~6% of a worker's
    event-loop CPU, profiled with bench/worker_throughput.py.
    """

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


@dataclass(frozen=True, slots=True)
class PreparedCall:
    """An HttpCall built into an httpx request by ``ProviderClient.prepare``; send it once."""

    request: httpx.Request
    auth: httpx.Auth | tuple[str, str] | None
    timeout: float
    tracker: _SentTracker


class ProviderClient:
    """One per worker process; share it across adapters and messages. Use as an async context manager or call aclose().

    The default transport pools connections with aiohttp (see transport.py); pass
    ``transport=httpx.AsyncHTTPTransport()`` for httpx's own (respx mocks that one).
    """

    def __init__(
        self,
        *,
        max_connections: int = 200,
        max_keepalive_connections: int | None = None,
        keepalive_expiry: float = 30.0,
        verify: bool | str = True,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        limits = httpx.Limits(
            max_connections=max_connections,
            max_keepalive_connections=max_keepalive_connections if max_keepalive_connections is not None else max_connections,
            keepalive_expiry=keepalive_expiry,
        )
        self._http = httpx.AsyncClient(
            limits=limits,
            transport=transport if transport is not None else AiohttpTransport(limits=limits, verify=verify),
            timeout=httpx.Timeout(10.0),
            verify=verify,
            follow_redirects=False,
            trust_env=False,
            headers={"User-Agent": USER_AGENT},
        )
        # httpx has no setting for "no cookie jar" (its setter copies into a plain Cookies); a test
        # checks that replies' cookies are not kept, so an upgrade that renames this fails loudly.
        self._http._cookies = _NoCookies()

    async def execute(self, call: HttpCall, *, timeout: float) -> tuple[Reply, float]:
        """Send one request; return the reply and its latency in ms, or raise TransportFailure."""
        return await self.send(self.prepare(call, timeout=timeout))

    def prepare(self, call: HttpCall, *, timeout: float) -> PreparedCall:
        """Build the httpx request now, to ``send`` once later (many built back to back run in warm caches).

        Raises TransportFailure when the call cannot be encoded (e.g. an invalid URL or header).
        """
        tracker = _SentTracker()
        try:
            request = self._http.build_request(
                call.method,
                call.url,
                headers=dict(call.headers),
                json=call.json_body,
                data=call.form,
                timeout=httpx.Timeout(timeout),
                extensions={"trace": tracker},
            )
        except _HTTPX_ERRORS as exc:
            raise translate(exc, request_sent=False, latency_ms=0.0) from exc
        return PreparedCall(request, call.auth, timeout, tracker)

    async def send(self, prepared: PreparedCall) -> tuple[Reply, float]:
        """Send a prepared request; return the reply and its latency in ms (from now), or raise TransportFailure."""
        tracker = prepared.tracker
        started = time.perf_counter()
        try:
            async with asyncio.timeout(prepared.timeout):
                response = await self._http.send(
                    prepared.request, auth=prepared.auth if prepared.auth is not None else httpx.USE_CLIENT_DEFAULT
                )
        except TimeoutError:
            latency = (time.perf_counter() - started) * 1000
            summary = "no reply before the deadline" if tracker.sent else "deadline passed before the request was sent"
            raise TransportFailure(
                Outcome.FAIL_NETWORK, summary, possible_duplicate=tracker.sent, latency_ms=latency
            ) from None
        except _HTTPX_ERRORS as exc:
            raise translate(exc, request_sent=tracker.sent, latency_ms=(time.perf_counter() - started) * 1000) from exc
        latency = (time.perf_counter() - started) * 1000
        reply = Reply(response.status_code, response.headers, response.content)
        # httpx leaves every response in a reference cycle (response.stream wraps the response itself):
        # ~19 objects per send that only the cyclic GC could free. Breaking it lets reference counting
        # free them at once; the GC's young collections were ~6% of a worker's CPU at full load.
        response.stream = _READ
        return reply, latency

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> ProviderClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
