"""The adapter contract, and the base class that HTTP adapters fill in with two hooks.

An adapter is a class of constants plus ``build`` (SendRequest + credentials +
settings -> the exact documented HTTP request) and ``interpret`` (the reply ->
one SendResult). ``HttpAdapter.send`` does the rest the same way for every
provider: one call through the shared ProviderClient, transport failures and
malformed replies mapped, latency recorded, credentials scrubbed from errors.
``prepare`` splits ``send`` in two: the request is built now and sent when the
returned object's ``send`` is awaited, so a caller can build many requests
back to back (the worker does, per chunk of fetched messages).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, runtime_checkable

from sendpipe.core.catalog import Credentials, Settings
from sendpipe.core.messages import EmailRequest, SmsRequest, WhatsAppRequest
from sendpipe.core.outcomes import Channel, Outcome
from sendpipe.providers.client import HttpCall, PreparedCall, ProviderClient, Reply, TransportFailure
from sendpipe.providers.result import SendResult, failure, parse_retry_after, scrub, secret_values, summarize

log = logging.getLogger("sendpipe.providers")

AnyRequest = EmailRequest | SmsRequest | WhatsAppRequest


class MalformedReply(ValueError):
    """The provider answered with a body we cannot read: FAIL_PROVIDER."""


class ConfigurationError(ValueError):
    """Credentials or settings of the wrong package were passed to an adapter (a caller bug)."""


@runtime_checkable
class Adapter(Protocol):
    """What the worker calls. ``supports`` lets a router skip a package that cannot send a request at all."""

    @property
    def package(self) -> str: ...

    @property
    def channel(self) -> Channel: ...

    def supports(self, request: AnyRequest) -> bool: ...

    async def send(
        self, request: AnyRequest, *, credentials: Credentials, settings: Settings, client: ProviderClient
    ) -> SendResult:
        """One attempt, mapped onto an outcome; returns within ``settings.timeout_seconds`` (plus connection
        teardown): the worker sets no timer of its own."""
        ...

    def prepare(
        self, request: AnyRequest, *, credentials: Credentials, settings: Settings, client: ProviderClient
    ) -> PreparedSend:
        """``send`` in two steps: the part that needs no I/O now (an HTTP adapter builds its request), the
        rest when the returned object's ``send`` is awaited (once)."""
        ...


class PreparedSend(Protocol):
    async def send(self) -> SendResult: ...


@dataclass(frozen=True, slots=True)
class SendLater:
    """The ``prepare`` of an adapter with nothing to do ahead: the whole ``send`` runs later."""

    adapter: Adapter
    request: AnyRequest
    credentials: Credentials
    settings: Settings
    client: ProviderClient

    async def send(self) -> SendResult:
        return await self.adapter.send(self.request, credentials=self.credentials, settings=self.settings, client=self.client)


@dataclass(frozen=True, slots=True)
class _Decided:
    result: SendResult

    async def send(self) -> SendResult:
        return self.result


@dataclass(frozen=True, slots=True)
class _HttpSend:
    adapter: HttpAdapter
    request: AnyRequest
    credentials: Credentials
    client: ProviderClient
    prepared: PreparedCall | TransportFailure  # the failure when the request could not even be built

    async def send(self) -> SendResult:
        result = await self._result()
        if result.error is not None:
            result = scrub(result, secret_values(self.credentials))
        log_attempt(self.adapter.package, self.request, result)
        return result

    async def _result(self) -> SendResult:
        if isinstance(self.prepared, TransportFailure):
            return _failed(self.prepared)
        try:
            reply, latency = await self.client.send(self.prepared)
        except TransportFailure as exc:
            return _failed(exc)
        try:
            result = self.adapter.interpret(reply)
        except (MalformedReply, ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
            result = failure(Outcome.FAIL_PROVIDER, f"malformed reply (HTTP {reply.status}): {exc}", status=reply.status)
        return result.with_latency(latency)


def _failed(exc: TransportFailure) -> SendResult:
    return SendResult(outcome=exc.outcome, error=exc.summary, possible_duplicate=exc.possible_duplicate).with_latency(
        exc.latency_ms
    )


class HttpAdapter:
    """Base of the HTTP adapters. Subclasses set the constants and implement build() and interpret()."""

    package: ClassVar[str]
    channel: ClassVar[Channel]
    credentials_type: ClassVar[type[Credentials]]
    settings_type: ClassVar[type[Settings]]
    default_base_url: ClassVar[str] = ""

    def base_url(self, settings: Any) -> str:
        return str(settings.base_url).rstrip("/") if settings.base_url is not None else self.default_base_url

    def supports(self, request: AnyRequest) -> bool:
        """Whether this package can send ``request`` at all (e.g. a WhatsApp template); routers may skip it."""
        return True

    def build(self, request: Any, credentials: Any, settings: Any) -> HttpCall:
        raise NotImplementedError

    def interpret(self, reply: Reply) -> SendResult:
        raise NotImplementedError

    def _check(self, request: AnyRequest, credentials: Credentials, settings: Settings) -> None:
        if request.channel is not self.channel:
            raise ConfigurationError(f"{self.package} sends {self.channel} messages, not {request.channel}")
        if not isinstance(credentials, self.credentials_type) or not isinstance(settings, self.settings_type):
            raise ConfigurationError(f"{self.package} needs {self.credentials_type.__name__} and {self.settings_type.__name__}")

    async def send(
        self, request: AnyRequest, *, credentials: Credentials, settings: Settings, client: ProviderClient
    ) -> SendResult:
        return await self.prepare(request, credentials=credentials, settings=settings, client=client).send()

    def prepare(
        self, request: AnyRequest, *, credentials: Credentials, settings: Settings, client: ProviderClient
    ) -> PreparedSend:
        self._check(request, credentials, settings)
        if not self.supports(request):
            return _Decided(failure(Outcome.FAIL_PROVIDER, f"{self.package} cannot send this kind of {self.channel} message"))
        call = self.build(request, credentials, settings)
        prepared: PreparedCall | TransportFailure
        try:
            prepared = client.prepare(call, timeout=settings.timeout_seconds)
        except TransportFailure as exc:
            prepared = exc
        return _HttpSend(self, request, credentials, client, prepared)


def log_attempt(package: str, request: AnyRequest, result: SendResult) -> None:
    level = logging.DEBUG if result.outcome is Outcome.SUCCESS else logging.INFO
    if log.isEnabledFor(level):
        log.log(
            level,
            "attempt %s via %s: %s",
            request.id,
            package,
            result.outcome.value,
            extra={
                "message_id": request.id,
                "package": package,
                "outcome": result.outcome.value,
                "http_status": result.http_status,
                "latency_ms": result.latency_ms,
                "error": result.error,
                "possible_duplicate": result.possible_duplicate,
            },
        )


def json_object(reply: Reply) -> dict[str, Any]:
    """The reply body as a JSON object, or MalformedReply."""
    try:
        body = reply.json()
    except ValueError as exc:
        raise MalformedReply(f"not JSON: {summarize(reply.text[:80])!r}") from exc
    if not isinstance(body, dict):
        raise MalformedReply("JSON body is not an object")
    return body


def maybe_json(reply: Reply) -> dict[str, Any]:
    """The reply as a JSON object if it is one, else {} (error bodies are not always JSON)."""
    try:
        body = reply.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def by_status(reply: Reply, detail: str, *, rejected: frozenset[int] = frozenset({400, 422})) -> SendResult:
    """The generic mapping of a non-2xx reply by HTTP status, for bodies without a more specific code."""
    status = reply.status
    message = f"HTTP {status}: {detail}" if detail else f"HTTP {status}"
    if status == 429:
        return failure(Outcome.THROTTLED, message, status=status, retry_after=parse_retry_after(reply.headers.get("retry-after")))
    if status in (401, 403):
        return failure(Outcome.FAIL_AUTH, message, status=status)
    if status in rejected:
        return failure(Outcome.REJECTED, message, status=status)
    return failure(Outcome.FAIL_PROVIDER, message, status=status)
