"""The numbers of the health rules (HealthPolicy), the throttling deadline, and whom a verdict is about.

Why it exists: every number of ARCHITECTURE §5's health rules is a setting,
shared by the health owner (``sendpipe.core.health``) and by the worker's own
throttling bookkeeping (:func:`throttle_deadline`), which needs the policy but
not the state machine. ``sendpipe.core.health`` re-exports these names.
"""

from __future__ import annotations

from dataclasses import dataclass

from sendpipe.core.messages import ProviderUid
from sendpipe.core.outcomes import Channel
from sendpipe.core.records import OutcomeBatch

__all__ = ["DEFAULT_POLICY", "HealthPolicy", "ProviderIdentity", "throttle_deadline"]

_MAX_AGE_LIMIT = 2**31 / 1000 / 2  # half the uint32 record offset, in seconds (~12 days)


@dataclass(frozen=True, slots=True, kw_only=True)
class HealthPolicy:
    """Every number of the health rules; the defaults are ARCHITECTURE §5's.

    Which side of each boundary is inclusive (every number is a HealthPolicy field):

    - samples: judged from ``min_samples`` (20) counted outcomes; 19 is unknown.
    - error rate r: ``r < degraded_at`` (5%) healthy; ``degraded_at <= r <= unhealthy_above``
      (5%..25%, both ends included) degraded; ``r > unhealthy_above`` unhealthy.
    - hysteresis: degraded becomes healthy only when ``r < recover_below`` (3%); exactly 3% stays degraded.
    - streak: the ``max_consecutive_failures``-th (5th) consecutive failure makes it unhealthy,
      even below ``min_samples``.
    - expiry: an entry exactly ``max_age_seconds`` (300 s) old is kept; an older one is dropped.
      Window timestamps are kept at millisecond resolution.
    - ejection ends at ``ejected_until`` inclusive: from ``now == ejected_until`` the provider is probing.
    - probing: the ``probe_successes``-th (3rd) consecutive counted success recovers the provider
      (healthy, window cleared, ejection count reset); any counted failure ejects it again.
    - ejection k (k ejections in a row) lasts ``min(ejection_base_seconds * k, ejection_cap_seconds)``
      times ``1 + u``, u uniform in ``[-ejection_jitter, +ejection_jitter]``: at the cap, 270 to 330 s.
    - throttling: throttled while ``now < throttled_until``; THROTTLED and REJECTED never enter the window.
    - publishing: a verdict change at once; changed figures at most every ``publish_interval_seconds``.

    A provider that recovered through probing is reported healthy (not unknown)
    while its fresh window holds fewer than ``min_samples`` outcomes: the probes
    are the evidence. Event time never runs backwards: an outcome older than the
    latest one seen is taken at the latest time.
    """

    window_size: int = 100
    max_age_seconds: float = 300.0
    min_samples: int = 20
    degraded_at: float = 0.05
    unhealthy_above: float = 0.25
    recover_below: float = 0.03
    max_consecutive_failures: int = 5
    ejection_base_seconds: float = 30.0
    ejection_cap_seconds: float = 300.0
    ejection_jitter: float = 0.10
    probe_successes: int = 3
    throttle_default_seconds: float = 1.0
    throttle_cap_seconds: float = 60.0
    publish_interval_seconds: float = 10.0

    def __post_init__(self) -> None:
        if not 1 <= self.min_samples <= self.window_size <= 65535:
            raise ValueError("need 1 <= min_samples <= window_size <= 65535")
        if not 0 < self.recover_below <= self.degraded_at <= self.unhealthy_above < 1:
            raise ValueError("need 0 < recover_below <= degraded_at <= unhealthy_above < 1")
        if not 0 <= self.ejection_jitter < 1:
            raise ValueError("ejection_jitter is a fraction in [0, 1)")
        if min(self.max_consecutive_failures, self.probe_successes) < 1:
            raise ValueError("max_consecutive_failures and probe_successes must be at least 1")
        if min(self.max_age_seconds, self.ejection_base_seconds, self.ejection_cap_seconds) <= 0:
            raise ValueError("durations must be positive")
        if self.max_age_seconds > _MAX_AGE_LIMIT:
            raise ValueError(f"max_age_seconds is at most {_MAX_AGE_LIMIT:g} (window ages are 31-bit milliseconds)")
        if self.throttle_default_seconds < 0 or self.throttle_cap_seconds < 0 or self.publish_interval_seconds < 0:
            raise ValueError("throttle and publish durations must not be negative")


DEFAULT_POLICY = HealthPolicy()


@dataclass(frozen=True, slots=True)
class ProviderIdentity:
    """What a verdict says about whom: the Provider's uid, namespace, channel and resource name."""

    uid: ProviderUid
    namespace: str
    channel: Channel
    name: str

    @classmethod
    def of(cls, batch: OutcomeBatch) -> ProviderIdentity:
        return cls(batch.provider_uid, batch.namespace, batch.channel, batch.provider)


def throttle_deadline(retry_after: float | None, *, now: float, policy: HealthPolicy = DEFAULT_POLICY) -> float:
    """Until when a THROTTLED provider is skipped: Retry-After (capped), or the default pause."""
    if retry_after is None:
        return now + min(policy.throttle_default_seconds, policy.throttle_cap_seconds)
    return now + min(max(retry_after, 0.0), policy.throttle_cap_seconds)
