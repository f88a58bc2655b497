"""The WhatsApp Cloud API message body and error codes, shared by Meta's own API and 360dialog (v2 proxies it).

Body: ``{"messaging_product": "whatsapp", "recipient_type": "individual",
"to", "type": "text"|"template", ...}``. Success:
``{"messaging_product", "contacts": [...], "messages": [{"id": "wamid..."}]}``.
Errors: ``{"error": {"message", "type", "code", "error_data": {"details"},
"error_subcode", "fbtrace_id"}}``; the numeric ``code`` decides (Meta's
Cloud API error-code reference).
"""

from __future__ import annotations

from typing import Any

from sendpipe.core.messages import WhatsAppRequest
from sendpipe.core.outcomes import Outcome
from sendpipe.providers.base import MalformedReply, by_status, json_object
from sendpipe.providers.client import Reply
from sendpipe.providers.result import SendResult, failure, parse_retry_after, success

ERROR_CODES: dict[int, Outcome] = {
    # authorization, permissions, account state
    0: Outcome.FAIL_AUTH, 3: Outcome.FAIL_AUTH, 10: Outcome.FAIL_AUTH, 190: Outcome.FAIL_AUTH,
    368: Outcome.FAIL_AUTH, 131005: Outcome.FAIL_AUTH, 131031: Outcome.FAIL_AUTH, 131037: Outcome.FAIL_AUTH,
    131042: Outcome.FAIL_AUTH, 131045: Outcome.FAIL_AUTH, 133010: Outcome.FAIL_AUTH,
    # throttling
    4: Outcome.THROTTLED, 80007: Outcome.THROTTLED, 130429: Outcome.THROTTLED,
    131048: Outcome.THROTTLED, 131056: Outcome.THROTTLED,
    # the recipient or the content
    100: Outcome.REJECTED, 470: Outcome.REJECTED, 130472: Outcome.REJECTED, 131008: Outcome.REJECTED,
    131009: Outcome.REJECTED, 131021: Outcome.REJECTED, 131026: Outcome.REJECTED, 131047: Outcome.REJECTED,
    131049: Outcome.REJECTED, 131050: Outcome.REJECTED, 131051: Outcome.REJECTED, 131052: Outcome.REJECTED,
    131053: Outcome.REJECTED, 132000: Outcome.REJECTED, 132001: Outcome.REJECTED, 132005: Outcome.REJECTED,
    132007: Outcome.REJECTED, 132012: Outcome.REJECTED, 132015: Outcome.REJECTED, 132016: Outcome.REJECTED,
    # the provider
    1: Outcome.FAIL_PROVIDER, 2: Outcome.FAIL_PROVIDER, 131000: Outcome.FAIL_PROVIDER,
    131016: Outcome.FAIL_PROVIDER, 133004: Outcome.FAIL_PROVIDER,
}
AUTH_CODE_RANGE = range(200, 300)  # Graph API permission errors


def message_body(request: WhatsAppRequest) -> dict[str, Any]:
    body: dict[str, Any] = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": request.to}
    if request.template is not None:
        template: dict[str, Any] = {"name": request.template.name, "language": {"code": request.template.language}}
        if request.template.parameters:
            template["components"] = [
                {"type": "body", "parameters": [{"type": "text", "text": value} for value in request.template.parameters]}
            ]
        body["type"] = "template"
        body["template"] = template
    else:
        body["type"] = "text"
        body["text"] = {"preview_url": False, "body": request.text}
    return body


def parse_success(reply: Reply) -> SendResult:
    messages = json_object(reply).get("messages")
    if not isinstance(messages, list) or not messages or not isinstance(messages[0], dict):
        raise MalformedReply("2xx without messages[0]")
    message_id = messages[0].get("id")
    if not isinstance(message_id, str) or not message_id:
        raise MalformedReply("2xx without messages[0].id")
    return success(message_id, status=reply.status)


def map_graph_error(reply: Reply, error: dict[str, Any]) -> SendResult:
    code = error.get("code")
    code = int(code) if isinstance(code, int | str) and str(code).isdigit() else None
    details = (error.get("error_data") or {}).get("details") if isinstance(error.get("error_data"), dict) else None
    text = f"{code}: {error.get('message', '')}" + (f" ({details})" if details else "")
    outcome = ERROR_CODES.get(code) if code is not None else None
    if outcome is None and code in AUTH_CODE_RANGE:
        outcome = Outcome.FAIL_AUTH
    if outcome is None:
        return by_status(reply, text)
    retry_after = parse_retry_after(reply.headers.get("retry-after")) if outcome is Outcome.THROTTLED else None
    return failure(outcome, f"HTTP {reply.status} {text}", status=reply.status, retry_after=retry_after)
