"""Africa's Talking SMS (``POST /version1/messaging``): form fields, ``apiKey`` header, sandbox or production host.

A 201 reply can still fail the message: each entry of
``SMSMessageData.Recipients`` has its own ``statusCode`` (100 Processed, 101
Sent, 102 Queued are successes; 403 InvalidPhoneNumber, 406 UserInBlacklist
… are per-recipient failures). HTTP-level errors come as plain text.
"""

from __future__ import annotations

from sendpipe.core.catalog.sms import AfricasTalkingCredentials, AfricasTalkingSettings
from sendpipe.core.messages import SmsRequest
from sendpipe.core.outcomes import Channel, Outcome
from sendpipe.providers.base import HttpAdapter, MalformedReply, by_status, json_object
from sendpipe.providers.client import HttpCall, Reply
from sendpipe.providers.result import SendResult, failure, success

BASE_URLS = {"production": "https://api.africastalking.com", "sandbox": "https://api.sandbox.africastalking.com"}
SUCCESS_CODES = frozenset({100, 101, 102})

# Recipient statusCode -> (status name, outcome)
STATUS_CODES: dict[int, tuple[str, Outcome]] = {
    401: ("RiskHold", Outcome.FAIL_AUTH),
    402: ("InvalidSenderId", Outcome.FAIL_AUTH),
    403: ("InvalidPhoneNumber", Outcome.REJECTED),
    404: ("UnsupportedNumberType", Outcome.REJECTED),
    405: ("InsufficientBalance", Outcome.FAIL_AUTH),
    406: ("UserInBlacklist", Outcome.REJECTED),
    407: ("CouldNotRoute", Outcome.FAIL_PROVIDER),
    409: ("DoNotDisturbRejection", Outcome.REJECTED),
    500: ("InternalServerError", Outcome.FAIL_PROVIDER),
    501: ("GatewayError", Outcome.FAIL_PROVIDER),
    502: ("RejectedByGateway", Outcome.FAIL_PROVIDER),
}
_BY_NAME = {name: outcome for name, outcome in STATUS_CODES.values()}


class AfricasTalkingAdapter(HttpAdapter):
    package = "provider-africastalking"
    channel = Channel.SMS
    credentials_type = AfricasTalkingCredentials
    settings_type = AfricasTalkingSettings

    def base_url(self, settings: AfricasTalkingSettings) -> str:
        if settings.base_url is not None:
            return str(settings.base_url).rstrip("/")
        return BASE_URLS[settings.environment]

    def build(self, request: SmsRequest, credentials: AfricasTalkingCredentials, settings: AfricasTalkingSettings) -> HttpCall:
        form = {
            "username": credentials.username.get_secret_value(),
            "to": request.to,
            "message": request.text,
        }
        sender = request.from_ or settings.from_
        if sender:
            form["from"] = sender
        return HttpCall(
            method="POST",
            url=f"{self.base_url(settings)}/version1/messaging",
            headers={"apiKey": credentials.api_key.get_secret_value(), "Accept": "application/json"},
            form=form,
        )

    def interpret(self, reply: Reply) -> SendResult:
        if not 200 <= reply.status < 300:
            return by_status(reply, reply.text[:200])
        data = json_object(reply).get("SMSMessageData")
        if not isinstance(data, dict):
            raise MalformedReply("no SMSMessageData")
        recipients = data.get("Recipients") or []
        if not recipients:  # nothing was sent; the Message says why (e.g. "InvalidSenderId")
            message = str(data.get("Message", ""))
            outcome = next((o for name, o in _BY_NAME.items() if name in message), Outcome.FAIL_PROVIDER)
            return failure(outcome, f"no recipient accepted: {message}", status=reply.status)
        recipient = recipients[0]
        code = int(recipient["statusCode"])
        if code in SUCCESS_CODES:
            message_id = recipient.get("messageId")
            if not isinstance(message_id, str) or not message_id or message_id == "None":
                raise MalformedReply("successful recipient without a messageId")
            return success(message_id, status=reply.status)
        name, outcome = STATUS_CODES.get(code, (str(recipient.get("status", "")), Outcome.FAIL_PROVIDER))
        return failure(outcome, f"recipient status {code} {recipient.get('status') or name}", status=reply.status)


ADAPTER = AfricasTalkingAdapter()
