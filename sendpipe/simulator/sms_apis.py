"""Simulated SMS APIs: Twilio Messages (SMS and WhatsApp), Africa's Talking, Termii.

Magic recipients (Twilio's test-number convention): +15005550001 is not a
valid number, +15005550002 cannot be routed, +15005550004 is blacklisted.
"""

from __future__ import annotations

import email.utils
import random

from aiohttp import web

from sendpipe.simulator.base import ProviderSim, SimRequest, hex_id, json_reply, malformed, text_reply
from sendpipe.simulator.state import BLOCKED_PHONE, INVALID_PHONE, UNROUTABLE_PHONE

# ---------------------------------------------------------------- Twilio


def _twilio_error(status: int, code: int, message: str, *, retry_after: int | None = None) -> web.Response:
    body = {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}", "status": status}
    return json_reply(body, status=status, headers={"Retry-After": str(retry_after)} if retry_after is not None else None)


_TWILIO_RECIPIENT_ERRORS = {
    INVALID_PHONE: (21211, "The 'To' number {to} is not a valid phone number."),
    UNROUTABLE_PHONE: (21612, "The 'To' phone number: {to}, is not currently reachable using the 'From' phone number"),
    BLOCKED_PHONE: (21610, "Attempt to send to unsubscribed recipient"),
}


class TwilioSim(ProviderSim):
    name = "twilio"
    routes = (("POST", "/2010-04-01/Accounts/{account_sid}/Messages.json"),)

    async def handle(self, request: SimRequest) -> web.Response:
        creds = request.credentials
        if request.basic() != (creds.twilio_account_sid, creds.twilio_auth_token):
            return self.error("auth", retry_after=0)
        if request.match["account_sid"] != creds.twilio_account_sid:
            return _twilio_error(404, 20404, "The requested resource was not found")
        form = request.form()
        to = form.get("To", "")
        if not to:
            return _twilio_error(400, 21604, "A 'To' phone number is required.")
        if not form.get("From") and not form.get("MessagingServiceSid"):
            return _twilio_error(400, 21603, "A 'From' phone number is required.")
        if not form.get("Body") and not form.get("ContentSid") and not form.get("MediaUrl"):
            return _twilio_error(400, 21602, "Message body is required.")
        whatsapp = to.startswith("whatsapp:")
        if whatsapp != form.get("From", "whatsapp:" if whatsapp else "").startswith("whatsapp:"):
            return _twilio_error(400, 63007, "Twilio could not find a Channel with the specified From address")
        number = to.removeprefix("whatsapp:")
        if number in _TWILIO_RECIPIENT_ERRORS:
            code, message = _TWILIO_RECIPIENT_ERRORS[number]
            return _twilio_error(400, code, message.format(to=number))
        sid = "SM" + hex_id(32)
        now = email.utils.formatdate(usegmt=True)
        return json_reply({
            "account_sid": creds.twilio_account_sid, "api_version": "2010-04-01", "body": form.get("Body"),
            "date_created": now, "date_sent": None, "date_updated": now, "direction": "outbound-api",
            "error_code": None, "error_message": None, "from": form.get("From"),
            "messaging_service_sid": form.get("MessagingServiceSid"), "num_media": "0", "num_segments": "1",
            "price": None, "price_unit": "USD", "sid": sid, "status": "queued", "to": to,
            "uri": f"/2010-04-01/Accounts/{creds.twilio_account_sid}/Messages/{sid}.json",
        }, status=201)

    def error(self, kind: str, *, retry_after: int) -> web.Response:
        if kind == "auth":
            return _twilio_error(401, 20003, "Authenticate")
        if kind == "throttle":
            return _twilio_error(429, 20429, "Too Many Requests", retry_after=retry_after)
        if kind == "invalid_recipient":
            return _twilio_error(400, 21211, f"The 'To' number {INVALID_PHONE} is not a valid phone number.")
        if kind == "validation":
            return _twilio_error(400, 21602, "Message body is required.")
        if kind == "malformed":
            return malformed()
        return _twilio_error(500, 20500, "Internal Server Error")


# ---------------------------------------------------------------- Africa's Talking

_AT_RECIPIENT_STATUS = {
    INVALID_PHONE: (403, "InvalidPhoneNumber"),
    UNROUTABLE_PHONE: (407, "CouldNotRoute"),
    BLOCKED_PHONE: (406, "UserInBlacklist"),
}


def _at_reply(recipients: list[dict[str, object]], sent: int) -> web.Response:
    cost = f"KES {0.8 * sent:.4f}" if sent else "0"
    message = f"Sent to {sent}/{len(recipients)} Total Cost: {cost}"
    return json_reply({"SMSMessageData": {"Message": message, "Recipients": recipients}}, status=201)


class AfricasTalkingSim(ProviderSim):
    name = "africastalking"
    routes = (("POST", "/version1/messaging"),)

    async def handle(self, request: SimRequest) -> web.Response:
        creds = request.credentials
        form = request.form()
        if request.headers.get("apiKey") != creds.africastalking_api_key or form.get("username") != creds.africastalking_username:
            return self.error("auth", retry_after=0)
        for field in ("username", "to", "message"):
            if not form.get(field):
                return text_reply(f"Request is missing required form field '{field}'", status=400)
        if "application/json" not in request.headers.get("Accept", ""):
            return web.Response(text="<AfricasTalkingResponse><SMSMessageData/></AfricasTalkingResponse>", status=201,
                                content_type="application/xml")
        recipients: list[dict[str, object]] = []
        sent = 0
        for number in (n.strip() for n in form["to"].split(",")):
            if number in _AT_RECIPIENT_STATUS:
                code, status = _AT_RECIPIENT_STATUS[number]
                recipients.append({"statusCode": code, "number": number, "status": status, "cost": "0", "messageId": "None"})
            else:
                sent += 1
                recipients.append({"statusCode": 101, "number": number, "status": "Success", "cost": "KES 0.8000",
                                   "messageId": f"ATXid_{hex_id(32)}"})
        return _at_reply(recipients, sent)

    def error(self, kind: str, *, retry_after: int) -> web.Response:
        if kind == "auth":
            return text_reply("The supplied authentication is invalid", status=401)
        if kind == "throttle":
            return text_reply("Too Many Requests", status=429, headers={"Retry-After": str(retry_after)})
        if kind == "invalid_recipient":
            return _at_reply([{"statusCode": 403, "number": INVALID_PHONE, "status": "InvalidPhoneNumber",
                               "cost": "0", "messageId": "None"}], 0)
        if kind == "validation":
            return text_reply("Request is missing required form field 'message'", status=400)
        if kind == "malformed":
            return malformed()
        return text_reply("Internal Server Error", status=500)


# ---------------------------------------------------------------- Termii


class TermiiSim(ProviderSim):
    name = "termii"
    routes = (("POST", "/api/sms/send"),)

    async def handle(self, request: SimRequest) -> web.Response:
        body = request.json()
        if not isinstance(body, dict):
            return json_reply({"message": "Invalid JSON payload"}, status=400)
        if body.get("api_key") != request.credentials.termii_api_key:
            return self.error("auth", retry_after=0)
        missing = [f for f in ("to", "from", "sms", "type", "channel") if not body.get(f)]
        if missing:
            return json_reply({"message": "The given data was invalid.",
                               "errors": {f: [f"The {f} field is required."] for f in missing}}, status=422)
        if body["channel"] not in ("generic", "dnd", "whatsapp"):
            return json_reply({"message": "Invalid channel selected"}, status=400)
        to = str(body["to"])
        if "+" + to.lstrip("+") in (INVALID_PHONE, UNROUTABLE_PHONE, BLOCKED_PHONE) or not to.lstrip("+").isdigit():
            return self.error("invalid_recipient", retry_after=0)
        return json_reply({"code": "ok", "balance": 1000.0, "message_id": str(random.randrange(10**18, 10**19)),
                           "message": "Successfully Sent", "user": "SendPipe Simulator"})

    def error(self, kind: str, *, retry_after: int) -> web.Response:
        if kind == "auth":
            return json_reply({"message": "Unauthorized: invalid API key"}, status=401)
        if kind == "throttle":
            return json_reply({"message": "Too Many Attempts."}, status=429, headers={"Retry-After": str(retry_after)})
        if kind == "invalid_recipient":
            return json_reply({"message": "Invalid phone number"}, status=400)
        if kind == "validation":
            return json_reply({"message": "The given data was invalid.", "errors": {"sms": ["The sms field is required."]}}, status=422)
        if kind == "malformed":
            return malformed()
        return json_reply({"message": "Server Error"}, status=500)
