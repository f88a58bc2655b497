"""The shapes every package's schemas share: credentials (from a Secret) and settings (from the spec)."""

from __future__ import annotations

from typing import Annotated

from pydantic import ConfigDict, Field, HttpUrl

from sendpipe.core.wire import WireModel


class Credentials(WireModel):
    """Keys of the referenced Secret. Values are SecretStr: they never print or serialize in clear.

    Extra keys in a Secret are ignored (Secrets are often shared with other tools).
    """

    model_config = ConfigDict(extra="ignore")


class Settings(WireModel):
    """Non-secret per-provider settings from ``spec.settings``. Unknown keys are errors (typos)."""

    base_url: HttpUrl | None = Field(
        default=None,
        description="Override the provider's API base URL (a regional endpoint, a proxy, the simulator).",
    )
    timeout_seconds: Annotated[float, Field(gt=0, le=120)] = Field(
        default=10.0, description="Per-attempt timeout, connect to last byte."
    )
