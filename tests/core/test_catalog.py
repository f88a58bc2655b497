"""The catalog of the 11 marketplace packages."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from sendpipe.core.catalog import CATALOG, Credentials, Settings, Tier, UnknownPackageError, get_package, packages_for
from sendpipe.core.outcomes import Channel

EXPECTED = {
    Channel.EMAIL: {"provider-ses", "provider-sendgrid", "provider-mailgun", "provider-resend", "provider-smtp"},
    Channel.WHATSAPP: {"provider-meta-cloud", "provider-360dialog", "provider-twilio-whatsapp"},
    Channel.SMS: {"provider-africastalking", "provider-twilio-sms", "provider-termii"},
}


def test_eleven_packages_in_their_channels() -> None:
    assert len(CATALOG) == 11
    for channel, names in EXPECTED.items():
        assert {info.name for info in packages_for(channel)} == names


def test_email_is_free_and_the_rest_paid() -> None:
    for info in CATALOG.values():
        assert info.tier is (Tier.FREE if info.channel is Channel.EMAIL else Tier.PAID), info.name


def test_every_entry_has_schemas_of_the_right_kind() -> None:
    for name, info in CATALOG.items():
        assert info.name == name
        assert issubclass(info.credentials, Credentials) and issubclass(info.settings, Settings)
        assert info.credential_keys(required_only=True), f"{name} reads no credential"


@pytest.mark.parametrize(
    ("package", "keys"),
    [
        ("provider-ses", ["accessKeyId", "secretAccessKey", "sessionToken"]),
        ("provider-twilio-sms", ["accountSid", "authToken"]),
        ("provider-termii", ["apiKey"]),
        ("provider-smtp", ["username", "password"]),
    ],
)
def test_credential_keys_follow_the_provider_docs(package: str, keys: list[str]) -> None:
    assert get_package(package).credential_keys() == keys


def test_unknown_package_lists_the_known_ones() -> None:
    with pytest.raises(UnknownPackageError) as caught:
        get_package("provider-pigeon")
    assert caught.value.name == "provider-pigeon"
    for name in CATALOG:
        assert name in str(caught.value)
    assert isinstance(caught.value, LookupError)


def test_credentials_never_print_in_clear_and_ignore_extra_secret_keys() -> None:
    creds = get_package("provider-termii").credentials.model_validate({"apiKey": "s3cret", "other": "x"})
    assert "s3cret" not in repr(creds) and "s3cret" not in creds.model_dump_json()


@pytest.mark.parametrize(
    ("package", "settings"),
    [("provider-twilio-sms", {}), ("provider-mailgun", {"from": "a@b.example"}), ("provider-smtp", {"host": "x"})],
)
def test_settings_that_miss_a_required_value_are_refused(package: str, settings: dict[str, str]) -> None:
    model: type[BaseModel] = get_package(package).settings
    with pytest.raises(ValidationError):
        model.model_validate(settings)
