"""SendGrid v3 Mail Send (``POST /v3/mail/send``): JSON body, Bearer API key, 202 with X-Message-Id.

Errors come as ``{"errors": [{"message", "field", "help"}]}``: 400 is an
invalid request (REJECTED), 401/403 an invalid key or unverified sender
(FAIL_AUTH), 413 a body too large (REJECTED), 429 the rate limit.
"""

from __future__ import annotations

from typing import Any

from sendpipe.core.catalog.email import SendGridCredentials, SendGridSettings
from sendpipe.core.messages import EmailRequest
from sendpipe.core.outcomes import Channel
from sendpipe.providers.addresses import split_address
from sendpipe.providers.base import HttpAdapter, MalformedReply, by_status, maybe_json
from sendpipe.providers.client import HttpCall, Reply
from sendpipe.providers.result import SendResult, success


def _address(value: str) -> dict[str, str]:
    name, address = split_address(value)
    return {"email": address, "name": name} if name else {"email": address}


class SendGridAdapter(HttpAdapter):
    package = "provider-sendgrid"
    channel = Channel.EMAIL
    credentials_type = SendGridCredentials
    settings_type = SendGridSettings
    default_base_url = "https://api.sendgrid.com"

    def build(self, request: EmailRequest, credentials: SendGridCredentials, settings: SendGridSettings) -> HttpCall:
        content = []
        if request.text:
            content.append({"type": "text/plain", "value": request.text})  # text/plain must come first
        if request.html:
            content.append({"type": "text/html", "value": request.html})
        body: dict[str, Any] = {
            "personalizations": [{"to": [{"email": str(request.to)}]}],
            "from": _address(request.from_ or settings.from_),
            "subject": request.subject,
            "content": content,
            "custom_args": {"sendpipe_message_id": request.id},
        }
        if request.reply_to:
            body["reply_to"] = {"email": str(request.reply_to)}
        return HttpCall(
            method="POST",
            url=f"{self.base_url(settings)}/v3/mail/send",
            headers={"Authorization": f"Bearer {credentials.api_key.get_secret_value()}"},
            json_body=body,
        )

    def interpret(self, reply: Reply) -> SendResult:
        if 200 <= reply.status < 300:
            message_id = reply.headers.get("x-message-id")
            if not message_id:
                raise MalformedReply("2xx without an X-Message-Id header")
            return success(message_id, status=reply.status)
        errors = maybe_json(reply).get("errors") or []
        detail = "; ".join(
            f"{e.get('field')}: {e.get('message')}" if e.get("field") else str(e.get("message"))
            for e in errors if isinstance(e, dict)
        )
        return by_status(reply, detail or reply.text[:200], rejected=frozenset({400, 413, 422}))


ADAPTER = SendGridAdapter()
