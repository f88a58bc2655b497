"""Credential and settings schemas of the email packages (field names follow each provider's docs)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, SecretStr

from sendpipe.core.catalog.base import Credentials, Settings

FromAddress = Annotated[str, Field(min_length=3, max_length=320, description="Default sender, e.g. 'Acme <noreply@acme.example>'.")]


class SesCredentials(Credentials):
    access_key_id: Annotated[SecretStr, Field(min_length=16, max_length=128)]
    secret_access_key: Annotated[SecretStr, Field(min_length=16)]
    session_token: SecretStr | None = None


class SesSettings(Settings):
    region: Annotated[str, Field(pattern=r"^[a-z]{2}(-gov)?-[a-z]+-\d$", examples=["us-east-1"])]
    from_: FromAddress = Field(alias="from")
    configuration_set_name: str | None = None


class SendGridCredentials(Credentials):
    api_key: Annotated[SecretStr, Field(min_length=1)]


class SendGridSettings(Settings):
    from_: FromAddress = Field(alias="from")


class MailgunCredentials(Credentials):
    api_key: Annotated[SecretStr, Field(min_length=1)]


class MailgunSettings(Settings):
    domain: Annotated[str, Field(min_length=3, max_length=253)]
    region: Literal["us", "eu"] = "us"
    from_: FromAddress = Field(alias="from")


class ResendCredentials(Credentials):
    api_key: Annotated[SecretStr, Field(min_length=1)]


class ResendSettings(Settings):
    from_: FromAddress = Field(alias="from")


class SmtpCredentials(Credentials):
    username: Annotated[SecretStr, Field(min_length=1)]
    password: Annotated[SecretStr, Field(min_length=1)]


class SmtpSettings(Settings):
    host: Annotated[str, Field(min_length=1, max_length=253)]
    port: Annotated[int, Field(ge=1, le=65535)] = 587
    security: Literal["starttls", "tls", "none"] = Field(
        default="starttls", description="starttls (port 587), implicit tls (port 465), or none (tests only)."
    )
    verify_certificates: bool = True
    from_: FromAddress = Field(alias="from")
