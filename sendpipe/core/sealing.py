"""Sealing provider credentials for the trip through Kafka (ARCHITECTURE.md §7).

The operator reads a Provider's Secret and seals the credentials into the
routing record; workers unseal them in memory. Sealing is AES-256-GCM with a
random 96-bit nonce; the associated data binds a sealed blob to its key id
and to the provider uid, so a blob copied into another provider's entry
fails to open. The sealed form is text::

    v1.<key-id>.<base64url(nonce | ciphertext+tag)>

A :class:`Keyring` holds several keys, one of them active: the operator
seals with the active key, workers open with whichever key id a blob names.
Rotation without downtime: add the new key to the workers' keyring first,
then make it active for the operator, then drop the old key once every
record has been resealed.

Keyrings come from JSON ``{"active": "<key-id>", "keys": {"<key-id>": "<base64 of 32 bytes>", ...}}``
(the ``keys.json`` entry of the chart's sealing Secret, mounted as a file or
given inline in an environment value), or from the flat mapping
``{"active": id, id: key, ...}`` (a Secret's entries, a mounted directory). Nothing here ever logs or
prints a key or a credential; ``repr`` of a key shows its id only.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = [
    "ACTIVE_ENTRY",
    "FORMAT_VERSION",
    "SECRET_ENTRY",
    "KeyFormatError",
    "Keyring",
    "SealedFormatError",
    "SealingError",
    "SealingKey",
    "TamperedError",
    "UnknownKeyError",
    "generate_key",
]

FORMAT_VERSION = "v1"
ACTIVE_ENTRY = "active"
SECRET_ENTRY = "keys.json"
KEY_BYTES = 32
NONCE_BYTES = 12
KEY_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_SEALED_CHARS = 64 * 1024


class SealingError(Exception):
    """Base of every sealing failure; messages never contain key material or plaintext."""


class KeyFormatError(SealingError):
    """A keyring source is malformed (bad key id, wrong key length, no active key...)."""


class SealedFormatError(SealingError):
    """The text is not a sealed blob of a known format."""


class UnknownKeyError(SealingError):
    """The blob was sealed with a key this keyring does not hold (rotated out, or not rolled out yet)."""

    def __init__(self, key_id: str, known: Iterable[str]) -> None:
        self.key_id = key_id
        super().__init__(
            f"sealed with key {key_id!r}, which this keyring does not hold (known: {', '.join(sorted(known)) or 'none'}); "
            "add that key to the sealing Secret/file before removing it from the operator"
        )


class TamperedError(SealingError):
    """Authentication failed: wrong provider uid, modified blob, or a different key under the same id."""


@dataclass(frozen=True, slots=True)
class SealingKey:
    key_id: str
    secret: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if not KEY_ID_PATTERN.match(self.key_id) or self.key_id == ACTIVE_ENTRY:
            raise KeyFormatError(
                f"invalid key id {self.key_id!r}: use 1-64 letters, digits, '-' or '_' (and not {ACTIVE_ENTRY!r})"
            )
        if len(self.secret) != KEY_BYTES:
            raise KeyFormatError(f"key {self.key_id!r} must be {KEY_BYTES} bytes, got {len(self.secret)}")

    @classmethod
    def from_text(cls, key_id: str, text: str | bytes) -> SealingKey:
        """A key from its base64 (standard or url-safe, padding optional) text."""
        raw = text.decode("ascii", errors="replace") if isinstance(text, bytes) else text
        raw = raw.strip()
        try:
            secret = base64.urlsafe_b64decode(_pad(raw.replace("+", "-").replace("/", "_")))
        except (binascii.Error, ValueError):
            raise KeyFormatError(f"key {key_id!r} is not valid base64") from None
        return cls(key_id, secret)


def generate_key() -> str:
    """A new random key as base64 text, ready to put into the sealing Secret."""
    return base64.b64encode(os.urandom(KEY_BYTES)).decode("ascii")


class Keyring:
    """Several keys by id, one active for sealing; any of them opens."""

    def __init__(self, keys: Iterable[SealingKey], *, active: str) -> None:
        self._keys: dict[str, SealingKey] = {}
        for key in keys:
            if key.key_id in self._keys:
                raise KeyFormatError(f"key id {key.key_id!r} appears twice")
            self._keys[key.key_id] = key
        if active not in self._keys:
            raise KeyFormatError(
                f"active key {active!r} is not in the keyring (keys: {', '.join(sorted(self._keys)) or 'none'})"
            )
        self.active_id = active
        self._aead = {key_id: AESGCM(key.secret) for key_id, key in self._keys.items()}

    def __repr__(self) -> str:
        return f"Keyring(active={self.active_id!r}, keys={sorted(self._keys)!r})"

    @property
    def key_ids(self) -> list[str]:
        return sorted(self._keys)

    # -- sources -------------------------------------------------------------------------------

    @classmethod
    def from_mapping(cls, data: Mapping[str, str | bytes]) -> Keyring:
        """From ``{"active": id, id: base64-key, ...}`` (a Secret's decoded data, a directory, JSON)."""
        active_raw = data.get(ACTIVE_ENTRY)
        if active_raw is None:
            raise KeyFormatError(f"no {ACTIVE_ENTRY!r} entry naming the key to seal with")
        active = active_raw.decode() if isinstance(active_raw, bytes) else active_raw
        if not isinstance(active, str):
            raise KeyFormatError(f"the {ACTIVE_ENTRY!r} entry must be a key id")
        keys = [SealingKey.from_text(key_id, value) for key_id, value in data.items() if key_id != ACTIVE_ENTRY]
        return cls(keys, active=active.strip())

    @classmethod
    def from_json(cls, text: str | bytes) -> Keyring:
        """From ``{"active": id, "keys": {id: key, ...}}`` or the flat ``{"active": id, id: key, ...}``."""
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise KeyFormatError("sealing keys are not valid JSON") from None
        if isinstance(data, dict) and isinstance(data.get("keys"), dict):
            data = {**data.pop("keys"), **data}
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            raise KeyFormatError('sealing keys JSON must look like {"active": "k1", "keys": {"k1": "<base64>"}}')
        return cls.from_mapping(data)

    @classmethod
    def from_path(cls, path: Path) -> Keyring:
        """From a JSON file, or a mounted Secret directory (its ``keys.json``, else one file per entry)."""
        if path.is_dir():
            inner = path / SECRET_ENTRY
            return cls.from_json(inner.read_bytes()) if inner.is_file() else cls.from_directory(path)
        if not path.is_file():
            raise KeyFormatError(f"sealing keys file {str(path)!r} does not exist")
        return cls.from_json(path.read_bytes())

    @classmethod
    def from_directory(cls, path: Path) -> Keyring:
        """From a mounted Secret: one file per entry (Kubernetes' hidden ``..data`` links are skipped)."""
        if not path.is_dir():
            raise KeyFormatError(f"sealing key directory {str(path)!r} does not exist")
        data = {
            entry.name: entry.read_text().strip()
            for entry in sorted(path.iterdir())
            if not entry.name.startswith(".") and entry.is_file()
        }
        return cls.from_mapping(data)

    @classmethod
    def from_secret_data(cls, data: Mapping[str, str]) -> Keyring:
        """From a Secret's ``data`` as the API returns it: a ``keys.json`` entry, else one entry per key."""
        decoded: dict[str, str] = {}
        for name, value in data.items():
            try:
                decoded[name] = base64.b64decode(value, validate=True).decode("utf-8")
            except (binascii.Error, ValueError, UnicodeDecodeError):
                raise KeyFormatError(f"entry {name!r} of the sealing Secret is not valid base64 text") from None
        if SECRET_ENTRY in decoded:
            return cls.from_json(decoded[SECRET_ENTRY])
        return cls.from_mapping(decoded)

    # -- sealing -------------------------------------------------------------------------------

    def seal(self, credentials: Mapping[str, str], *, provider_uid: str) -> str:
        """Encrypt ``credentials`` under the active key, bound to ``provider_uid``."""
        plaintext = json.dumps(dict(credentials), sort_keys=True, separators=(",", ":")).encode()
        nonce = os.urandom(NONCE_BYTES)
        ciphertext = self._aead[self.active_id].encrypt(nonce, plaintext, _aad(self.active_id, provider_uid))
        body = base64.urlsafe_b64encode(nonce + ciphertext).rstrip(b"=").decode("ascii")
        return f"{FORMAT_VERSION}.{self.active_id}.{body}"

    def unseal(self, sealed: str, *, provider_uid: str) -> dict[str, str]:
        """Decrypt a blob sealed for ``provider_uid``; raises a SealingError subclass otherwise."""
        key_id, blob = _split(sealed)
        aead = self._aead.get(key_id)
        if aead is None:
            raise UnknownKeyError(key_id, self._keys)
        try:
            plaintext = aead.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], _aad(key_id, provider_uid))
        except InvalidTag:
            raise TamperedError(
                f"sealed credentials did not authenticate under key {key_id!r} for provider {provider_uid!r} "
                "(modified, moved from another provider, or the key changed under the same id)"
            ) from None
        data = json.loads(plaintext)
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            raise SealedFormatError("sealed payload is not an object of strings")
        return data

    @staticmethod
    def key_id_of(sealed: str) -> str:
        """The key id a blob was sealed with (without opening it)."""
        return _split(sealed)[0]


def _aad(key_id: str, provider_uid: str) -> bytes:
    return f"sendpipe/{FORMAT_VERSION}/{key_id}/{provider_uid}".encode()


def _split(sealed: str) -> tuple[str, bytes]:
    if not isinstance(sealed, str) or len(sealed) > MAX_SEALED_CHARS:
        raise SealedFormatError("sealed credentials must be a string of at most 64 KiB")
    parts = sealed.split(".")
    if len(parts) != 3 or parts[0] != FORMAT_VERSION:
        raise SealedFormatError(f"not a sealed blob: expected '{FORMAT_VERSION}.<key-id>.<data>'")
    key_id, body = parts[1], parts[2]
    if not KEY_ID_PATTERN.match(key_id):
        raise SealedFormatError("sealed blob names an invalid key id")
    try:
        blob = base64.urlsafe_b64decode(_pad(body))
    except (binascii.Error, ValueError):
        raise SealedFormatError("sealed blob data is not base64url") from None
    if len(blob) < NONCE_BYTES + 16:
        raise SealedFormatError("sealed blob is too short")
    return key_id, blob


def _pad(text: str) -> str:
    return text + "=" * (-len(text) % 4)
