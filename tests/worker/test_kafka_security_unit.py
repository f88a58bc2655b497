"""Kafka security settings reach Faust: SASL (with or without TLS) and TLS client certificates."""

from __future__ import annotations

import ssl
from pathlib import Path

import faust
import pytest
from pydantic import SecretStr

from sendpipe.settings import KafkaSettings


@pytest.fixture(scope="module")
def broker_credentials():  # type: ignore[no-untyped-def]
    from sendpipe.worker.app import _broker_credentials

    return _broker_credentials


def test_plaintext_has_no_credentials(broker_credentials) -> None:  # type: ignore[no-untyped-def]
    assert broker_credentials(KafkaSettings(bootstrap="k:9092")) is None


def test_sasl_scram_over_tls(broker_credentials, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings = KafkaSettings(
        bootstrap="k:9093",
        security_protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username="worker",
        sasl_password=SecretStr("s3cret"),
    )
    credentials = broker_credentials(settings)
    assert isinstance(credentials, faust.SASLCredentials)
    assert credentials.username == "worker" and credentials.password == "s3cret"
    assert credentials.mechanism.value == "SCRAM-SHA-512"
    assert isinstance(credentials.ssl_context, ssl.SSLContext)


def test_sasl_plain_without_tls(broker_credentials) -> None:  # type: ignore[no-untyped-def]
    settings = KafkaSettings(security_protocol="SASL_PLAINTEXT", sasl_username="u", sasl_password=SecretStr("p"))
    credentials = broker_credentials(settings)
    assert isinstance(credentials, faust.SASLCredentials) and credentials.ssl_context is None


def test_tls_only(broker_credentials) -> None:  # type: ignore[no-untyped-def]
    credentials = broker_credentials(KafkaSettings(security_protocol="SSL"))
    assert isinstance(credentials, faust.SSLCredentials)
