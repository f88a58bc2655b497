"""360dialog WhatsApp API v2 (``POST https://waba-v2.360dialog.io/messages``), ``D360-API-KEY`` header.

v2 proxies the Cloud API: same body, same success shape, and Meta's errors
passed through as ``{"error": {...}}``. 360dialog's own errors (a bad key:
401 "Invalid api_key") come as ``{"meta": {"success": false, "http_code",
"developer_message", "360dialog_trace_id"}}``.
"""

from __future__ import annotations

from sendpipe.core.catalog.whatsapp import Dialog360Credentials, Dialog360Settings
from sendpipe.core.messages import WhatsAppRequest
from sendpipe.core.outcomes import Channel, Outcome
from sendpipe.providers import whatsapp_cloud
from sendpipe.providers.base import HttpAdapter, by_status, maybe_json
from sendpipe.providers.client import HttpCall, Reply
from sendpipe.providers.result import SendResult, failure

# 360dialog's own 400s that are not about the message (its error reference).
DEVELOPER_MESSAGES: tuple[tuple[str, Outcome], ...] = (
    ("rate limit", Outcome.THROTTLED),
    ("lack of payment", Outcome.FAIL_AUTH),
    ("has been disabled", Outcome.FAIL_AUTH),
)


class Dialog360Adapter(HttpAdapter):
    package = "provider-360dialog"
    channel = Channel.WHATSAPP
    credentials_type = Dialog360Credentials
    settings_type = Dialog360Settings
    default_base_url = "https://waba-v2.360dialog.io"

    def build(self, request: WhatsAppRequest, credentials: Dialog360Credentials, settings: Dialog360Settings) -> HttpCall:
        return HttpCall(
            method="POST",
            url=f"{self.base_url(settings)}/messages",
            headers={"D360-API-KEY": credentials.api_key.get_secret_value()},
            json_body=whatsapp_cloud.message_body(request),
        )

    def interpret(self, reply: Reply) -> SendResult:
        if 200 <= reply.status < 300:
            return whatsapp_cloud.parse_success(reply)
        body = maybe_json(reply)
        if isinstance(body.get("error"), dict):
            return whatsapp_cloud.map_graph_error(reply, body["error"])
        meta = body.get("meta")
        developer_message = meta.get("developer_message") if isinstance(meta, dict) else None
        message = str(developer_message or reply.text[:200])
        for fragment, outcome in DEVELOPER_MESSAGES:
            if fragment in message.lower():
                return failure(outcome, f"HTTP {reply.status}: {message}", status=reply.status)
        return by_status(reply, message)


ADAPTER = Dialog360Adapter()
