"""What can happen to one delivery attempt, and what each outcome means for routing and health.

ARCHITECTURE.md §5: every attempt ends in exactly one outcome.
"""

from __future__ import annotations

from enum import StrEnum


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    WHATSAPP = "whatsapp"


class Outcome(StrEnum):
    SUCCESS = "SUCCESS"
    FAIL_PROVIDER = "FAIL_PROVIDER"  # 5xx, unparseable reply
    FAIL_NETWORK = "FAIL_NETWORK"  # connect/DNS/TLS error, timeout
    FAIL_AUTH = "FAIL_AUTH"  # 401/403, suspended account
    THROTTLED = "THROTTLED"  # 429 or a provider rate-limit code
    REJECTED = "REJECTED"  # invalid recipient or content: the message fails

    @property
    def fails_over(self) -> bool:
        """Whether the router should try the next provider after this outcome."""
        return self in _FAIL_OVER

    @property
    def counts_in_health(self) -> bool:
        """Whether the outcome enters the provider's health window."""
        return self in _COUNTED

    @property
    def is_failure(self) -> bool:
        """A counted outcome that counts against the provider."""
        return self in _COUNTED and self is not Outcome.SUCCESS


_FAIL_OVER = frozenset(
    {Outcome.FAIL_PROVIDER, Outcome.FAIL_NETWORK, Outcome.FAIL_AUTH, Outcome.THROTTLED}
)
_COUNTED = frozenset(
    {Outcome.SUCCESS, Outcome.FAIL_PROVIDER, Outcome.FAIL_NETWORK, Outcome.FAIL_AUTH}
)


class DeliveryStatus(StrEnum):
    SENT = "SENT"
    FAILED = "FAILED"


class FailureReason(StrEnum):
    """Why a message ended FAILED (the DeliveryEvent's ``reason``)."""

    REJECTED = "Rejected"  # a provider said the recipient or content is invalid
    ALL_PROVIDERS_FAILED = "AllProvidersFailed"  # every candidate was tried and failed
    NO_PROVIDER_CONFIGURED = "NoProviderConfigured"  # no enabled, Ready provider
    NO_HEALTHY_PROVIDER = "NoHealthyProvider"  # all ejected/throttled until expiry
    EXPIRED = "Expired"  # expiresAt passed before delivery


class HealthState(StrEnum):
    UNKNOWN = "unknown"
    HEALTHY = "healthy"
    DEGRADED = "degraded"
    UNHEALTHY = "unhealthy"
