"""Twilio Programmable Messaging (``POST /2010-04-01/Accounts/{AccountSid}/Messages.json``), SMS and WhatsApp.

Form-encoded ``To``, ``From`` (or ``MessagingServiceSid``) and ``Body``, basic
auth with the Account SID and Auth Token; WhatsApp uses ``whatsapp:+E164``
addresses. Success is 201 with the Message resource (``sid``); errors are
``{"code", "message", "more_info", "status"}`` and the numeric ``code`` decides
the outcome (https://www.twilio.com/docs/api/errors).
"""

from __future__ import annotations

from typing import ClassVar

from sendpipe.core.catalog.sms import TwilioCredentials, TwilioSmsSettings
from sendpipe.core.catalog.whatsapp import TwilioWhatsAppSettings
from sendpipe.core.messages import SmsRequest, WhatsAppRequest
from sendpipe.core.outcomes import Channel, Outcome
from sendpipe.providers.addresses import whatsapp_address
from sendpipe.providers.base import HttpAdapter, MalformedReply, by_status, json_object, maybe_json
from sendpipe.providers.client import HttpCall, Reply
from sendpipe.providers.result import SendResult, failure, parse_retry_after, success

ERROR_CODES: dict[int, Outcome] = {
    # account and credentials
    10001: Outcome.FAIL_AUTH,  # account is not active
    20003: Outcome.FAIL_AUTH,  # authenticate (bad SID/token)
    20005: Outcome.FAIL_AUTH,  # account not active
    20404: Outcome.FAIL_AUTH,  # resource not found (wrong account SID)
    21212: Outcome.FAIL_AUTH,  # invalid From number
    21603: Outcome.FAIL_AUTH,  # From is required
    21606: Outcome.FAIL_AUTH,  # From is not a valid, SMS-capable number of this account
    21608: Outcome.FAIL_AUTH,  # trial account: To is unverified
    21408: Outcome.FAIL_AUTH,  # permission to send to this region is not enabled
    21704: Outcome.FAIL_AUTH,  # messaging service has no senders
    63007: Outcome.FAIL_AUTH,  # WhatsApp: no channel for the From address
    # rate limits
    20429: Outcome.THROTTLED,  # too many requests
    14107: Outcome.THROTTLED,  # SMS send rate limit exceeded
    63018: Outcome.THROTTLED,  # WhatsApp rate limit
    # recipient or content
    21211: Outcome.REJECTED,  # invalid To number
    21604: Outcome.REJECTED,  # To is required
    21602: Outcome.REJECTED,  # message body is required
    21610: Outcome.REJECTED,  # recipient unsubscribed (STOP)
    21612: Outcome.REJECTED,  # To is not reachable / unroutable
    21614: Outcome.REJECTED,  # To is not a mobile number
    21617: Outcome.REJECTED,  # body exceeds the length limit
    63003: Outcome.REJECTED,  # WhatsApp: To is not a WhatsApp user
    63016: Outcome.REJECTED,  # WhatsApp: outside the 24 h window, use a template
    63024: Outcome.REJECTED,  # WhatsApp: invalid recipient
}


def map_error(reply: Reply, code: int | None, message: str) -> SendResult:
    outcome = ERROR_CODES.get(code) if code is not None else None
    if outcome is None:
        return by_status(reply, f"{code}: {message}" if code else message)
    retry_after = parse_retry_after(reply.headers.get("retry-after")) if outcome is Outcome.THROTTLED else None
    return failure(outcome, f"HTTP {reply.status} {code}: {message}", status=reply.status, retry_after=retry_after)


class _TwilioAdapter(HttpAdapter):
    credentials_type = TwilioCredentials
    default_base_url = "https://api.twilio.com"
    address_prefix: ClassVar[bool] = False

    def _address(self, value: str) -> str:
        return whatsapp_address(value) if self.address_prefix else value

    def build(self, request: SmsRequest | WhatsAppRequest, credentials: TwilioCredentials, settings: TwilioSmsSettings) -> HttpCall:
        if request.text is None:
            raise ValueError("Twilio adapters send text messages only")
        account_sid = credentials.account_sid.get_secret_value()
        form = {"To": self._address(request.to), "Body": request.text}
        sender = request.from_ or settings.from_
        if settings.messaging_service_sid and not request.from_:
            form["MessagingServiceSid"] = settings.messaging_service_sid
        elif sender:
            form["From"] = self._address(sender)
        return HttpCall(
            method="POST",
            url=f"{self.base_url(settings)}/2010-04-01/Accounts/{account_sid}/Messages.json",
            form=form,
            auth=(account_sid, credentials.auth_token.get_secret_value()),
        )

    def interpret(self, reply: Reply) -> SendResult:
        if 200 <= reply.status < 300:
            body = json_object(reply)
            sid = body.get("sid")
            if not isinstance(sid, str) or not sid:
                raise MalformedReply("2xx without a sid")
            if body.get("status") in ("failed", "undelivered") and body.get("error_code"):
                return map_error(reply, int(body["error_code"]), str(body.get("error_message") or ""))
            return success(sid, status=reply.status)
        body = maybe_json(reply)
        code = body.get("code")
        return map_error(reply, int(code) if isinstance(code, int | str) and str(code).isdigit() else None,
                         str(body.get("message") or reply.text[:200]))


class TwilioSmsAdapter(_TwilioAdapter):
    package = "provider-twilio-sms"
    channel = Channel.SMS
    settings_type = TwilioSmsSettings


class TwilioWhatsAppAdapter(_TwilioAdapter):
    """Free-form WhatsApp text; template sends need a Twilio Content SID, which a SendRequest does not carry."""

    package = "provider-twilio-whatsapp"
    channel = Channel.WHATSAPP
    settings_type = TwilioWhatsAppSettings
    address_prefix = True

    def supports(self, request: object) -> bool:
        return isinstance(request, WhatsAppRequest) and request.template is None


SMS_ADAPTER = TwilioSmsAdapter()
WHATSAPP_ADAPTER = TwilioWhatsAppAdapter()
