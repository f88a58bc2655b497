"""Credential and settings schemas of the WhatsApp packages."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, SecretStr

from sendpipe.core.catalog.base import Credentials, Settings
from sendpipe.core.catalog.sms import TwilioCredentials, TwilioSmsSettings


class MetaCloudCredentials(Credentials):
    access_token: Annotated[SecretStr, Field(min_length=1)]


class MetaCloudSettings(Settings):
    phone_number_id: Annotated[str, Field(pattern=r"^\d{1,32}$")]
    api_version: Annotated[str, Field(pattern=r"^v\d+\.\d+$")] = "v24.0"


class Dialog360Credentials(Credentials):
    api_key: Annotated[SecretStr, Field(min_length=1)]


class Dialog360Settings(Settings):
    pass


TwilioWhatsAppCredentials = TwilioCredentials


class TwilioWhatsAppSettings(TwilioSmsSettings):
    """``from`` is the WhatsApp-enabled sender in E.164; the adapter adds the ``whatsapp:`` prefix."""
