"""The explicit registry: one adapter per catalog package, duplicates rejected, unknown names explained."""

from __future__ import annotations

import pytest

from sendpipe.core.catalog import CATALOG, UnknownPackageError
from sendpipe.providers import ADAPTERS, Adapter, DuplicateAdapterError, build_registry, get_adapter
from sendpipe.providers.sendgrid import SendGridAdapter


def test_one_adapter_per_catalog_package() -> None:
    assert sorted(ADAPTERS) == sorted(CATALOG)
    for name, adapter in ADAPTERS.items():
        assert isinstance(adapter, Adapter)
        assert adapter.package == name and adapter.channel is CATALOG[name].channel


def test_duplicates_are_rejected() -> None:
    with pytest.raises(DuplicateAdapterError):
        build_registry([SendGridAdapter(), SendGridAdapter()])


def test_unknown_package() -> None:
    with pytest.raises(UnknownPackageError, match="provider-nope"):
        get_adapter("provider-nope")


def test_adapters_are_immutable() -> None:
    with pytest.raises(TypeError):
        ADAPTERS["x"] = ADAPTERS["provider-sendgrid"]  # type: ignore[index]
