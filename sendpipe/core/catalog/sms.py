"""Credential and settings schemas of the SMS packages."""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import Field, SecretStr, model_validator

from sendpipe.core.catalog.base import Credentials, Settings


class TwilioCredentials(Credentials):
    account_sid: Annotated[SecretStr, Field(min_length=34, max_length=34)]
    auth_token: Annotated[SecretStr, Field(min_length=1)]


class TwilioSmsSettings(Settings):
    from_: str | None = Field(default=None, alias="from", description="A Twilio phone number in E.164.")
    messaging_service_sid: Annotated[str, Field(pattern=r"^MG[0-9a-fA-F]{32}$")] | None = None

    @model_validator(mode="after")
    def _has_sender(self) -> Self:
        if not self.from_ and not self.messaging_service_sid:
            raise ValueError("set from or messagingServiceSid")
        return self


class AfricasTalkingCredentials(Credentials):
    username: Annotated[SecretStr, Field(min_length=1)]
    api_key: Annotated[SecretStr, Field(min_length=1)]


class AfricasTalkingSettings(Settings):
    from_: str | None = Field(default=None, alias="from", description="Registered sender id or short code.")
    environment: Literal["production", "sandbox"] = "production"


class TermiiCredentials(Credentials):
    api_key: Annotated[SecretStr, Field(min_length=1)]


class TermiiSettings(Settings):
    from_: Annotated[str, Field(min_length=1, max_length=11)] = Field(alias="from", description="Registered sender id.")
    route: Literal["generic", "dnd"] = Field(default="generic", description="Termii's 'channel' field.")
