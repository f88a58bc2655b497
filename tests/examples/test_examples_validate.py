"""Every example manifest and message is valid, so the examples never rot.

The examples are also applied to a real API server by the end-to-end tests;
this fast check names the exact file and field when one drifts from the models.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from sendpipe.core.catalog import get_package
from sendpipe.core.messages import parse_send_request
from sendpipe.core.provider import ProviderSpec

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
MANIFESTS = sorted((EXAMPLES / "organizations").rglob("*.yaml"))
MESSAGES = sorted((EXAMPLES / "messages").glob("*.json"))


def _documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def test_every_package_has_an_example() -> None:
    from sendpipe.core.catalog import CATALOG

    packages = {
        doc["spec"]["package"]
        for path in MANIFESTS
        for doc in _documents(path)
        if doc["kind"] == "Provider"
    }
    assert packages == set(CATALOG)


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: str(p.relative_to(EXAMPLES)))
def test_provider_examples_are_valid(path: Path) -> None:
    documents = _documents(path)
    secrets = {doc["metadata"]["name"]: doc for doc in documents if doc["kind"] == "Secret"}
    for doc in documents:
        if doc["kind"] != "Provider":
            continue
        spec = ProviderSpec.model_validate(doc["spec"])
        package = get_package(spec.package)
        assert spec.channel in (None, package.channel)
        package.settings.model_validate(spec.settings)
        secret = secrets[spec.credentials_secret_ref.name]
        assert secret["metadata"]["namespace"] == doc["metadata"]["namespace"]
        package.credentials.model_validate(secret["stringData"])


@pytest.mark.parametrize("path", MESSAGES, ids=lambda p: p.name)
def test_message_examples_are_valid(path: Path) -> None:
    request = parse_send_request(path.read_bytes())
    assert request.namespace == "acme"
