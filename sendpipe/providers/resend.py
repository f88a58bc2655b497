"""Resend ``POST /emails``: JSON body, Bearer API key, the message id as Idempotency-Key, 200 ``{"id"}``.

Errors come as ``{"statusCode", "name", "message"}``; the ``name`` decides:
key problems and unverified senders/domains are FAIL_AUTH, validation and
missing fields are REJECTED, rate and quota limits are THROTTLED.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sendpipe.core.catalog.email import ResendCredentials, ResendSettings
from sendpipe.core.messages import EmailRequest
from sendpipe.core.outcomes import Channel, Outcome
from sendpipe.providers.base import HttpAdapter, MalformedReply, by_status, json_object, maybe_json
from sendpipe.providers.client import HttpCall, Reply
from sendpipe.providers.result import SendResult, failure, parse_retry_after, success

# error name -> outcome; names not listed fall back to the HTTP status.
ERROR_NAMES: dict[str, Outcome] = {
    "missing_api_key": Outcome.FAIL_AUTH,
    "invalid_api_key": Outcome.FAIL_AUTH,
    "restricted_api_key": Outcome.FAIL_AUTH,
    "invalid_from_address": Outcome.FAIL_AUTH,
    "invalid_to_address": Outcome.FAIL_AUTH,  # test-mode account: may only send to its owner
    "missing_required_field": Outcome.REJECTED,
    "invalid_attachment": Outcome.REJECTED,
    "invalid_idempotency_key": Outcome.REJECTED,
    "invalid_idempotent_request": Outcome.REJECTED,  # same id, different payload: already sent otherwise
    "concurrent_idempotent_requests": Outcome.THROTTLED,
    "rate_limit_exceeded": Outcome.THROTTLED,
    "daily_quota_exceeded": Outcome.THROTTLED,
    "monthly_quota_exceeded": Outcome.THROTTLED,
    "application_error": Outcome.FAIL_PROVIDER,
    "internal_server_error": Outcome.FAIL_PROVIDER,
}


class ResendAdapter(HttpAdapter):
    package = "provider-resend"
    channel = Channel.EMAIL
    credentials_type = ResendCredentials
    settings_type = ResendSettings
    default_base_url = "https://api.resend.com"

    def build(self, request: EmailRequest, credentials: ResendCredentials, settings: ResendSettings) -> HttpCall:
        body: dict[str, Any] = {
            "from": request.from_ or settings.from_,
            "to": [str(request.to)],
            "subject": request.subject,
        }
        if request.text:
            body["text"] = request.text
        if request.html:
            body["html"] = request.html
        if request.reply_to:
            body["reply_to"] = str(request.reply_to)
        return HttpCall(
            method="POST",
            url=f"{self.base_url(settings)}/emails",
            headers={
                "Authorization": f"Bearer {credentials.api_key.get_secret_value()}",
                "Idempotency-Key": request.id,
            },
            json_body=body,
        )

    def interpret(self, reply: Reply) -> SendResult:
        if 200 <= reply.status < 300:
            message_id = json_object(reply).get("id")
            if not isinstance(message_id, str) or not message_id:
                raise MalformedReply("2xx without an id")
            return success(message_id, status=reply.status)
        body = maybe_json(reply)
        name, message = str(body.get("name", "")), str(body.get("message", ""))
        outcome = ERROR_NAMES.get(name)
        if name == "validation_error":
            outcome = Outcome.FAIL_AUTH if reply.status == 403 else Outcome.REJECTED
        if outcome is None:
            return by_status(reply, message or reply.text[:200])
        result = failure(
            outcome, f"HTTP {reply.status} {name}: {message}", status=reply.status,
            retry_after=parse_retry_after(reply.headers.get("retry-after")) if outcome is Outcome.THROTTLED else None,
        )
        if name == "concurrent_idempotent_requests":  # the first request with this id is still being processed
            result = replace(result, possible_duplicate=True)
        return result


ADAPTER = ResendAdapter()
