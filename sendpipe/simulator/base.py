"""The shape of one simulated provider API: routes, a request handler, and its own error replies.

Each simulated provider is a small class: ``name`` (its path prefix on the
shared server), ``routes`` (its real paths), ``handle`` (check auth and
payload as the real API does, answer with its real shapes) and ``error``
(the provider's reply for an injected fault kind).
"""

from __future__ import annotations

import json
import secrets
import urllib.parse
from dataclasses import dataclass
from typing import Any, ClassVar

from aiohttp import web

from sendpipe.simulator.state import INVALID_EMAIL_PREFIX, SimCredentials


@dataclass(slots=True)
class SimRequest:
    method: str
    path: str
    headers: Any  # CIMultiDictProxy
    body: bytes
    match: dict[str, str]
    credentials: SimCredentials

    def json(self) -> Any:
        try:
            return json.loads(self.body or b"null")
        except ValueError:
            return None

    def form(self) -> dict[str, str]:
        parsed = urllib.parse.parse_qs(self.body.decode("utf-8", errors="replace"), keep_blank_values=True)
        return {key: values[-1] for key, values in parsed.items()}

    def bearer(self) -> str | None:
        value = self.headers.get("Authorization", "")
        return value[7:] if value.startswith("Bearer ") else None

    def basic(self) -> tuple[str, str] | None:
        import base64
        import binascii

        value = self.headers.get("Authorization", "")
        if not value.startswith("Basic "):
            return None
        try:
            user, _, password = base64.b64decode(value[6:]).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return user, password


def json_reply(body: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=json.dumps(body).encode(), status=status, content_type="application/json", headers=headers)


def text_reply(body: str, *, status: int, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(text=body, status=status, headers=headers)


def malformed() -> web.Response:
    return web.Response(text="<html><body>502 Bad Gateway</body></html>", status=200, content_type="text/html")


def hex_id(n: int = 32) -> str:
    return secrets.token_hex(n // 2)


def bad_email(address: object) -> bool:
    text = str(address or "")
    local, at, domain = text.rpartition("<")[2].rstrip(">").partition("@")
    return not at or not local or "." not in domain or local.lower().startswith(INVALID_EMAIL_PREFIX)


class ProviderSim:
    name: ClassVar[str]
    routes: ClassVar[tuple[tuple[str, str], ...]]

    async def handle(self, request: SimRequest) -> web.Response:
        raise NotImplementedError

    def error(self, kind: str, *, retry_after: int) -> web.Response:
        raise NotImplementedError
