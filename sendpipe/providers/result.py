"""What one delivery attempt through one adapter produced: the outcome and the facts behind it.

Adapters never raise for a provider's answer or a transport failure: every
attempt ends in one ``SendResult``, which the worker turns into an
``Attempt`` (sendpipe.core.messages). The error summary is short, meant for
people and for DeliveryEvents, and is scrubbed of credential values.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import timezone

from pydantic import BaseModel, SecretStr

from sendpipe.core.outcomes import Outcome

MAX_ERROR_CHARS = 300
MAX_RETRY_AFTER_SECONDS = 3600.0


@dataclass(frozen=True, slots=True, kw_only=True)
class SendResult:
    """The result of one attempt. ``possible_duplicate``: the request reached the provider but no answer came back."""

    outcome: Outcome
    provider_message_id: str | None = None
    http_status: int | None = None
    error: str | None = None
    retry_after_seconds: float | None = None
    possible_duplicate: bool = False
    latency_ms: float = 0.0

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.SUCCESS

    def with_latency(self, latency_ms: float) -> SendResult:
        return replace(self, latency_ms=round(latency_ms, 3))


def success(message_id: str, *, status: int | None) -> SendResult:
    return SendResult(outcome=Outcome.SUCCESS, provider_message_id=message_id, http_status=status)


def failure(
    outcome: Outcome, error: str, *, status: int | None = None, retry_after: float | None = None
) -> SendResult:
    return SendResult(outcome=outcome, error=summarize(error), http_status=status, retry_after_seconds=retry_after)


def summarize(text: str) -> str:
    """One line, at most MAX_ERROR_CHARS characters."""
    line = " ".join(text.split())
    return line if len(line) <= MAX_ERROR_CHARS else line[: MAX_ERROR_CHARS - 1] + "…"


def secret_values(credentials: BaseModel) -> list[str]:
    """Every secret string in a credentials model (to scrub them from error summaries)."""
    values = []
    for name in type(credentials).model_fields:
        value = getattr(credentials, name)
        if isinstance(value, SecretStr) and len(value.get_secret_value()) >= 4:
            values.append(value.get_secret_value())
    return values


def scrub(result: SendResult, secrets: Iterable[str]) -> SendResult:
    """Replace any credential value that a provider echoed into the error summary."""
    if result.error is None:
        return result
    error = result.error
    for secret in secrets:
        if secret in error:
            error = error.replace(secret, "***")
    return result if error == result.error else replace(result, error=error)


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Retry-After as seconds (delta-seconds or an HTTP date), capped; None if absent or unreadable."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        reference = now if now is not None else time.time()
        seconds = when.timestamp() - reference
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS)
