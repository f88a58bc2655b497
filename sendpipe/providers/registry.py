"""The explicit adapter registry: package name -> adapter, one entry per catalog package, duplicates rejected.

Adding a package is one import and one line here, not a folder scan
(STYLE.md: an explicit registry beats discovery).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType

from sendpipe.core.catalog import UnknownPackageError
from sendpipe.providers import (
    africastalking,
    dialog360,
    mailgun,
    meta_cloud,
    resend,
    sendgrid,
    ses,
    smtp,
    termii,
    twilio,
)
from sendpipe.providers.base import Adapter


class DuplicateAdapterError(ValueError):
    pass


def build_registry(adapters: Iterable[Adapter]) -> Mapping[str, Adapter]:
    registry: dict[str, Adapter] = {}
    for adapter in adapters:
        if adapter.package in registry:
            raise DuplicateAdapterError(f"an adapter for {adapter.package!r} is already registered")
        registry[adapter.package] = adapter
    return MappingProxyType(registry)


ADAPTERS: Mapping[str, Adapter] = build_registry(
    [
        ses.ADAPTER,
        sendgrid.ADAPTER,
        mailgun.ADAPTER,
        resend.ADAPTER,
        smtp.ADAPTER,
        meta_cloud.ADAPTER,
        dialog360.ADAPTER,
        twilio.WHATSAPP_ADAPTER,
        africastalking.ADAPTER,
        twilio.SMS_ADAPTER,
        termii.ADAPTER,
    ]
)


def get_adapter(package: str) -> Adapter:
    """The adapter of a catalog package; UnknownPackageError (a LookupError) if there is none."""
    try:
        return ADAPTERS[package]
    except KeyError:
        raise UnknownPackageError(package) from None
