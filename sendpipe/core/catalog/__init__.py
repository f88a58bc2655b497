"""The 11 marketplace packages: channel, tier, credential and settings schemas, capabilities.

This is the seed's ``getCredentialSchema()``: the operator checks a Provider's
Secret and settings against the schemas here; the adapters in
``sendpipe.providers`` implement the APIs. An explicit registry, not a folder
scan: adding a package is one entry, and a duplicate name is an error.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Literal

from sendpipe.core.catalog import email, sms, whatsapp
from sendpipe.core.catalog.base import Credentials, Settings
from sendpipe.core.outcomes import Channel

__all__ = [
    "CATALOG",
    "Credentials",
    "PackageInfo",
    "PackageName",
    "Settings",
    "Tier",
    "UnknownPackageError",
    "get_package",
    "packages_for",
]

PackageName = Literal[
    "provider-ses",
    "provider-sendgrid",
    "provider-mailgun",
    "provider-resend",
    "provider-smtp",
    "provider-meta-cloud",
    "provider-360dialog",
    "provider-twilio-whatsapp",
    "provider-africastalking",
    "provider-twilio-sms",
    "provider-termii",
]


class Tier(StrEnum):
    FREE = "free"
    PAID = "paid"


@dataclass(frozen=True, slots=True, kw_only=True)
class PackageInfo:
    name: str
    channel: Channel
    title: str
    tier: Tier
    api: str
    credentials: type[Credentials]
    settings: type[Settings]
    max_body_chars: int | None = None
    idempotency_key: bool = False  # the API accepts our message id as an idempotency key
    templates: bool = False  # WhatsApp template messages

    def credential_keys(self, *, required_only: bool = False) -> list[str]:
        """The Secret keys this package reads (camelCase, as written in the Secret)."""
        return [
            field.alias or name
            for name, field in self.credentials.model_fields.items()
            if field.is_required() or not required_only
        ]


class UnknownPackageError(LookupError):
    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"unknown package {name!r}; known packages: {', '.join(CATALOG)}")


def _registry(*entries: PackageInfo) -> Mapping[str, PackageInfo]:
    registry: dict[str, PackageInfo] = {}
    for entry in entries:
        if entry.name in registry:
            raise ValueError(f"package {entry.name!r} is registered twice")
        registry[entry.name] = entry
    return MappingProxyType(registry)


CATALOG: Mapping[str, PackageInfo] = _registry(
    PackageInfo(name="provider-ses", channel=Channel.EMAIL, title="Amazon SES", tier=Tier.FREE,
                api="SES v2 SendEmail, SigV4-signed",
                credentials=email.SesCredentials, settings=email.SesSettings),
    PackageInfo(name="provider-sendgrid", channel=Channel.EMAIL, title="SendGrid", tier=Tier.FREE,
                api="SendGrid v3 mail/send",
                credentials=email.SendGridCredentials, settings=email.SendGridSettings),
    PackageInfo(name="provider-mailgun", channel=Channel.EMAIL, title="Mailgun", tier=Tier.FREE,
                api="Mailgun messages API (US and EU regions)",
                credentials=email.MailgunCredentials, settings=email.MailgunSettings),
    PackageInfo(name="provider-resend", channel=Channel.EMAIL, title="Resend", tier=Tier.FREE,
                api="Resend emails API", idempotency_key=True,
                credentials=email.ResendCredentials, settings=email.ResendSettings),
    PackageInfo(name="provider-smtp", channel=Channel.EMAIL, title="SMTP", tier=Tier.FREE,
                api="any SMTP server (STARTTLS or implicit TLS)",
                credentials=email.SmtpCredentials, settings=email.SmtpSettings),
    PackageInfo(name="provider-meta-cloud", channel=Channel.WHATSAPP, title="WhatsApp Cloud API (Meta)",
                tier=Tier.PAID, api="Graph API /{phone-number-id}/messages", max_body_chars=4096, templates=True,
                credentials=whatsapp.MetaCloudCredentials, settings=whatsapp.MetaCloudSettings),
    PackageInfo(name="provider-360dialog", channel=Channel.WHATSAPP, title="360dialog", tier=Tier.PAID,
                api="360dialog WhatsApp API", max_body_chars=4096, templates=True,
                credentials=whatsapp.Dialog360Credentials, settings=whatsapp.Dialog360Settings),
    PackageInfo(name="provider-twilio-whatsapp", channel=Channel.WHATSAPP, title="Twilio WhatsApp",
                tier=Tier.PAID, api="Twilio Messages API, whatsapp: addresses", max_body_chars=1600,
                credentials=whatsapp.TwilioWhatsAppCredentials, settings=whatsapp.TwilioWhatsAppSettings),
    PackageInfo(name="provider-africastalking", channel=Channel.SMS, title="Africa's Talking", tier=Tier.PAID,
                api="Africa's Talking SMS", max_body_chars=1600,
                credentials=sms.AfricasTalkingCredentials, settings=sms.AfricasTalkingSettings),
    PackageInfo(name="provider-twilio-sms", channel=Channel.SMS, title="Twilio SMS", tier=Tier.PAID,
                api="Twilio Messages API", max_body_chars=1600,
                credentials=sms.TwilioCredentials, settings=sms.TwilioSmsSettings),
    PackageInfo(name="provider-termii", channel=Channel.SMS, title="Termii", tier=Tier.PAID,
                api="Termii SMS", max_body_chars=1600,
                credentials=sms.TermiiCredentials, settings=sms.TermiiSettings),
)


def get_package(name: str) -> PackageInfo:
    """The catalog entry of ``name``; UnknownPackageError lists the known packages."""
    try:
        return CATALOG[name]
    except KeyError:
        raise UnknownPackageError(name) from None


def packages_for(channel: Channel) -> Iterator[PackageInfo]:
    return (entry for entry in CATALOG.values() if entry.channel is channel)
