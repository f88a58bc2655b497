"""Every setting SendPipe reads from its environment, in one place.

No other module reads ``os.environ``. Variables are prefixed ``SENDPIPE_`` and
nested with ``__`` (e.g. ``SENDPIPE_KAFKA__SECURITY_PROTOCOL``).
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


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
    # helm.sh/helm/v3 on the Go module proxy: `helm lint` / `helm template` for the chart tests.
    helm_version: str = "v3.22.0"
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


class WorkerSettings(BaseSettings):
    """The data-plane worker (``SENDPIPE_WORKER_*``): Faust app, web port, concurrency, dedupe, sealing key."""

    model_config = SettingsConfigDict(env_prefix="SENDPIPE_WORKER_", extra="ignore")

    # Faust application id = the consumer group and the prefix of its table changelog topics.
    app_id: str = Field(default="sendpipe-worker", pattern=r"^[A-Za-z0-9._-]{1,200}$")
    # Channels this worker consumes (one send topic each).
    channels: list[Literal["email", "sms", "whatsapp"]] = ["email", "sms", "whatsapp"]
    web_host: str = "0.0.0.0"
    web_port: int = Field(default=6066, ge=0, le=65535)
    # Messages in flight at once in one worker process (all channels together).
    max_in_flight: int = Field(default=200, ge=1, le=100_000)
    # How long a terminal result stays in the duplicate-suppression table.
    dedupe_expiry_seconds: float = Field(default=24 * 3600.0, gt=0)
    # At most this many terminal results per worker process (~165 bytes each in memory): past it the
    # oldest go before their expiry, with a warning saying how far back duplicates are still caught.
    dedupe_max_entries: int = Field(default=1_000_000, ge=1)
    # How often expired terminal results are tombstoned in the dedupe changelog (seconds).
    dedupe_expiry_interval_seconds: float = Field(default=60.0, gt=0)
    # How long a message waits when every provider is ejected or throttled and it has no expiresAt.
    max_wait_seconds: float = Field(default=300.0, ge=0)
    data_dir: Path = Path("/tmp/sendpipe-worker")
    # Consumer-group session timeout: how soon a dead worker's partitions move (seconds).
    session_timeout_seconds: float = Field(default=10.0, ge=1)
    # Kafka's max.poll.interval: a send-topic consumer that has not polled for this long leaves its group.
    # While every slot holds a message waiting for a provider to recover, the intake polls taking nothing.
    max_poll_interval_seconds: float = Field(default=300.0, ge=2)
    # Create missing topics at start (the operator normally does).
    create_topics: bool = True
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        default="info", validation_alias=AliasChoices("SENDPIPE_WORKER_LOG_LEVEL", "SENDPIPE_LOG_LEVEL")
    )
    # Publish unchanged health figures at most this often (seconds); transitions go at once.
    health_publish_interval_seconds: float = Field(default=10.0, gt=0)
    # Event loop: "asyncio", or "uvloop" (needs the uvloop package; measured no gain here, kept as an option).
    event_loop: Literal["uvloop", "asyncio"] = "asyncio"
    # Longest a consumer fetch waits at the broker (ms); bounds the added latency (Faust's default is 1500).
    fetch_max_wait_ms: int = Field(default=50, ge=1, le=1500)
    # This process among the workers: part of its transactional id. Must be unique among running workers
    # and is best stable across restarts of the same slot (the chart passes the pod name): a restarted
    # worker with the same id aborts its predecessor's open transaction at once instead of after
    # ``transaction_timeout_ms``.
    instance_id: str = Field(default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}", pattern=r"^[A-Za-z0-9._-]{1,200}$")
    # How often finished messages' records and offsets are committed in one Kafka transaction (ms).
    commit_interval_ms: int = Field(default=100, ge=1, le=60_000)
    # A crashed worker's open transaction holds back read_committed readers of its partitions this long at most.
    transaction_timeout_ms: int = Field(default=10_000, ge=1000, le=900_000)
    # In a rebalance, how long messages in flight on revoked partitions may take to finish (seconds).
    revoke_grace_seconds: float = Field(default=10.0, ge=0)
    # On SIGTERM, how long messages in flight may take to finish before the final commit (seconds).
    drain_seconds: float = Field(default=30.0, ge=0)
    # Producer batching delay (ms): fewer, larger produce requests. Since records are written in one
    # transaction per commit interval, 20 ms measured no throughput gain (bench/worker_throughput.py:
    # 70% of the baseline, as at 5 ms) and ~20 ms more p50 end-to-end latency.
    producer_linger_ms: int = Field(default=5, ge=0, le=1000)
    # How long attempt outcomes are gathered before they are written to the outcomes topic, one record per
    # provider (ms): the health agent sees them that much later. Each record costs the health agent's
    # Faust threads a fetch and a stream step on the GIL the send path needs: 50 instead of 20 ms measured
    # ~6 µs less worker CPU per message (bench/worker_throughput.py bursts, 2 workers side by side).
    outcome_linger_ms: int = Field(default=50, ge=0, le=1000)
    # sys.setswitchinterval: how soon a thread waiting for the GIL (Faust's consumer thread) gets it.
    gil_switch_interval_seconds: float = Field(default=0.001, gt=0, le=0.1)
    # Young-generation threshold of the garbage collector, set (with gc.freeze) once the worker has started;
    # 0 keeps CPython's default (700). See sendpipe/worker/gc_policy.py for the measurements.
    gc_young_threshold: int = Field(default=20_000, ge=0, le=1_000_000)
    # Ejection of an unhealthy provider: this × k (k ejections in a row), capped at 5 min; tests shorten it.
    health_ejection_base_seconds: float = Field(default=30.0, gt=0)


class SealingSettings(BaseSettings):
    """Where the credential-sealing keyring comes from (``SENDPIPE_SEALING_*``), for operator and workers.

    ``keys_file``: the chart's mounted ``keys.json`` (or the mounted Secret
    directory); ``keys``: the same JSON inline. The operator may instead read
    a Secret (``OperatorSettings.sealing_secret``).
    """

    model_config = SettingsConfigDict(env_prefix="SENDPIPE_SEALING_", extra="ignore")

    keys_file: Path | None = None
    keys: SecretStr | None = None


class OperatorSettings(BaseSettings):
    """The Kopf operator (``SENDPIPE_OPERATOR_*``)."""

    model_config = SettingsConfigDict(env_prefix="SENDPIPE_OPERATOR_", extra="ignore")

    # Namespaces whose Providers are served (comma-separated); empty = every namespace.
    namespaces: Annotated[list[str], NoDecode] = []
    # Kubeconfig file; unset = in-cluster service account, else $KUBECONFIG / ~/.kube/config.
    kubeconfig: Path | None = Field(
        default=None, validation_alias=AliasChoices("SENDPIPE_OPERATOR_KUBECONFIG", "KUBECONFIG")
    )
    # Full re-list and republish (only what differs is produced), in seconds.
    resync_seconds: float = Field(default=300.0, gt=0)
    # Unchanged health figures are written to a Provider's status at most this often.
    health_write_interval_seconds: float = Field(default=10.0, ge=0)
    # Changes are coalesced for this long before routing records are computed and produced.
    debounce_seconds: float = Field(default=0.05, ge=0, le=10)
    # The sealing keyring as a Secret "namespace/name" (entry keys.json); else SealingSettings' file/value.
    sealing_secret: str | None = Field(default=None, pattern=r"^[a-z0-9-]{1,63}/[a-z0-9.-]{1,253}$")
    # Prefix of Kopf's bookkeeping annotations (progress, diff-base).
    annotation_prefix: str = "sendpipe.io"
    # Liveness/readiness endpoint http://<host>:<port>/healthz; port 0 disables it.
    probe_host: str = "0.0.0.0"
    probe_port: int = Field(default=8080, ge=0, le=65535)
    # Watch requests end after this long (server side) / are abandoned after this long (client side),
    # so a silently dead watch reconnects.
    watch_server_timeout_seconds: int = Field(default=300, gt=0)
    watch_client_timeout_seconds: int = Field(default=330, gt=0)
    # Events' reportingComponent.
    component_name: str = "sendpipe-operator"
    # Parallel status patches.
    status_concurrency: int = Field(default=8, ge=1, le=64)

    @field_validator("namespaces", mode="before")
    @classmethod
    def _split_namespaces(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value
