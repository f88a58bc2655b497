"""What the CRD schema cannot check: the referenced Secret's keys and the package's settings.

Results become the ``CredentialsValid`` and ``Ready`` conditions. Messages name
Secrets, keys and settings fields, never values: pydantic's ``msg`` is used,
never its ``input``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from sendpipe import logs
from sendpipe.core.catalog import PackageInfo, UnknownPackageError, get_package
from sendpipe.core.outcomes import Channel
from sendpipe.core.provider import ProviderSpec
from sendpipe.operator.kube import decode_secret_data

__all__ = ["Check", "Validation", "check_credentials", "check_spec", "validate"]

MAX_ERRORS = 10


@dataclass(frozen=True, slots=True)
class Check:
    ok: bool
    reason: str
    message: str


@dataclass(frozen=True, slots=True)
class Validation:
    """Everything the operator concluded about one Provider's spec and Secret."""

    spec: ProviderSpec | None
    package: PackageInfo | None
    spec_check: Check
    credentials_check: Check
    settings: dict[str, Any] = field(default_factory=dict)  # validated, camelCase, for the routing record
    timeout_seconds: float = 10.0
    # The package's credential entries of the Secret, in memory only (sealed before they leave the process).
    credentials: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def channel(self) -> Channel | None:
        return self.package.channel if self.package else None

    @property
    def ok(self) -> bool:
        return self.spec_check.ok and self.credentials_check.ok


def _describe(error: Mapping[str, Any], *, prefix: str) -> str:
    location = ".".join(str(part) for part in (prefix, *error.get("loc", ())) if part != "")
    return f"{location}: {error.get('msg', 'invalid')}"


def _errors(exc: ValidationError, *, prefix: str) -> str:
    described = [_describe(error, prefix=prefix) for error in exc.errors(include_input=False, include_url=False)]
    more = f" (and {len(described) - MAX_ERRORS} more)" if len(described) > MAX_ERRORS else ""
    return "; ".join(described[:MAX_ERRORS]) + more


def check_spec(raw_spec: Mapping[str, Any]) -> tuple[ProviderSpec | None, PackageInfo | None, Check, dict[str, Any], float]:
    """Parse the spec and the package's settings; the CRD already rejected most of this statically."""
    try:
        spec = ProviderSpec.model_validate(dict(raw_spec))
    except ValidationError as exc:
        return None, None, Check(False, "InvalidSpec", _errors(exc, prefix="spec")), {}, 10.0
    try:
        package = get_package(spec.package)
    except UnknownPackageError as exc:
        return spec, None, Check(False, "UnknownPackage", str(exc)), {}, 10.0
    if spec.channel is not None and spec.channel != package.channel:
        message = f"spec.channel is {spec.channel.value!r} but package {package.name} serves {package.channel.value!r}"
        return spec, package, Check(False, "ChannelMismatch", message), {}, 10.0
    try:
        settings = package.settings.model_validate(spec.settings)
    except ValidationError as exc:
        return spec, package, Check(False, "InvalidSettings", _errors(exc, prefix="spec.settings")), {}, 10.0
    return spec, package, Check(True, "Valid", "spec and settings are valid"), settings.to_wire(), settings.timeout_seconds


def check_credentials(
    package: PackageInfo, *, namespace: str, secret_name: str, secret_data: Mapping[str, str] | None
) -> tuple[Check, dict[str, str]]:
    """Check the Secret's raw ``data`` against the package's credential schema."""
    where = f"Secret {namespace}/{secret_name}"
    expected = package.credential_keys(required_only=True)
    if secret_data is None:
        return Check(False, "SecretNotFound", f"{where} not found; it needs key(s): {', '.join(expected)}"), {}
    decoded, not_text = decode_secret_data(dict(secret_data))
    wanted = set(package.credential_keys())
    values = {key: value for key, value in decoded.items() if key in wanted}
    logs.redact(*values.values())
    problems: list[str] = []
    reason = "Valid"
    unreadable = sorted(set(not_text) & wanted)
    if unreadable:
        problems.append(f"key(s) not UTF-8 text: {', '.join(unreadable)}")
        reason = "InvalidKeys"
    try:
        package.credentials.model_validate(values)
    except ValidationError as exc:
        missing = sorted({str(e["loc"][0]) for e in exc.errors() if e["type"] == "missing" and e["loc"]})
        missing = [key for key in missing if key not in unreadable]
        invalid = [e for e in exc.errors(include_input=False, include_url=False)
                   if e["type"] != "missing" and e["loc"] and str(e["loc"][0]) not in unreadable]
        if missing:
            problems.insert(0, f"missing key(s): {', '.join(missing)}")
            reason = "MissingKeys"
        if invalid:
            problems.append("invalid key(s): " + "; ".join(_describe(e, prefix="") for e in invalid[:MAX_ERRORS]))
            reason = reason if reason != "Valid" else "InvalidKeys"
    if problems:
        return Check(False, reason, f"{where}: " + "; ".join(problems)), {}
    return Check(True, "Valid", f"{where} has every key {package.name} needs"), values


def validate(*, namespace: str, raw_spec: Mapping[str, Any], secret_data: Mapping[str, str] | None) -> Validation:
    """Both checks; credentials are only checked once the spec names a known package."""
    spec, package, spec_check, settings, timeout = check_spec(raw_spec)
    if spec is None or package is None:
        pending = Check(False, "InvalidSpec", "credentials are checked once the spec is valid")
        return Validation(spec=spec, package=package, spec_check=spec_check, credentials_check=pending)
    credentials_check, values = check_credentials(
        package, namespace=namespace, secret_name=spec.credentials_secret_ref.name, secret_data=secret_data
    )
    return Validation(spec=spec, package=package, spec_check=spec_check, credentials_check=credentials_check,
                      settings=settings, timeout_seconds=timeout, credentials=values)
