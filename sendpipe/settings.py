"""Every setting SendPipe reads from its environment, in one place.

No other module reads ``os.environ``. Variables are prefixed ``SENDPIPE_`` and
nested with ``__`` (e.g. ``SENDPIPE_KAFKA__SECURITY_PROTOCOL``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_cache_dir() -> Path:
    return Path.home() / ".cache" / "sendpipe"


class StackSettings(BaseSettings):
    """Where the local development stack keeps its downloads, builds and state.

    ``cache_dir`` holds the (slow to make) Kafka jars and Go-built binaries,
    one directory per version; ``state_dir`` holds one running stack (pids,
    ports, logs, kubeconfig). Pointing ``SENDPIPE_STATE_DIR`` elsewhere starts
    a second stack from the same cached binaries on other ports.
    """

    model_config = SettingsConfigDict(env_prefix="SENDPIPE_", extra="ignore")

    cache_dir: Path = Field(default_factory=_default_cache_dir)
    state_dir: Path | None = None  # default: <cache_dir>/state
    # Apache Kafka from Maven Central (org.apache.kafka:kafka_2.13).
    kafka_version: str = "4.4.0"
    # k8s.io/kubernetes on the Go module proxy; its go.mod must fit the local Go.
    kubernetes_version: str = "v1.37.2"
    # Seconds to wait for each process to become ready.
    stack_ready_timeout: float = Field(default=180.0, gt=0)

    @property
    def resolved_state_dir(self) -> Path:
        """The state directory, defaulting to ``<cache_dir>/state``."""
        return (self.state_dir or self.cache_dir / "state").expanduser().absolute()

    @property
    def resolved_cache_dir(self) -> Path:
        return self.cache_dir.expanduser().absolute()


class KafkaSettings(BaseSettings):
    """How every SendPipe component reaches Kafka (``SENDPIPE_KAFKA_*``)."""

    model_config = SettingsConfigDict(env_prefix="SENDPIPE_KAFKA_", extra="ignore")

    bootstrap: str = "127.0.0.1:9092"
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: Path | None = None
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None


class TopicSettings(BaseSettings):
    """Topic names and layout (``SENDPIPE_TOPICS_*``)."""

    model_config = SettingsConfigDict(env_prefix="SENDPIPE_TOPICS_", extra="ignore")

    routing: str = "sendpipe.routing"
    health: str = "sendpipe.health"
    outcomes: str = "sendpipe.outcomes"
    events: str = "sendpipe.events"
    dlq: str = "sendpipe.send.dlq"
    send_prefix: str = "sendpipe.send."
    partitions: int = Field(default=6, ge=1, le=1000)
    replication_factor: int = Field(default=1, ge=1, le=16)

    def send_topic(self, channel: str) -> str:
        return f"{self.send_prefix}{channel}"
