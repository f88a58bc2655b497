"""A local fake of the provider APIs (ten HTTP APIs + SMTP) with fault injection, for tests, benchmarks and demos.

It imports nothing from ``sendpipe.providers`` so that a bug in an adapter
cannot be mirrored here. Python API: ``Simulator`` (in-process),
``SimulatorProcess`` (child process), ``Fault``, ``SimCredentials``.
Magic recipients: phone numbers +15005550001 (invalid), +15005550002
(unroutable), +15005550004 (blocked); email local parts starting with ``invalid``.
"""

from __future__ import annotations

from sendpipe.simulator.server import PACKAGE_PATHS, Simulator, SimulatorProcess, package_config
from sendpipe.simulator.state import (
    BLOCKED_PHONE,
    ERROR_KINDS,
    INVALID_EMAIL_PREFIX,
    INVALID_PHONE,
    UNROUTABLE_PHONE,
    Fault,
    Recorded,
    SimCredentials,
)

__all__ = [
    "BLOCKED_PHONE",
    "ERROR_KINDS",
    "INVALID_EMAIL_PREFIX",
    "INVALID_PHONE",
    "PACKAGE_PATHS",
    "UNROUTABLE_PHONE",
    "Fault",
    "Recorded",
    "SimCredentials",
    "Simulator",
    "SimulatorProcess",
    "package_config",
]
