"""Every setting SendPipe reads from its environment, in one place.

No other module reads ``os.environ``. Variables are prefixed ``SENDPIPE_`` and
nested with ``__`` (e.g. ``SENDPIPE_KAFKA__SECURITY_PROTOCOL``).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_cache_dir() -> Path:
    return Path.home() / ".cache" / "sendpipe"


class StackSettings(BaseSettings):
    """Where the local development stack keeps its downloads, builds and state."""

    model_config = SettingsConfigDict(env_prefix="SENDPIPE_", extra="ignore")

    cache_dir: Path = Field(default_factory=_default_cache_dir)
    state_dir: Path | None = None  # default: <cache_dir>/state
