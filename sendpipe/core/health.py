"""Per-provider health: a windowed, event-time state machine with ejection and probing.

Why it exists: ARCHITECTURE §5 gives each provider exactly one health owner
(the health agent's partition of ``sendpipe.outcomes``). The owner feeds every
outcome into a :class:`ProviderHealth` and publishes its :meth:`verdict`;
routers only read verdicts. The machine is driven by event time (every
mutating method takes ``now`` in epoch seconds) and by a caller-supplied
``random.Random`` for ejection jitter, so replaying the same outcomes gives
the same verdicts. It keeps running counts (one update is O(1) amortised) and
serializes to a compact byte record for a Faust table.

The rules, and which side of each boundary is inclusive, are documented on
HealthPolicy (``sendpipe.core.healthpolicy``) and tested in ``tests/core/test_health.py``.
"""

from __future__ import annotations

import random
import struct
from collections import deque
from datetime import UTC, datetime
from enum import IntEnum

from sendpipe.core.healthpolicy import DEFAULT_POLICY, HealthPolicy, ProviderIdentity, throttle_deadline
from sendpipe.core.outcomes import HealthState, Outcome
from sendpipe.core.provider import WindowCounts
from sendpipe.core.records import HealthVerdict

__all__ = [
    "DEFAULT_POLICY",
    "HealthPolicy",
    "Phase",
    "ProviderHealth",
    "ProviderIdentity",
    "throttle_deadline",
]


class Phase(IntEnum):
    """Where the provider is in the ejection cycle (its verdict state is unhealthy unless ACTIVE)."""

    ACTIVE = 0
    EJECTED = 1
    PROBING = 2


_STATES = tuple(HealthState)
_STATE_INDEX = {state: index for index, state in enumerate(_STATES)}
# version, state, phase, flags, ejections, probe successes, streak,
# ejected_until, throttled_until, clock, last transition, last published, entries, base ms
_HEADER = struct.Struct("<BBBBHHIdddddHq")
_VERSION = 1
_RECOVERED, _CHANGED, _DIRTY, _HAS_EJECTED, _HAS_TRANSITION, _HAS_PUBLISHED = (1 << bit for bit in range(6))


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)


class ProviderHealth:
    """The health of one provider. Mutating methods take ``now`` (epoch seconds) and a random source.

    The window is a ring of entries, each an int ``timestamp_ms << 1 | failed``
    (a ring of failure bits with their timestamps), with a running failure
    count, so an update never rescans the window.
    """

    __slots__ = (
        "policy", "_entries", "_failures", "_streak", "_state", "_phase", "_recovered", "_ejections",
        "_ejected_until", "_probe_successes", "_throttled_until", "_clock", "_last_transition",
        "_changed", "_dirty", "_last_published", "_max_age_ms",
    )

    def __init__(self, policy: HealthPolicy = DEFAULT_POLICY) -> None:
        self.policy = policy
        self._entries: deque[int] = deque()
        self._failures = 0
        self._streak = 0
        self._state = HealthState.UNKNOWN
        self._phase = Phase.ACTIVE
        self._recovered = False
        self._ejections = 0
        self._ejected_until: float | None = None
        self._probe_successes = 0
        self._throttled_until = 0.0
        self._clock = 0.0
        self._last_transition: float | None = None
        self._changed = False
        self._dirty = False
        self._last_published: float | None = None
        self._max_age_ms = int(policy.max_age_seconds * 1000)

    # -- reading ---------------------------------------------------------------------------

    @property
    def state(self) -> HealthState:
        return self._state

    @property
    def phase(self) -> Phase:
        return self._phase

    @property
    def samples(self) -> int:
        return len(self._entries)

    @property
    def failures(self) -> int:
        return self._failures

    @property
    def error_rate(self) -> float:
        return self._failures / len(self._entries) if self._entries else 0.0

    @property
    def consecutive_failures(self) -> int:
        return self._streak

    @property
    def ejections(self) -> int:
        """Ejections in a row (k); reset to 0 when probing recovers the provider."""
        return self._ejections

    @property
    def ejected_until(self) -> float | None:
        return self._ejected_until

    @property
    def probe_successes(self) -> int:
        return self._probe_successes

    @property
    def throttled_until(self) -> float:
        return self._throttled_until

    def is_probing(self, now: float) -> bool:
        """True once the ejection has ended (even before a tick moved the phase on)."""
        if self._phase is Phase.EJECTED:
            return self._ejected_until is not None and now >= self._ejected_until
        return self._phase is Phase.PROBING

    def is_throttled(self, now: float) -> bool:
        return now < self._throttled_until

    # -- updating --------------------------------------------------------------------------

    def observe(
        self, outcome: Outcome, *, now: float, rng: random.Random, retry_after: float | None = None
    ) -> bool:
        """Feed one attempt's outcome; True if the verdict changed (publish it at once)."""
        state, phase, ejected_until = self._state, self._phase, self._ejected_until
        samples = len(self._entries)
        now = self._advance(now)
        if not outcome.counts_in_health:
            if outcome is Outcome.THROTTLED:
                deadline = throttle_deadline(retry_after, now=now, policy=self.policy)
                if deadline > self._throttled_until:
                    self._throttled_until = deadline
                    self._dirty = True
            if len(self._entries) != samples:
                self._rejudge(now, rng)
            return self._settle(state, phase, ejected_until, now)
        if self._phase is Phase.ACTIVE:
            self._record(outcome is not Outcome.SUCCESS, now)
            self._state = self._judge()
            if self._state is HealthState.UNHEALTHY:
                self._eject(now, rng)
        elif self._phase is Phase.PROBING:
            if outcome is Outcome.SUCCESS:
                self._streak = 0
                self._probe_successes += 1
                if self._probe_successes >= self.policy.probe_successes:
                    self._recover()
            else:
                self._streak += 1
                self._eject(now, rng)
        # In EJECTED, counted outcomes are late results of attempts started before
        # the ejection: they neither extend nor shorten it.
        self._dirty = True
        return self._settle(state, phase, ejected_until, now)

    def tick(self, *, now: float, rng: random.Random) -> bool:
        """Let time pass without an outcome (expiry, end of ejection); True if the verdict changed."""
        state, phase, ejected_until = self._state, self._phase, self._ejected_until
        samples = len(self._entries)
        now = self._advance(now)
        if len(self._entries) != samples:
            self._rejudge(now, rng)
        return self._settle(state, phase, ejected_until, now)

    def _rejudge(self, now: float, rng: random.Random) -> None:
        """After expiry dropped entries: the figures changed, and maybe the state."""
        self._dirty = True
        if self._phase is Phase.ACTIVE:
            self._state = self._judge()
            if self._state is HealthState.UNHEALTHY:
                self._eject(now, rng)

    def _advance(self, now: float) -> float:
        if now < self._clock:
            now = self._clock
        self._clock = now
        entries = self._entries
        if entries:
            oldest_kept = (int(now * 1000.0 + 0.5) - self._max_age_ms) << 1
            while entries and entries[0] < oldest_kept:
                self._failures -= entries.popleft() & 1
        if self._phase is Phase.EJECTED and self._ejected_until is not None and now >= self._ejected_until:
            self._phase = Phase.PROBING
            self._probe_successes = 0
        return now

    def _record(self, failed: bool, now: float) -> None:
        entries = self._entries
        entries.append(int(now * 1000.0 + 0.5) << 1 | failed)
        if failed:
            self._failures += 1
            self._streak += 1
        else:
            self._streak = 0
        if len(entries) > self.policy.window_size:
            self._failures -= entries.popleft() & 1

    def _judge(self) -> HealthState:
        policy = self.policy
        if self._streak >= policy.max_consecutive_failures:
            return HealthState.UNHEALTHY
        samples = len(self._entries)
        if samples < policy.min_samples:
            return HealthState.HEALTHY if self._recovered else HealthState.UNKNOWN
        self._recovered = False
        rate = self._failures / samples
        if rate > policy.unhealthy_above:
            return HealthState.UNHEALTHY
        if self._state is HealthState.DEGRADED:
            return HealthState.HEALTHY if rate < policy.recover_below else HealthState.DEGRADED
        return HealthState.DEGRADED if rate >= policy.degraded_at else HealthState.HEALTHY

    def _eject(self, now: float, rng: random.Random) -> None:
        policy = self.policy
        self._ejections += 1
        base = min(policy.ejection_base_seconds * self._ejections, policy.ejection_cap_seconds)
        jitter = policy.ejection_jitter
        self._ejected_until = now + base * (1.0 + rng.uniform(-jitter, jitter))
        self._phase = Phase.EJECTED
        self._state = HealthState.UNHEALTHY
        self._probe_successes = 0
        self._recovered = False

    def _recover(self) -> None:
        self._entries.clear()
        self._failures = 0
        self._streak = 0
        self._ejections = 0
        self._ejected_until = None
        self._probe_successes = 0
        self._phase = Phase.ACTIVE
        self._state = HealthState.HEALTHY
        self._recovered = True

    def _settle(self, state: HealthState, phase: Phase, ejected_until: float | None, now: float) -> bool:
        if self._state is not state:
            self._last_transition = now
        changed = self._state is not state or self._phase is not phase or self._ejected_until != ejected_until
        if changed:
            self._changed = True
        return changed

    # -- publishing ------------------------------------------------------------------------

    def should_publish(self, now: float) -> bool:
        """Transitions at once; changed figures at most every ``publish_interval_seconds``."""
        if self._changed or self._last_published is None:
            return True
        return self._dirty and now - self._last_published >= self.policy.publish_interval_seconds

    def mark_published(self, now: float) -> None:
        self._changed = False
        self._dirty = False
        self._last_published = now

    def verdict(self, identity: ProviderIdentity, *, now: float) -> HealthVerdict:
        """The verdict to publish; call :meth:`tick` first so expiry and ejection are current."""
        samples = len(self._entries)
        rate = self._failures / samples if samples else 0.0
        return HealthVerdict(
            provider_uid=identity.uid,
            namespace=identity.namespace,
            channel=identity.channel,
            provider=identity.name,
            state=self._state,
            error_rate=rate,
            window=WindowCounts(sends=samples, failures=self._failures),
            consecutive_failures=self._streak,
            ejected_until=_utc(self._ejected_until) if self._ejected_until is not None else None,
            probing=self.is_probing(now),
            throttled_until=_utc(self._throttled_until) if now < self._throttled_until else None,
            reason=self._reason(now, rate),
            last_transition_time=_utc(self._last_transition) if self._last_transition is not None else None,
            observed_at=_utc(now),
        )

    def _reason(self, now: float, rate: float) -> str:
        policy = self.policy
        if self._phase is not Phase.ACTIVE:
            if self.is_probing(now):
                return f"probing: {self._probe_successes} of {policy.probe_successes} successes"
            if self._ejections > 1:
                cause = "a probe failed"
            elif self._streak >= policy.max_consecutive_failures:
                cause = f"{self._streak} consecutive failures"
            else:
                cause = f"error rate {rate:.1%} over {len(self._entries)} sends"
            return f"ejected ({self._ejections} in a row): {cause}"
        if self._streak and self._state is not HealthState.UNHEALTHY:
            streak = f", {self._streak} consecutive failures"
        else:
            streak = ""
        samples = len(self._entries)
        if samples < policy.min_samples:
            if self._recovered:
                return f"recovered after {policy.probe_successes} probe successes{streak}"
            return f"too few samples ({samples} of {policy.min_samples}){streak}"
        return f"error rate {rate:.1%} over {samples} sends{streak}"

    # -- serialization ---------------------------------------------------------------------

    def to_record(self) -> bytes:
        """A compact record: a fixed header, then one uint32 per window entry.

        Each entry is its age relative to the oldest entry in milliseconds,
        shifted left by one, with the failure bit in bit 0: 4 bytes per outcome.
        """
        entries = self._entries
        count = len(entries)
        base = entries[0] >> 1 if count else 0
        flags = (
            (_RECOVERED if self._recovered else 0)
            | (_CHANGED if self._changed else 0)
            | (_DIRTY if self._dirty else 0)
            | (_HAS_EJECTED if self._ejected_until is not None else 0)
            | (_HAS_TRANSITION if self._last_transition is not None else 0)
            | (_HAS_PUBLISHED if self._last_published is not None else 0)
        )
        header = _HEADER.pack(
            _VERSION, _STATE_INDEX[self._state], self._phase, flags, self._ejections, self._probe_successes,
            self._streak, self._ejected_until or 0.0, self._throttled_until, self._clock,
            self._last_transition or 0.0, self._last_published or 0.0, count, base,
        )
        shift = base << 1
        return header + struct.pack(f"<{count}I", *[entry - shift for entry in entries])

    @classmethod
    def from_record(cls, data: bytes, *, policy: HealthPolicy = DEFAULT_POLICY) -> ProviderHealth:
        """Rebuild from :meth:`to_record`; a smaller window keeps the newest entries."""
        if len(data) < _HEADER.size or data[0] != _VERSION:
            raise ValueError("not a health record of this version")
        (_, state, phase, flags, ejections, probes, streak, ejected_until, throttled_until, clock,
         last_transition, last_published, count, base) = _HEADER.unpack_from(data)
        if len(data) != _HEADER.size + 4 * count:
            raise ValueError("health record has the wrong length")
        shift = base << 1
        offsets = struct.unpack_from(f"<{count}I", data, _HEADER.size)[-policy.window_size:]
        health = cls(policy)
        health._entries.extend([shift + offset for offset in offsets])
        health._failures = sum([offset & 1 for offset in offsets])
        health._state = _STATES[state]
        health._phase = Phase(phase)
        health._recovered = bool(flags & _RECOVERED)
        health._changed = bool(flags & _CHANGED)
        health._dirty = bool(flags & _DIRTY)
        health._ejections = ejections
        health._probe_successes = probes
        health._streak = streak
        health._ejected_until = ejected_until if flags & _HAS_EJECTED else None
        health._throttled_until = throttled_until
        health._clock = clock
        health._last_transition = last_transition if flags & _HAS_TRANSITION else None
        health._last_published = last_published if flags & _HAS_PUBLISHED else None
        return health

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ProviderHealth):
            return NotImplemented
        return self.policy == other.policy and self.to_record() == other.to_record()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"<ProviderHealth {self._state.value} {self._phase.name.lower()} "
            f"{self._failures}/{len(self._entries)} streak={self._streak} k={self._ejections}>"
        )
