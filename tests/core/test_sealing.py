"""Sealing credentials: round trip, binding to the provider uid, rotation, and clear errors."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from sendpipe.core import sealing
from sendpipe.core.sealing import Keyring, SealingKey

CREDS = {"apiKey": "SG.very-secret-value-123", "other": "päss wörd"}


def _keyring(*ids: str, active: str | None = None) -> Keyring:
    data: dict[str, str] = {key_id: sealing.generate_key() for key_id in ids}
    data["active"] = active or ids[-1]
    return Keyring.from_mapping(data)


def test_round_trip_and_format() -> None:
    ring = _keyring("k1")
    sealed = ring.seal(CREDS, provider_uid="uid-1")
    version, key_id, body = sealed.split(".")
    assert (version, key_id) == ("v1", "k1")
    assert "=" not in body and "+" not in body and "/" not in body
    assert ring.unseal(sealed, provider_uid="uid-1") == CREDS


def test_sealed_text_contains_no_plaintext_and_differs_each_time() -> None:
    ring = _keyring("k1")
    first, second = (ring.seal(CREDS, provider_uid="u") for _ in range(2))
    assert first != second  # fresh nonce
    for value in CREDS.values():
        assert value not in first
        assert base64.b64encode(value.encode()).decode() not in first


def test_bound_to_provider_uid() -> None:
    ring = _keyring("k1")
    sealed = ring.seal(CREDS, provider_uid="uid-a")
    with pytest.raises(sealing.TamperedError, match="uid-b"):
        ring.unseal(sealed, provider_uid="uid-b")


@pytest.mark.parametrize("position", [5, 20, -1])
def test_tampering_detected(position: int) -> None:
    ring = _keyring("k1")
    sealed = ring.seal(CREDS, provider_uid="u")
    prefix, body = sealed.rsplit(".", 1)
    raw = bytearray(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    raw[position] ^= 0x01
    forged = prefix + "." + base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
    with pytest.raises(sealing.TamperedError):
        ring.unseal(forged, provider_uid="u")


def test_key_id_swap_detected() -> None:
    ring = _keyring("k1", "k2", active="k1")
    sealed = ring.seal(CREDS, provider_uid="u")
    with pytest.raises(sealing.TamperedError):
        ring.unseal(sealed.replace("v1.k1.", "v1.k2.", 1), provider_uid="u")


def test_rotation_old_and_new_keys_open() -> None:
    old = _keyring("k1")
    sealed_old = old.seal(CREDS, provider_uid="u")
    # Workers hold both keys while the operator switches to k2.
    both_data = {"k1": base64.b64encode(old._keys["k1"].secret).decode(), "k2": sealing.generate_key()}
    operator_ring = Keyring.from_mapping({**both_data, "active": "k2"})
    worker_ring = Keyring.from_mapping({**both_data, "active": "k1"})
    sealed_new = operator_ring.seal(CREDS, provider_uid="u")
    assert Keyring.key_id_of(sealed_new) == "k2"
    assert worker_ring.unseal(sealed_old, provider_uid="u") == CREDS
    assert worker_ring.unseal(sealed_new, provider_uid="u") == CREDS


def test_unknown_key_id_is_a_clear_error() -> None:
    sealed = _keyring("k9").seal(CREDS, provider_uid="u")
    with pytest.raises(sealing.UnknownKeyError, match="'k9'.*known: k1"):
        _keyring("k1").unseal(sealed, provider_uid="u")


@pytest.mark.parametrize("text", ["", "v2.k1.abc", "v1.k1", "v1.bad id.AAAA", "v1.k1.!!!", "v1.k1.AAAA"])
def test_malformed_blobs(text: str) -> None:
    with pytest.raises(sealing.SealingError):
        _keyring("k1").unseal(text, provider_uid="u")


def test_keyring_sources(tmp_path: Path) -> None:
    key = sealing.generate_key()
    data = {"active": "k1", "k1": key}
    (tmp_path / "active").write_text("k1\n")
    (tmp_path / "k1").write_text(key + "\n")
    (tmp_path / "..data").mkdir()  # as in a mounted Secret
    from_dir = Keyring.from_directory(tmp_path)
    from_json = Keyring.from_json(json.dumps(data))
    from_secret = Keyring.from_secret_data({k: base64.b64encode(v.encode()).decode() for k, v in data.items()})
    sealed = from_dir.seal(CREDS, provider_uid="u")
    assert from_json.unseal(sealed, provider_uid="u") == CREDS
    assert from_secret.unseal(sealed, provider_uid="u") == CREDS


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"k1": sealing.generate_key()}, "no 'active'"),
        ({"active": "k2", "k1": sealing.generate_key()}, "active key 'k2'"),
        ({"active": "k1", "k1": base64.b64encode(b"short").decode()}, "32 bytes"),
        ({"active": "bad.id", "bad.id": sealing.generate_key()}, "invalid key id"),
    ],
)
def test_bad_keyrings(data: dict[str, str], message: str) -> None:
    with pytest.raises(sealing.KeyFormatError, match=message):
        Keyring.from_mapping(data)


def test_repr_never_shows_key_material() -> None:
    key = sealing.generate_key()
    ring = Keyring.from_mapping({"active": "k1", "k1": key})
    assert key not in repr(ring)
    assert key not in repr(SealingKey.from_text("k1", key))
    assert "k1" in repr(ring)


def test_chart_keys_json_format(tmp_path: Path) -> None:
    """The Helm chart's sealing Secret: keys.json = {"active": id, "keys": {id: base64(32 ASCII chars)}}."""
    chart_key = base64.b64encode(b"A" * 32).decode()
    text = json.dumps({"active": "k1", "keys": {"k1": chart_key}})
    (tmp_path / "keys.json").write_text(text)
    ring = Keyring.from_path(tmp_path)
    assert ring.active_id == "k1"
    assert Keyring.from_path(tmp_path / "keys.json").unseal(ring.seal(CREDS, provider_uid="u"), provider_uid="u") == CREDS
    secret = Keyring.from_secret_data({"keys.json": base64.b64encode(text.encode()).decode()})
    assert secret.key_ids == ["k1"]
