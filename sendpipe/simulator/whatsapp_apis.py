"""Simulated WhatsApp APIs: Meta's Cloud API and 360dialog v2 (which proxies the Cloud API format).

Both validate the Cloud API message body with Graph-style errors
(``{"error": {"message", "type", "code", "error_data", "fbtrace_id"}}``);
360dialog answers a bad key with its own ``{"meta": {...}}`` shape.
The magic numbers (state.py) get Meta's 131026 "Message Undeliverable".
"""

from __future__ import annotations

import base64
import secrets
from typing import Any

from aiohttp import web

from sendpipe.simulator.base import ProviderSim, SimRequest, hex_id, json_reply, malformed
from sendpipe.simulator.state import BLOCKED_PHONE, INVALID_PHONE, UNROUTABLE_PHONE


def graph_error(status: int, code: int, message: str, *, kind: str = "OAuthException", details: str | None = None,
                subcode: int | None = None, retry_after: int | None = None) -> web.Response:
    error: dict[str, Any] = {"message": message, "type": kind, "code": code, "fbtrace_id": secrets.token_urlsafe(16)}
    if details is not None:
        error["error_data"] = {"messaging_product": "whatsapp", "details": details}
    if subcode is not None:
        error["error_subcode"] = subcode
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return json_reply({"error": error}, status=status, headers=headers)


def _param(name: str) -> web.Response:
    return graph_error(400, 100, f"(#100) The parameter {name} is required.", details=f"The parameter {name} is required.")


def validate_message(body: Any) -> web.Response | None:
    """Cloud API body checks: None if the message is acceptable."""
    if not isinstance(body, dict):
        return graph_error(400, 100, "(#100) Invalid parameter", details="Request body must be a JSON object")
    if body.get("messaging_product") != "whatsapp":
        return _param("messaging_product")
    if not body.get("to"):
        return _param("to")
    kind = body.get("type", "text")
    if kind == "text":
        if not isinstance(body.get("text"), dict) or not body["text"].get("body"):
            return _param("text['body']")
    elif kind == "template":
        template = body.get("template")
        if not isinstance(template, dict) or not template.get("name"):
            return _param("template['name']")
        if not isinstance(template.get("language"), dict) or not template["language"].get("code"):
            return _param("template['language']['code']")
    else:
        return graph_error(400, 131051, "(#131051) Unsupported message type", details=f"Message type {kind} is not supported")
    number = "+" + str(body["to"]).lstrip("+")
    if number in (INVALID_PHONE, UNROUTABLE_PHONE, BLOCKED_PHONE):
        return undeliverable()
    return None


def undeliverable() -> web.Response:
    return graph_error(400, 131026, "(#131026) Message Undeliverable.", details="Message Undeliverable.")


def accepted(body: dict[str, Any]) -> web.Response:
    to = str(body["to"])
    wamid = "wamid." + base64.b64encode(f"HBgL{to.lstrip('+')}FQIAERgS{hex_id(18).upper()}".encode()).decode()
    message: dict[str, str] = {"id": wamid}
    if body.get("type") == "template":
        message["message_status"] = "accepted"
    return json_reply({"messaging_product": "whatsapp", "contacts": [{"input": to, "wa_id": to.lstrip("+")}],
                       "messages": [message]})


def _common_error(kind: str, retry_after: int) -> web.Response:
    if kind == "throttle":
        return graph_error(429, 130429, "(#130429) Rate limit hit", details="Cloud API message throughput has been reached.",
                           retry_after=retry_after)
    if kind == "invalid_recipient":
        return undeliverable()
    if kind == "validation":
        return _param("to")
    if kind == "malformed":
        return malformed()
    return graph_error(500, 131000, "(#131000) Something went wrong", details="Something went wrong")


class MetaCloudSim(ProviderSim):
    name = "meta"
    routes = (("POST", "/{version}/{phone_number_id}/messages"),)

    async def handle(self, request: SimRequest) -> web.Response:
        creds = request.credentials
        if request.bearer() != creds.meta_access_token:
            return self.error("auth", retry_after=0)
        phone_number_id = request.match["phone_number_id"]
        if creds.meta_phone_number_ids and phone_number_id not in creds.meta_phone_number_ids:
            return graph_error(400, 100, f"Unsupported post request. Object with ID '{phone_number_id}' does not exist, "
                               "cannot be loaded due to missing permissions, or does not support this operation.",
                               kind="GraphMethodException", subcode=33)
        body = request.json()
        return validate_message(body) or accepted(body)

    def error(self, kind: str, *, retry_after: int) -> web.Response:
        if kind == "auth":
            return graph_error(401, 190, "Invalid OAuth access token - Cannot parse access token")
        return _common_error(kind, retry_after)


def _d360_meta(status: int, message: str) -> web.Response:
    return json_reply({"meta": {"success": False, "http_code": status, "developer_message": message,
                                "360dialog_trace_id": secrets.token_urlsafe(12)}}, status=status)


class Dialog360Sim(ProviderSim):
    name = "360dialog"
    routes = (("POST", "/messages"),)

    async def handle(self, request: SimRequest) -> web.Response:
        if request.headers.get("D360-API-KEY") != request.credentials.dialog360_api_key:
            return self.error("auth", retry_after=0)
        body = request.json()
        return validate_message(body) or accepted(body)

    def error(self, kind: str, *, retry_after: int) -> web.Response:
        if kind == "auth":
            return _d360_meta(401, "Invalid api_key")
        if kind == "server_error":
            return _d360_meta(500, "Internal server error")
        return _common_error(kind, retry_after)
