"""What the simulator knows at run time: accepted credentials, per-provider faults, recorded requests, counters.

Shared by the HTTP apps, the SMTP server, the admin endpoint and the Python
API; plain dataclasses, so a fault set from a test is visible to the next request.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter, deque
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

ErrorKind = Literal["server_error", "auth", "throttle", "invalid_recipient", "validation", "malformed"]
ERROR_KINDS: tuple[str, ...] = ("server_error", "auth", "throttle", "invalid_recipient", "validation", "malformed")
Outage = Literal["503", "drop"]

# Magic recipients (documented in README of the simulator module): the simulator answers with the provider's
# recipient error for these. Phone numbers follow Twilio's test-number convention.
INVALID_PHONE = "+15005550001"  # not a valid number
UNROUTABLE_PHONE = "+15005550002"  # cannot be routed
BLOCKED_PHONE = "+15005550004"  # recipient blacklisted / unsubscribed
INVALID_EMAIL_PREFIX = "invalid"  # any address whose local part starts with "invalid"


@dataclass(slots=True)
class Fault:
    """Runtime behaviour of one provider. All fields optional; the default is a healthy provider."""

    failure_rate: float = 0.0  # share of requests answered with ``error``
    error: str = "server_error"  # one of ERROR_KINDS
    latency_ms: float = 0.0  # fixed latency, or the lower bound when latency_max_ms is set
    latency_max_ms: float | None = None  # uniform latency between latency_ms and this
    throttle: bool = False  # answer every request with the provider's 429 and Retry-After
    rate_limit_per_second: float | None = None  # token bucket; requests over it get the 429
    retry_after_seconds: int = 1
    outage: str | None = None  # "503" (service unavailable) or "drop" (close the connection, no reply)
    hang: bool = False  # accept the request, then never answer (until cleared)

    def __post_init__(self) -> None:
        if not 0.0 <= self.failure_rate <= 1.0:
            raise ValueError("failure_rate must be between 0 and 1")
        if self.error not in ERROR_KINDS:
            raise ValueError(f"error must be one of {', '.join(ERROR_KINDS)}")
        if self.outage not in (None, "503", "drop"):
            raise ValueError("outage must be '503' or 'drop'")
        if self.latency_max_ms is not None and self.latency_max_ms < self.latency_ms:
            raise ValueError("latency_max_ms must be >= latency_ms")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Fault:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fault fields: {', '.join(sorted(unknown))}")
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def latency_seconds(self) -> float:
        if self.latency_max_ms is not None:
            return random.uniform(self.latency_ms, self.latency_max_ms) / 1000
        return self.latency_ms / 1000


@dataclass(slots=True)
class SimCredentials:
    """The credentials each simulated provider accepts (anything else gets that provider's auth error)."""

    ses_access_key_id: str = "AKIASIMULATOR0000001"
    ses_secret_access_key: str = "simulator/secret/access/key/0000000001"
    sendgrid_api_key: str = "SG.simulator-key"
    mailgun_api_key: str = "key-simulator"
    mailgun_domains: tuple[str, ...] = ("mg.acme.example",)
    resend_api_key: str = "re_simulator_key"
    twilio_account_sid: str = "AC" + "5" * 32
    twilio_auth_token: str = "simulator-auth-token"
    africastalking_username: str = "sandbox"
    africastalking_api_key: str = "atsk_simulator_key"
    termii_api_key: str = "TLsimulatorkey"
    meta_access_token: str = "EAAsimulatortoken"
    meta_phone_number_ids: tuple[str, ...] = ("106540352242922",)
    dialog360_api_key: str = "simulator-360-key"
    smtp_username: str = "sim-user"
    smtp_password: str = "sim-password"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SimCredentials:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown credential fields: {', '.join(sorted(unknown))}")
        values: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
        return cls(**values)


@dataclass(slots=True)
class Recorded:
    provider: str
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    status: int | None  # None: no reply (dropped or hung)
    at: float = field(default_factory=time.time)

    def to_dict(self) -> dict[str, Any]:
        return {
            "provider": self.provider, "method": self.method, "path": self.path, "query": self.query,
            "headers": self.headers, "body": self.body.decode("utf-8", errors="replace"),
            "status": self.status, "at": self.at,
        }


class _Bucket:
    __slots__ = ("rate", "tokens", "stamp")

    def __init__(self, rate: float) -> None:
        self.rate, self.tokens, self.stamp = rate, rate, time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.rate, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class SimState:
    def __init__(self, credentials: SimCredentials | None = None, *, record_limit: int = 10_000) -> None:
        self.credentials = credentials or SimCredentials()
        self.faults: dict[str, Fault] = {}
        self.records: deque[Recorded] = deque(maxlen=record_limit)
        self.stats: Counter[tuple[str, int | None]] = Counter()
        self._buckets: dict[str, _Bucket] = {}
        self.release = asyncio.Event()  # set to let hung requests go (on clear / shutdown)

    def fault(self, provider: str) -> Fault | None:
        return self.faults.get(provider)

    def set_fault(self, provider: str, fault: Fault) -> None:
        self.faults[provider] = fault
        self._buckets.pop(provider, None)
        if fault.rate_limit_per_second:
            self._buckets[provider] = _Bucket(fault.rate_limit_per_second)
        if not fault.hang:
            self._release_hung()

    def clear_faults(self, provider: str | None = None) -> None:
        if provider is None:
            self.faults.clear()
            self._buckets.clear()
        else:
            self.faults.pop(provider, None)
            self._buckets.pop(provider, None)
        self._release_hung()

    def _release_hung(self) -> None:
        self.release.set()
        self.release = asyncio.Event()

    def over_rate_limit(self, provider: str) -> bool:
        bucket = self._buckets.get(provider)
        return bucket is not None and not bucket.take()

    def record(self, entry: Recorded) -> None:
        self.records.append(entry)
        self.stats[(entry.provider, entry.status)] += 1

    def requests(self, provider: str | None = None) -> list[Recorded]:
        return [r for r in self.records if provider is None or r.provider == provider]

    def clear_requests(self) -> None:
        self.records.clear()
        self.stats.clear()

    def stats_dict(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for (provider, status), count in self.stats.items():
            out.setdefault(provider, {})[str(status) if status is not None else "no-reply"] = count
        return out
