"""The generated Provider CRD: a structural schema with the columns and CEL rules the design asks for.

These checks are static; ``test_crd_apiserver.py`` applies the CRD to the real
kube-apiserver of the local stack and tries valid and invalid Providers.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from sendpipe.core.catalog import CATALOG
from sendpipe.core.crd import SchemaError, build_crd, structural
from sendpipe.core.provider import SHORT_NAMES

CRD = build_crd()
VERSION = CRD["spec"]["versions"][0]
ROOT = VERSION["schema"]["openAPIV3Schema"]
SPEC = ROOT["properties"]["spec"]
STATUS = ROOT["properties"]["status"]
FORBIDDEN = {"$ref", "$defs", "anyOf", "oneOf", "allOf", "const", "examples", "title", "propertyNames", "prefixItems"}


def nodes(schema: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    yield path, schema
    for name, child in schema.get("properties", {}).items():
        yield from nodes(child, f"{path}.{name}")
    if isinstance(schema.get("items"), dict):
        yield from nodes(schema["items"], f"{path}[]")
    if isinstance(schema.get("additionalProperties"), dict):
        yield from nodes(schema["additionalProperties"], f"{path}.*")


def test_identity() -> None:
    assert CRD["apiVersion"] == "apiextensions.k8s.io/v1"
    assert CRD["metadata"]["name"] == "providers.sendpipe.io"
    spec = CRD["spec"]
    assert (spec["group"], spec["scope"]) == ("sendpipe.io", "Namespaced")
    assert spec["names"]["kind"] == "Provider" and spec["names"]["plural"] == "providers"
    assert spec["names"]["shortNames"] == list(SHORT_NAMES)
    assert [(v["name"], v["served"], v["storage"]) for v in spec["versions"]] == [("v1alpha1", True, True)]
    assert VERSION["subresources"] == {"status": {}}


def test_printer_columns() -> None:
    columns = {c["name"].upper(): (c["jsonPath"], c["type"]) for c in VERSION["additionalPrinterColumns"]}
    assert list(columns) == ["CHANNEL", "PACKAGE", "PRIORITY", "ENABLED", "HEALTH", "ERROR RATE", "READY", "AGE"]
    assert columns["ERROR RATE"] == (".status.errorRate", "number")
    assert columns["READY"] == ('.status.conditions[?(@.type=="Ready")].status', "string")
    assert columns["AGE"] == (".metadata.creationTimestamp", "date")


@pytest.mark.parametrize(("path", "node"), list(nodes(ROOT)), ids=lambda v: v if isinstance(v, str) else "")
def test_every_node_is_structural(path: str, node: dict[str, Any]) -> None:
    assert not FORBIDDEN & node.keys(), f"{path} uses {FORBIDDEN & node.keys()}"
    assert "type" in node or node.get("x-kubernetes-preserve-unknown-fields"), f"{path} has no type"
    assert node.get("additionalProperties") is not False, f"{path}: additionalProperties false is not structural"
    for key in ("exclusiveMinimum", "exclusiveMaximum"):
        assert isinstance(node.get(key, True), bool), f"{path}.{key} must be the OpenAPI v3.0 boolean form"


def test_spec_fields_enums_ranges_and_defaults() -> None:
    props = SPEC["properties"]
    assert SPEC["required"] == ["package", "credentialsSecretRef"]
    assert props["package"]["enum"] == list(CATALOG)
    assert props["channel"]["enum"] == ["email", "sms", "whatsapp"] and "nullable" not in props["channel"]
    assert (props["priority"]["minimum"], props["priority"]["maximum"], props["priority"]["default"]) == (0, 1_000_000, 100)
    assert props["enabled"]["default"] is True
    assert props["settings"]["x-kubernetes-preserve-unknown-fields"] is True
    assert props["settings"]["default"] == {}
    assert props["settings"]["properties"]["timeoutSeconds"]["exclusiveMinimum"] is True


def test_settings_declare_every_packages_keys() -> None:
    declared = set(SPEC["properties"]["settings"]["properties"])
    for info in CATALOG.values():
        keys = {field.alias or name for name, field in info.settings.model_fields.items()}
        assert keys <= declared, info.name


def test_status_is_strict_and_nullable_where_optional() -> None:
    props = STATUS["properties"]
    assert props["ejectedUntil"]["nullable"] is True and props["ejectedUntil"]["format"] == "date-time"
    assert props["health"]["enum"] == ["unknown", "healthy", "degraded", "unhealthy"]
    assert "default" not in props["health"]
    conditions = props["conditions"]
    assert conditions["x-kubernetes-list-type"] == "map"
    assert conditions["x-kubernetes-list-map-keys"] == ["type"]
    assert "type" in conditions["items"]["required"]


def rules() -> list[dict[str, str]]:
    return list(SPEC["x-kubernetes-validations"])


def test_channel_rule_names_every_package_and_escapes_the_reserved_word() -> None:
    channel_rule = rules()[0]
    for name in CATALOG:
        assert f"'{name}'" in channel_rule["rule"] and name in channel_rule["message"]
    for rule in rules():
        assert "self.package" not in rule["rule"], "package is a CEL reserved word: use self.__package__"
        assert "\n" not in rule["message"]


@pytest.mark.parametrize(
    ("package", "keys"),
    [("provider-ses", ["region", "from"]), ("provider-mailgun", ["domain", "from"]),
     ("provider-smtp", ["host", "from"]), ("provider-meta-cloud", ["phoneNumberId"])],
)
def test_required_settings_rules(package: str, keys: list[str]) -> None:
    [rule] = [r for r in rules() if f"!= '{package}'" in r["rule"]]
    for key in keys:
        assert f"has(self.settings.{key})" in rule["rule"] and f"settings.{key}" in rule["message"]


def test_secret_ref_name_must_not_be_empty() -> None:
    ref = SPEC["properties"]["credentialsSecretRef"]
    assert ref["properties"]["name"]["minLength"] == 1
    assert ref["x-kubernetes-validations"][0]["rule"] == "size(self.name) > 0"


@pytest.mark.parametrize(
    "node",
    [
        {"anyOf": [{"type": "string"}, {"type": "integer"}]},
        {"allOf": [{"type": "string"}], "type": "string"},
        {"properties": {"x": {}}, "type": "object"},
    ],
)
def test_untranslatable_schemas_are_errors(node: dict[str, Any]) -> None:
    with pytest.raises(SchemaError):
        structural(node, {}, nullable=False, keep_defaults=False)
