"""The Provider CustomResourceDefinition, generated from the pydantic models and the catalog.

Why it exists: the models in ``sendpipe.core.provider`` are the single source
of truth (STYLE habit 4); the CRD under ``crds/`` is derived here and a test
fails when the checked-in file drifts. Pydantic emits JSON Schema that the API
server does not accept as a structural schema, so this module rewrites it:
``$ref`` inlined, ``anyOf [X, null]`` collapsed to an optional X, no
``additionalProperties: false`` (the API server prunes unknown fields and
strict field validation rejects them), numeric ``exclusiveMinimum`` turned into
the OpenAPI v3.0 boolean form, and anything it cannot translate is an error
rather than a silently wrong schema.

The CEL rules (``x-kubernetes-validations``) are generated from the catalog:
the channel must match the package, and each package's required settings must
be present. ``settings`` declares the union of every package's settings keys
(so CEL can see them) and preserves unknown keys: the operator validates
settings fully against the package's schema and reports typos in a condition.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sendpipe.core.catalog import CATALOG
from sendpipe.core.outcomes import Channel
from sendpipe.core.provider import GROUP, KIND, PLURAL, SHORT_NAMES, VERSION, ProviderSpec, ProviderStatus

__all__ = ["CRD_NAME", "SchemaError", "build_crd", "openapi_schema", "settings_schema", "structural"]

CRD_NAME = f"{PLURAL}.{GROUP}"
Schema = dict[str, Any]

# Rules a package's settings model enforces in a validator rather than in required fields.
_EXTRA_SETTINGS_RULES: dict[str, tuple[str, str]] = {
    "provider-twilio-sms": ("has(self.settings.from) || has(self.settings.messagingServiceSid)",
                            "provider-twilio-sms requires settings.from or settings.messagingServiceSid"),
    "provider-twilio-whatsapp": ("has(self.settings.from) || has(self.settings.messagingServiceSid)",
                                 "provider-twilio-whatsapp requires settings.from or settings.messagingServiceSid"),
}

_DROPPED = frozenset({"title", "examples", "additionalProperties", "$defs"})
_NUMERIC_EXCLUSIVE = {"exclusiveMinimum": "minimum", "exclusiveMaximum": "maximum"}


class SchemaError(ValueError):
    """A model uses a JSON Schema construct that has no structural-schema equivalent."""


def structural(node: Schema, defs: Schema, *, nullable: bool, keep_defaults: bool, where: str = "") -> Schema:
    """Rewrite one pydantic JSON Schema node as a Kubernetes structural schema node."""
    if "$ref" in node:
        target = defs[node["$ref"].rsplit("/", 1)[-1]]
        merged = {**target, **{key: value for key, value in node.items() if key != "$ref"}}
        return structural(merged, defs, nullable=nullable, keep_defaults=keep_defaults, where=where)
    if "anyOf" in node or "oneOf" in node:
        options = node.get("anyOf") or node.get("oneOf") or []
        concrete = [option for option in options if option.get("type") != "null"]
        if len(concrete) != 1 or len(options) != 2:
            raise SchemaError(f"{where or '(root)'}: unions other than Optional[X] are not structural")
        siblings = {key: value for key, value in node.items() if key not in ("anyOf", "oneOf")}
        result = structural({**concrete[0], **siblings}, defs, nullable=nullable, keep_defaults=keep_defaults,
                            where=where)
        if nullable:
            result["nullable"] = True
        return result
    out: Schema = {}
    for key, value in node.items():
        if key in _DROPPED:
            continue
        if key == "default" and (value is None or not keep_defaults):
            continue
        if key == "const":
            out["enum"] = [value]
        elif key in _NUMERIC_EXCLUSIVE and not isinstance(value, bool):
            out[_NUMERIC_EXCLUSIVE[key]] = value
            out[key] = True
        elif key == "properties":
            out[key] = {
                name: structural(child, defs, nullable=nullable, keep_defaults=keep_defaults, where=f"{where}.{name}")
                for name, child in value.items()
            }
        elif key == "items":
            out[key] = structural(value, defs, nullable=nullable, keep_defaults=keep_defaults, where=f"{where}[]")
        elif key in ("allOf", "not", "prefixItems", "$ref", "patternProperties"):
            raise SchemaError(f"{where or '(root)'}: {key} has no structural equivalent")
        else:
            out[key] = value
    additional = node.get("additionalProperties")
    if isinstance(additional, dict):
        out["additionalProperties"] = structural(additional, defs, nullable=nullable, keep_defaults=keep_defaults,
                                                 where=f"{where}.*")
    elif additional is True or (node.get("type") == "object" and "properties" not in node and additional is None):
        out["x-kubernetes-preserve-unknown-fields"] = True
    if "type" not in out and not out.get("x-kubernetes-preserve-unknown-fields"):
        raise SchemaError(f"{where or '(root)'}: every node of a structural schema needs a type")
    if "enum" in out and out.get("type") == "string":
        out["enum"] = [str(item) for item in out["enum"]]
    return _type_first(out)


def _type_first(node: Schema) -> Schema:
    """Put ``type`` and ``description`` first, so the generated YAML reads top-down."""
    head: Schema = {key: node[key] for key in ("type", "description") if key in node}
    return {**head, **{key: value for key, value in node.items() if key not in head}}


def openapi_schema(model: type[ProviderSpec] | type[ProviderStatus], *, nullable: bool, keep_defaults: bool) -> Schema:
    raw = model.model_json_schema(by_alias=True, mode="validation")
    return structural(raw, raw.get("$defs", {}), nullable=nullable, keep_defaults=keep_defaults,
                      where=model.__name__)


def settings_schema() -> Schema:
    """The union of every package's settings keys; a key declared differently keeps only its type."""
    variants: dict[str, list[Schema]] = defaultdict(list)
    users: dict[str, list[str]] = defaultdict(list)
    for name, package in CATALOG.items():
        raw = package.settings.model_json_schema(by_alias=True, mode="validation")
        converted = structural(raw, raw.get("$defs", {}), nullable=False, keep_defaults=False, where=name)
        for key, schema in converted.get("properties", {}).items():
            variants[key].append(schema)
            users[key].append(name)
    properties: Schema = {}
    for key in sorted(variants):
        schemas = variants[key]
        if all(schema == schemas[0] for schema in schemas):
            merged = dict(schemas[0])
        else:
            types = {schema.get("type") for schema in schemas}
            if len(types) != 1:
                continue  # left to x-kubernetes-preserve-unknown-fields and the operator
            merged = {"type": types.pop()}
        if len(users[key]) < len(CATALOG):
            merged["description"] = f"{merged.get('description', '').rstrip('.')}. Used by {', '.join(users[key])}."
            merged["description"] = merged["description"].lstrip(". ")
        properties[key] = _type_first(merged)
    return {
        "type": "object",
        "description": "Non-secret settings, validated by the operator against the package's settings schema.",
        "default": {},
        "properties": properties,
        "x-kubernetes-preserve-unknown-fields": True,
    }


def _cel_list(names: list[str]) -> str:
    return "[" + ", ".join(f"'{name}'" for name in names) + "]"


def spec_rules() -> list[Schema]:
    """CEL rules on ``spec``. ``package`` is a CEL reserved word, escaped as ``__package__``."""
    by_channel = {channel: [n for n, p in CATALOG.items() if p.channel is channel] for channel in Channel}
    clauses = " || ".join(
        f"(self.__package__ in {_cel_list(names)} && self.channel == '{channel.value}')"
        for channel, names in by_channel.items()
    )
    described = "; ".join(f"{channel.value}: {', '.join(names)}" for channel, names in by_channel.items())
    rules: list[Schema] = [{
        "rule": f"!has(self.channel) || {clauses}",
        "message": f"spec.channel must match the package's channel ({described})",
        "reason": "FieldValueInvalid",
        "fieldPath": ".channel",
    }]
    for name, package in CATALOG.items():
        required = [field.alias or key for key, field in package.settings.model_fields.items() if field.is_required()]
        if required:
            present = " && ".join(f"has(self.settings.{key})" for key in required)
            rules.append({
                "rule": f"self.__package__ != '{name}' || (has(self.settings) && {present})",
                "message": f"{name} requires " + " and ".join(f"settings.{key}" for key in required),
                "reason": "FieldValueRequired",
            })
        if name in _EXTRA_SETTINGS_RULES:
            rule, message = _EXTRA_SETTINGS_RULES[name]
            rules.append({
                "rule": f"self.__package__ != '{name}' || (has(self.settings) && ({rule}))",
                "message": message,
                "reason": "FieldValueRequired",
            })
    return rules


def _spec_schema() -> Schema:
    spec = openapi_schema(ProviderSpec, nullable=False, keep_defaults=True)
    spec["description"] = "Which provider API to use, its priority in its channel, and where its credentials are."
    spec["properties"]["settings"] = settings_schema()
    secret_ref = spec["properties"]["credentialsSecretRef"]
    secret_ref["properties"]["name"]["minLength"] = 1
    secret_ref["x-kubernetes-validations"] = [
        {"rule": "size(self.name) > 0", "message": "credentialsSecretRef.name must not be empty"}
    ]
    spec["x-kubernetes-validations"] = spec_rules()
    return _type_first(spec)


def _status_schema() -> Schema:
    status = openapi_schema(ProviderStatus, nullable=True, keep_defaults=False)
    status["description"] = "Written by the operator: readiness, routing rank and the published health verdict."
    conditions = status["properties"]["conditions"]
    conditions["x-kubernetes-list-type"] = "map"
    conditions["x-kubernetes-list-map-keys"] = ["type"]
    return _type_first(status)


_PRINTER_COLUMNS: list[Schema] = [
    {"name": "Channel", "type": "string", "jsonPath": ".status.channel"},
    {"name": "Package", "type": "string", "jsonPath": ".spec.package"},
    {"name": "Priority", "type": "integer", "jsonPath": ".spec.priority"},
    {"name": "Enabled", "type": "boolean", "jsonPath": ".spec.enabled"},
    {"name": "Health", "type": "string", "jsonPath": ".status.health"},
    {"name": "Error Rate", "type": "number", "jsonPath": ".status.errorRate"},
    {"name": "Ready", "type": "string", "jsonPath": '.status.conditions[?(@.type=="Ready")].status'},
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
]


def build_crd() -> Schema:
    """The whole CustomResourceDefinition object (apiextensions.k8s.io/v1)."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": CRD_NAME,
            "annotations": {"sendpipe.io/generated-by": "sendpipe generate"},
        },
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": KIND,
                "listKind": f"{KIND}List",
                "plural": PLURAL,
                "singular": KIND.lower(),
                "shortNames": list(SHORT_NAMES),
                "categories": ["sendpipe"],
            },
            "versions": [{
                "name": VERSION,
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
                "additionalPrinterColumns": _PRINTER_COLUMNS,
                "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "description": "A third-party delivery provider (email, SMS or WhatsApp) of one namespace.",
                    "required": ["spec"],
                    "properties": {
                        "apiVersion": {"type": "string"},
                        "kind": {"type": "string"},
                        "metadata": {"type": "object"},
                        "spec": _spec_schema(),
                        "status": _status_schema(),
                    },
                }},
            }],
        },
    }
