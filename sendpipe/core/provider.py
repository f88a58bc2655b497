"""The Provider custom resource (``sendpipe.io/v1alpha1``): spec, status and conditions.

These models are the source of the CRD (``sendpipe.core.crd`` generates
``crds/``); the operator parses resources with them.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import Field

from sendpipe.core.catalog import PackageName
from sendpipe.core.outcomes import Channel, HealthState
from sendpipe.core.wire import WireModel

GROUP = "sendpipe.io"
VERSION = "v1alpha1"
KIND = "Provider"
PLURAL = "providers"
SHORT_NAMES = ("prov", "sp")

DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$"


class SecretRef(WireModel):
    name: Annotated[str, Field(pattern=DNS_SUBDOMAIN, description="A Secret in the Provider's namespace.")]


class ProviderSpec(WireModel):
    package: PackageName = Field(description="The marketplace package (the provider's API).")
    display_name: Annotated[str, Field(min_length=1, max_length=128)] | None = None
    channel: Channel | None = Field(default=None, description="Optional; must match the package's channel.")
    priority: Annotated[int, Field(ge=0, le=1_000_000)] = Field(
        default=100, description="Lower is tried first; ties are broken by name."
    )
    enabled: bool = True
    credentials_secret_ref: SecretRef = Field(description="Secret whose keys are the package's credentials.")
    settings: dict[str, Any] = Field(
        default_factory=dict, description="Non-secret settings, validated against the package's settings schema."
    )


class ConditionStatus(StrEnum):
    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class ConditionType(StrEnum):
    READY = "Ready"
    CREDENTIALS_VALID = "CredentialsValid"
    PUBLISHED = "Published"
    HEALTHY = "Healthy"


class Condition(WireModel):
    """The standard Kubernetes condition shape (metav1.Condition)."""

    type: Annotated[str, Field(max_length=316)]
    status: ConditionStatus
    reason: Annotated[str, Field(pattern=r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$", max_length=1024)]
    message: Annotated[str, Field(max_length=32768)] = ""
    last_transition_time: datetime
    observed_generation: Annotated[int, Field(ge=0)] | None = None


class WindowCounts(WireModel):
    sends: Annotated[int, Field(ge=0)] = 0
    failures: Annotated[int, Field(ge=0)] = 0


class ProviderStatus(WireModel):
    observed_generation: int | None = None
    channel: Channel | None = None
    rank: Annotated[int, Field(ge=1)] | None = Field(default=None, description="Position in the channel's routing order.")
    health: HealthState = HealthState.UNKNOWN
    error_rate: Annotated[float, Field(ge=0, le=1)] | None = None
    window: WindowCounts | None = None
    consecutive_failures: Annotated[int, Field(ge=0)] | None = None
    ejected_until: datetime | None = None
    last_transition_time: datetime | None = None
    conditions: list[Condition] = []


class ProviderResource(WireModel):
    """A whole Provider object as read from the API server (metadata kept loose)."""

    api_version: Literal["sendpipe.io/v1alpha1"] = "sendpipe.io/v1alpha1"
    kind: Literal["Provider"] = "Provider"
    metadata: dict[str, Any]
    spec: ProviderSpec
    status: ProviderStatus | None = None
