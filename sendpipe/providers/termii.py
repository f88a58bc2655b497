"""Termii Messaging API (``POST /api/sms/send``): JSON body with the ``api_key`` inside, route = ``channel``.

Success is 200 ``{"code": "ok", "message_id", "message": "Successfully Sent", ...}``.
Errors are standard HTTP codes with ``{"message"}``; Termii's documented common
errors (account not active, route not set up, invalid sender id, daily limit)
are told apart by their message.
"""

from __future__ import annotations

from sendpipe.core.catalog.sms import TermiiCredentials, TermiiSettings
from sendpipe.core.messages import SmsRequest
from sendpipe.core.outcomes import Channel, Outcome
from sendpipe.providers.addresses import digits_only
from sendpipe.providers.base import HttpAdapter, MalformedReply, by_status, json_object, maybe_json
from sendpipe.providers.client import HttpCall, Reply
from sendpipe.providers.result import SendResult, failure, success

# lower-cased message fragment -> outcome (checked in order)
MESSAGE_FRAGMENTS: tuple[tuple[str, Outcome], ...] = (
    ("account is not active", Outcome.FAIL_AUTH),
    ("not set up on this route", Outcome.FAIL_AUTH),
    ("sender id", Outcome.FAIL_AUTH),
    ("insufficient balance", Outcome.FAIL_AUTH),
    ("api key", Outcome.FAIL_AUTH),
    ("unauthorized", Outcome.FAIL_AUTH),
    ("daily limit", Outcome.THROTTLED),
    ("phone number", Outcome.REJECTED),
)


class TermiiAdapter(HttpAdapter):
    package = "provider-termii"
    channel = Channel.SMS
    credentials_type = TermiiCredentials
    settings_type = TermiiSettings
    default_base_url = "https://api.ng.termii.com"

    def build(self, request: SmsRequest, credentials: TermiiCredentials, settings: TermiiSettings) -> HttpCall:
        return HttpCall(
            method="POST",
            url=f"{self.base_url(settings)}/api/sms/send",
            json_body={
                "api_key": credentials.api_key.get_secret_value(),
                "to": digits_only(request.to),
                "from": request.from_ or settings.from_,
                "sms": request.text,
                "type": "plain",
                "channel": settings.route,
            },
        )

    def interpret(self, reply: Reply) -> SendResult:
        if 200 <= reply.status < 300:
            body = json_object(reply)
            message_id = body.get("message_id_str") or body.get("message_id")
            if message_id in (None, ""):
                raise MalformedReply("2xx without a message_id")
            return success(str(message_id), status=reply.status)
        message = str(maybe_json(reply).get("message") or reply.text[:200])
        if reply.status < 500 and reply.status != 429:
            lowered = message.lower()
            for fragment, outcome in MESSAGE_FRAGMENTS:
                if fragment in lowered:
                    return failure(outcome, f"HTTP {reply.status}: {message}", status=reply.status)
        return by_status(reply, message)


ADAPTER = TermiiAdapter()
