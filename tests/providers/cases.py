"""The conformance table: per package, the request it must send and every reply it must map.

Written from each provider's API reference, independently of both the
adapters and the simulator: the respx tests check adapters against it, and
the simulator tests check the simulator's replies map the same way.
"""

from __future__ import annotations

import base64
import json
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from sendpipe.core.catalog import get_package
from sendpipe.core.messages import parse_send_request
from sendpipe.core.outcomes import Outcome

EMAIL = {"id": "msg-001", "namespace": "acme", "channel": "email", "to": "bob@example.com",
         "subject": "Your order", "text": "It shipped.", "html": "<p>It shipped.</p>", "replyTo": "help@acme.example"}
SMS = {"id": "msg-002", "namespace": "acme", "channel": "sms", "to": "+254711000001", "text": "Code 1234"}
WHATSAPP = {"id": "msg-003", "namespace": "acme", "channel": "whatsapp", "to": "+254711000001", "text": "Hello"}
WHATSAPP_TEMPLATE = {"id": "msg-004", "namespace": "acme", "channel": "whatsapp", "to": "+254711000001",
                     "template": {"name": "order_ready", "language": "en_US", "parameters": ["42", "Friday"]}}

TWILIO_SID = "AC" + "1" * 32
SECRETS = {"sendgrid": "SG.test-key-123", "resend": "re_test_key_123", "mailgun": "key-test-123",
           "meta": "EAAtesttoken123", "d360": "d360-test-key", "at": "atsk_test_key", "termii": "TLtestkey123",
           "twilio": "twilio-token-123"}


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def form(request: httpx.Request) -> dict[str, str]:
    return {k: v[-1] for k, v in urllib.parse.parse_qs(request.content.decode(), keep_blank_values=True).items()}


def body(request: httpx.Request) -> Any:
    return json.loads(request.content)


@dataclass(frozen=True)
class Reply:
    status: int
    json_body: Any = None
    text: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def response(self) -> httpx.Response:
        if self.json_body is not None:
            return httpx.Response(self.status, json=self.json_body, headers=self.headers)
        return httpx.Response(self.status, text=self.text or "", headers=self.headers)


@dataclass(frozen=True)
class ErrorCase:
    name: str
    reply: Reply
    outcome: Outcome
    retry_after: float | None = None


@dataclass(frozen=True)
class Case:
    package: str
    request: dict[str, Any]
    credentials: dict[str, Any]
    settings: dict[str, Any]
    url: str  # the full URL the adapter must call (default base URL)
    check: Callable[[httpx.Request], None]  # asserts headers and body of the request
    success: Reply
    message_id: str
    errors: tuple[ErrorCase, ...]

    def parsed(self, request: dict[str, Any] | None = None) -> tuple[Any, Any, Any]:
        info = get_package(self.package)
        return (parse_send_request(json.dumps(request or self.request)),
                info.credentials.model_validate(self.credentials), info.settings.model_validate(self.settings))


def _throttle(reply_body: Any = None, text: str | None = None) -> ErrorCase:
    return ErrorCase("429 with Retry-After", Reply(429, reply_body, text, {"Retry-After": "7"}), Outcome.THROTTLED, 7.0)


def _5xx(reply_body: Any = None, text: str | None = "Internal Server Error") -> ErrorCase:
    return ErrorCase("5xx", Reply(503 if reply_body is None else 500, reply_body, text if reply_body is None else None),
                     Outcome.FAIL_PROVIDER)


MALFORMED = ErrorCase("2xx with an HTML body", Reply(200, text="<html>oops</html>"), Outcome.FAIL_PROVIDER)


# ------------------------------------------------------------------ email

def check_ses(r: httpx.Request) -> None:
    auth = r.headers["authorization"]
    assert auth.startswith("AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE000000001/")
    assert "/us-east-1/ses/aws4_request" in auth and "SignedHeaders=" in auth and "host" in auth
    assert r.headers["x-amz-date"] and r.headers["content-type"] == "application/json"
    b = body(r)
    assert b["FromEmailAddress"] == "noreply@acme.example"
    assert b["Destination"] == {"ToAddresses": ["bob@example.com"]}
    assert b["ReplyToAddresses"] == ["help@acme.example"]
    simple = b["Content"]["Simple"]
    assert simple["Subject"] == {"Data": "Your order", "Charset": "UTF-8"}
    assert simple["Body"]["Text"]["Data"] == "It shipped." and simple["Body"]["Html"]["Data"] == "<p>It shipped.</p>"
    assert {"Name": "X-SendPipe-Message-Id", "Value": "msg-001"} in simple["Headers"]
    assert b["ConfigurationSetName"] == "transactional"


def _aws(kind: str, status: int, message: str, *, retry: bool = False) -> Reply:
    headers = {"x-amzn-ErrorType": f"{kind}:http://internal.amazon.com/coral/com.amazonaws.sesv2/"}
    if retry:
        headers["Retry-After"] = "7"
    return Reply(status, {"message": message}, headers=headers)


SES = Case(
    package="provider-ses", request=EMAIL,
    credentials={"access_key_id": "AKIAEXAMPLE000000001", "secret_access_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"},
    settings={"region": "us-east-1", "from": "noreply@acme.example", "configuration_set_name": "transactional"},
    url="https://email.us-east-1.amazonaws.com/v2/email/outbound-emails", check=check_ses,
    success=Reply(200, {"MessageId": "0100018c-ses-id"}), message_id="0100018c-ses-id",
    errors=(
        ErrorCase("MessageRejected", _aws("MessageRejected", 400, "Address blacklisted."), Outcome.REJECTED),
        ErrorCase("sandbox: unverified", _aws("MessageRejected", 400, "Email address is not verified. The following identities failed the check in region US-EAST-1: bob@example.com"), Outcome.FAIL_AUTH),
        ErrorCase("BadRequest", _aws("BadRequestException", 400, "Missing final '@domain'"), Outcome.REJECTED),
        ErrorCase("AccountSuspended", _aws("AccountSuspendedException", 400, "suspended"), Outcome.FAIL_AUTH),
        ErrorCase("SendingPaused", _aws("SendingPausedException", 400, "paused"), Outcome.FAIL_AUTH),
        ErrorCase("MailFromDomainNotVerified", _aws("MailFromDomainNotVerifiedException", 400, "x"), Outcome.FAIL_AUTH),
        ErrorCase("bad signature", _aws("InvalidSignatureException", 403, "The request signature we calculated does not match"), Outcome.FAIL_AUTH),
        ErrorCase("unknown key", _aws("UnrecognizedClientException", 403, "The security token included in the request is invalid."), Outcome.FAIL_AUTH),
        ErrorCase("quota", _aws("LimitExceededException", 400, "Daily message quota exceeded."), Outcome.THROTTLED),
        ErrorCase("TooManyRequests", _aws("TooManyRequestsException", 429, "Too many requests", retry=True), Outcome.THROTTLED, 7.0),
        ErrorCase("__type in body", Reply(400, {"__type": "com.amazonaws.sesv2#MessageRejected", "message": "Address blacklisted."}), Outcome.REJECTED),
        ErrorCase("InternalFailure", _aws("InternalFailure", 500, "unknown error"), Outcome.FAIL_PROVIDER),
        ErrorCase("2xx without MessageId", Reply(200, {}), Outcome.FAIL_PROVIDER),
        MALFORMED,
    ),
)


def check_sendgrid(r: httpx.Request) -> None:
    assert r.headers["authorization"] == f"Bearer {SECRETS['sendgrid']}"
    assert r.headers["content-type"] == "application/json"
    assert body(r) == {
        "personalizations": [{"to": [{"email": "bob@example.com"}]}],
        "from": {"email": "noreply@acme.example", "name": "Acme"},
        "reply_to": {"email": "help@acme.example"},
        "subject": "Your order",
        "content": [{"type": "text/plain", "value": "It shipped."}, {"type": "text/html", "value": "<p>It shipped.</p>"}],
        "custom_args": {"sendpipe_message_id": "msg-001"},
    }


def _sg(status: int, message: str, field_name: str | None = None, **headers: str) -> Reply:
    return Reply(status, {"errors": [{"message": message, "field": field_name, "help": None}]}, headers=headers)


SENDGRID = Case(
    package="provider-sendgrid", request=EMAIL, credentials={"api_key": SECRETS["sendgrid"]},
    settings={"from": "Acme <noreply@acme.example>"}, url="https://api.sendgrid.com/v3/mail/send", check=check_sendgrid,
    success=Reply(202, text="", headers={"X-Message-Id": "sg-msg-1"}), message_id="sg-msg-1",
    errors=(
        ErrorCase("400 invalid address", _sg(400, "Does not contain a valid address.", "personalizations.0.to.0.email"), Outcome.REJECTED),
        ErrorCase("401 bad key", _sg(401, "The provided authorization grant is invalid, expired, or revoked"), Outcome.FAIL_AUTH),
        ErrorCase("403 unverified sender", _sg(403, "The from address does not match a verified Sender Identity."), Outcome.FAIL_AUTH),
        ErrorCase("413 too large", _sg(413, "Payload too large"), Outcome.REJECTED),
        ErrorCase("429", _sg(429, "too many requests", **{"Retry-After": "7"}), Outcome.THROTTLED, 7.0),
        _5xx(),
        ErrorCase("202 without X-Message-Id", Reply(202, text=""), Outcome.FAIL_PROVIDER),
    ),
)


def check_mailgun(r: httpx.Request) -> None:
    assert r.headers["authorization"] == basic("api", SECRETS["mailgun"])
    assert r.headers["content-type"] == "application/x-www-form-urlencoded"
    assert form(r) == {"from": "Acme <noreply@mg.acme.example>", "to": "bob@example.com", "subject": "Your order",
                       "text": "It shipped.", "html": "<p>It shipped.</p>", "h:Reply-To": "help@acme.example",
                       "v:sendpipe-message-id": "msg-001"}


MAILGUN = Case(
    package="provider-mailgun", request=EMAIL, credentials={"api_key": SECRETS["mailgun"]},
    settings={"domain": "mg.acme.example", "region": "eu", "from": "Acme <noreply@mg.acme.example>"},
    url="https://api.eu.mailgun.net/v3/mg.acme.example/messages", check=check_mailgun,
    success=Reply(200, {"id": "<20240101.1@mg.acme.example>", "message": "Queued. Thank you."}),
    message_id="20240101.1@mg.acme.example",
    errors=(
        ErrorCase("400 bad to", Reply(400, {"message": "to parameter is not a valid address. please check documentation"}), Outcome.REJECTED),
        ErrorCase("401 Forbidden", Reply(401, text="Forbidden"), Outcome.FAIL_AUTH),
        ErrorCase("403 domain not allowed", Reply(403, {"message": "Domain mg.acme.example is not allowed to send"}), Outcome.FAIL_AUTH),
        ErrorCase("404 domain not found", Reply(404, {"message": "Domain not found: mg.acme.example"}), Outcome.FAIL_AUTH),
        _throttle({"message": "Too many requests"}),
        _5xx(),
        MALFORMED,
    ),
)


def check_resend(r: httpx.Request) -> None:
    assert r.headers["authorization"] == f"Bearer {SECRETS['resend']}"
    assert r.headers["idempotency-key"] == "msg-001"
    assert body(r) == {"from": "Acme <noreply@acme.example>", "to": ["bob@example.com"], "subject": "Your order",
                       "text": "It shipped.", "html": "<p>It shipped.</p>", "reply_to": "help@acme.example"}


def _rs(status: int, name: str, message: str = "m", **headers: str) -> Reply:
    return Reply(status, {"statusCode": status, "name": name, "message": message}, headers=headers)


RESEND = Case(
    package="provider-resend", request=EMAIL, credentials={"api_key": SECRETS["resend"]},
    settings={"from": "Acme <noreply@acme.example>"}, url="https://api.resend.com/emails", check=check_resend,
    success=Reply(200, {"id": "49a3999c-0ce1-4ea6-ab68-afcd6dc2e794"}), message_id="49a3999c-0ce1-4ea6-ab68-afcd6dc2e794",
    errors=(
        ErrorCase("validation_error 422", _rs(422, "validation_error", "Invalid `to` field."), Outcome.REJECTED),
        ErrorCase("validation_error 403 (unverified domain)", _rs(403, "validation_error", "The domain is not verified."), Outcome.FAIL_AUTH),
        ErrorCase("missing_required_field", _rs(422, "missing_required_field"), Outcome.REJECTED),
        ErrorCase("missing_api_key", _rs(401, "missing_api_key"), Outcome.FAIL_AUTH),
        ErrorCase("invalid_api_key", _rs(403, "invalid_api_key"), Outcome.FAIL_AUTH),
        ErrorCase("invalid_idempotent_request", _rs(409, "invalid_idempotent_request"), Outcome.REJECTED),
        ErrorCase("concurrent_idempotent_requests", _rs(409, "concurrent_idempotent_requests"), Outcome.THROTTLED),
        ErrorCase("rate_limit_exceeded", _rs(429, "rate_limit_exceeded", **{"Retry-After": "7"}), Outcome.THROTTLED, 7.0),
        ErrorCase("daily_quota_exceeded", _rs(429, "daily_quota_exceeded"), Outcome.THROTTLED),
        ErrorCase("application_error", _rs(500, "application_error"), Outcome.FAIL_PROVIDER),
        ErrorCase("2xx without id", Reply(200, {"object": "email"}), Outcome.FAIL_PROVIDER),
        MALFORMED,
    ),
)

# ------------------------------------------------------------------ whatsapp


def _graph(status: int, code: int, **headers: str) -> Reply:
    return Reply(status, {"error": {"message": f"(#{code}) x", "type": "OAuthException", "code": code,
                                    "error_data": {"messaging_product": "whatsapp", "details": "d"},
                                    "fbtrace_id": "Az8or2yhqkZfEZ-_4Qn_Bam"}}, headers=headers)


GRAPH_ERRORS = (
    ErrorCase("131026 undeliverable", _graph(400, 131026), Outcome.REJECTED),
    ErrorCase("131047 re-engagement", _graph(400, 131047), Outcome.REJECTED),
    ErrorCase("131051 unsupported type", _graph(400, 131051), Outcome.REJECTED),
    ErrorCase("132001 template missing", _graph(400, 132001), Outcome.REJECTED),
    ErrorCase("100 invalid parameter", _graph(400, 100), Outcome.REJECTED),
    ErrorCase("190 token expired", _graph(401, 190), Outcome.FAIL_AUTH),
    ErrorCase("10 permission", _graph(403, 10), Outcome.FAIL_AUTH),
    ErrorCase("200 permission range", _graph(403, 299), Outcome.FAIL_AUTH),
    ErrorCase("131031 account locked", _graph(400, 131031), Outcome.FAIL_AUTH),
    ErrorCase("130429 throughput", _graph(429, 130429, **{"Retry-After": "7"}), Outcome.THROTTLED, 7.0),
    ErrorCase("131048 spam rate limit", _graph(400, 131048), Outcome.THROTTLED),
    ErrorCase("131056 pair rate limit", _graph(400, 131056), Outcome.THROTTLED),
    ErrorCase("80007 WABA rate limit", _graph(400, 80007), Outcome.THROTTLED),
    ErrorCase("4 app rate limit", _graph(400, 4), Outcome.THROTTLED),
    ErrorCase("131000 something went wrong", _graph(500, 131000), Outcome.FAIL_PROVIDER),
    ErrorCase("2 service unavailable", _graph(503, 2), Outcome.FAIL_PROVIDER),
    ErrorCase("2xx without messages", Reply(200, {"messaging_product": "whatsapp"}), Outcome.FAIL_PROVIDER),
    MALFORMED,
)
WA_SUCCESS = Reply(200, {"messaging_product": "whatsapp", "contacts": [{"input": "+254711000001", "wa_id": "254711000001"}],
                         "messages": [{"id": "wamid.HBgLMjU0NzExMDAwMDAxFQIAERgSQ0Y="}]})
WA_TEXT = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": "+254711000001",
           "type": "text", "text": {"preview_url": False, "body": "Hello"}}
WA_TEMPLATE = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": "+254711000001", "type": "template",
               "template": {"name": "order_ready", "language": {"code": "en_US"}, "components": [
                   {"type": "body", "parameters": [{"type": "text", "text": "42"}, {"type": "text", "text": "Friday"}]}]}}


def check_meta(r: httpx.Request) -> None:
    assert r.headers["authorization"] == f"Bearer {SECRETS['meta']}"
    assert r.headers["content-type"] == "application/json"
    assert body(r) == WA_TEXT


META = Case(
    package="provider-meta-cloud", request=WHATSAPP, credentials={"access_token": SECRETS["meta"]},
    settings={"phone_number_id": "106540352242922", "api_version": "v24.0"},
    url="https://graph.facebook.com/v24.0/106540352242922/messages", check=check_meta,
    success=WA_SUCCESS, message_id="wamid.HBgLMjU0NzExMDAwMDAxFQIAERgSQ0Y=", errors=GRAPH_ERRORS,
)


def check_360(r: httpx.Request) -> None:
    assert r.headers["d360-api-key"] == SECRETS["d360"]
    assert "authorization" not in r.headers
    assert body(r) == WA_TEXT


def _d360(status: int, message: str) -> Reply:
    return Reply(status, {"meta": {"success": False, "http_code": status, "developer_message": message,
                                   "360dialog_trace_id": "TOZFYLoh3xrUq2FsREQ"}})


DIALOG360 = Case(
    package="provider-360dialog", request=WHATSAPP, credentials={"api_key": SECRETS["d360"]}, settings={},
    url="https://waba-v2.360dialog.io/messages", check=check_360, success=WA_SUCCESS,
    message_id="wamid.HBgLMjU0NzExMDAwMDAxFQIAERgSQ0Y=",
    errors=GRAPH_ERRORS + (
        ErrorCase("401 Invalid api_key", _d360(401, "Invalid api_key"), Outcome.FAIL_AUTH),
        ErrorCase("400 endpoint rate limit", _d360(400, "You have exceeded the endpoint rate limit."), Outcome.THROTTLED),
        ErrorCase("400 lack of payment", _d360(400, "Could not send message due to lack of payment."), Outcome.FAIL_AUTH),
        ErrorCase("502 not available", _d360(502, "WhatsApp for Business API not available"), Outcome.FAIL_PROVIDER),
    ),
)


def _twilio(status: int, code: int, **headers: str) -> Reply:
    return Reply(status, {"code": code, "message": "m", "more_info": f"https://www.twilio.com/docs/errors/{code}",
                          "status": status}, headers=headers)


TWILIO_ERRORS = (
    ErrorCase("21211 invalid To", _twilio(400, 21211), Outcome.REJECTED),
    ErrorCase("21610 unsubscribed", _twilio(400, 21610), Outcome.REJECTED),
    ErrorCase("21614 not mobile", _twilio(400, 21614), Outcome.REJECTED),
    ErrorCase("20003 authenticate", _twilio(401, 20003), Outcome.FAIL_AUTH),
    ErrorCase("21606 From not ours", _twilio(400, 21606), Outcome.FAIL_AUTH),
    ErrorCase("21408 region not enabled", _twilio(400, 21408), Outcome.FAIL_AUTH),
    ErrorCase("20429 too many requests", _twilio(429, 20429, **{"Retry-After": "7"}), Outcome.THROTTLED, 7.0),
    ErrorCase("unknown 400 code", _twilio(400, 12345), Outcome.REJECTED),
    ErrorCase("500", _twilio(500, 20500), Outcome.FAIL_PROVIDER),
    ErrorCase("201 but failed", Reply(201, {"sid": "SMx", "status": "failed", "error_code": 30007, "error_message": "filtered"}),
              Outcome.FAIL_PROVIDER),
    ErrorCase("201 without sid", Reply(201, {"status": "queued"}), Outcome.FAIL_PROVIDER),
    MALFORMED,
)
TWILIO_SUCCESS = Reply(201, {"sid": "SM" + "a" * 32, "status": "queued", "error_code": None, "error_message": None})


def _check_twilio(expected_form: dict[str, str]) -> Callable[[httpx.Request], None]:
    def check(r: httpx.Request) -> None:
        assert r.headers["authorization"] == basic(TWILIO_SID, SECRETS["twilio"])
        assert r.headers["content-type"] == "application/x-www-form-urlencoded"
        assert form(r) == expected_form

    return check


TWILIO_WA = Case(
    package="provider-twilio-whatsapp", request=WHATSAPP,
    credentials={"account_sid": TWILIO_SID, "auth_token": SECRETS["twilio"]}, settings={"from": "+14155238886"},
    url=f"https://api.twilio.com/2010-04-01/Accounts/{TWILIO_SID}/Messages.json",
    check=_check_twilio({"To": "whatsapp:+254711000001", "From": "whatsapp:+14155238886", "Body": "Hello"}),
    success=TWILIO_SUCCESS, message_id="SM" + "a" * 32,
    errors=TWILIO_ERRORS + (ErrorCase("63016 outside window", _twilio(400, 63016), Outcome.REJECTED),),
)

# ------------------------------------------------------------------ sms

TWILIO_SMS = Case(
    package="provider-twilio-sms", request=SMS,
    credentials={"account_sid": TWILIO_SID, "auth_token": SECRETS["twilio"]},
    settings={"messaging_service_sid": "MG" + "b" * 32},
    url=f"https://api.twilio.com/2010-04-01/Accounts/{TWILIO_SID}/Messages.json",
    check=_check_twilio({"To": "+254711000001", "MessagingServiceSid": "MG" + "b" * 32, "Body": "Code 1234"}),
    success=TWILIO_SUCCESS, message_id="SM" + "a" * 32, errors=TWILIO_ERRORS,
)


def check_at(r: httpx.Request) -> None:
    assert r.headers["apikey"] == SECRETS["at"]
    assert r.headers["accept"] == "application/json"
    assert r.headers["content-type"] == "application/x-www-form-urlencoded"
    assert form(r) == {"username": "sandbox", "to": "+254711000001", "message": "Code 1234", "from": "ACME"}


def _at(code: int, status: str) -> Reply:
    ok = code in (100, 101, 102)
    return Reply(201, {"SMSMessageData": {"Message": f"Sent to {int(ok)}/1 Total Cost: KES 0.8000", "Recipients": [
        {"statusCode": code, "number": "+254711000001", "status": status, "cost": "KES 0.8000" if ok else "0",
         "messageId": "ATXid_abc" if ok else "None"}]}})


AFRICASTALKING = Case(
    package="provider-africastalking", request=SMS, credentials={"username": "sandbox", "api_key": SECRETS["at"]},
    settings={"from": "ACME", "environment": "sandbox"}, url="https://api.sandbox.africastalking.com/version1/messaging",
    check=check_at, success=_at(101, "Success"), message_id="ATXid_abc",
    errors=(
        ErrorCase("403 InvalidPhoneNumber", _at(403, "InvalidPhoneNumber"), Outcome.REJECTED),
        ErrorCase("406 UserInBlacklist", _at(406, "UserInBlacklist"), Outcome.REJECTED),
        ErrorCase("409 DoNotDisturbRejection", _at(409, "DoNotDisturbRejection"), Outcome.REJECTED),
        ErrorCase("404 UnsupportedNumberType", _at(404, "UnsupportedNumberType"), Outcome.REJECTED),
        ErrorCase("405 InsufficientBalance", _at(405, "InsufficientBalance"), Outcome.FAIL_AUTH),
        ErrorCase("402 InvalidSenderId", _at(402, "InvalidSenderId"), Outcome.FAIL_AUTH),
        ErrorCase("401 RiskHold", _at(401, "RiskHold"), Outcome.FAIL_AUTH),
        ErrorCase("407 CouldNotRoute", _at(407, "CouldNotRoute"), Outcome.FAIL_PROVIDER),
        ErrorCase("502 RejectedByGateway", _at(502, "RejectedByGateway"), Outcome.FAIL_PROVIDER),
        ErrorCase("no recipients, InvalidSenderId", Reply(201, {"SMSMessageData": {"Message": "InvalidSenderId", "Recipients": []}}),
                  Outcome.FAIL_AUTH),
        ErrorCase("HTTP 401", Reply(401, text="The supplied authentication is invalid"), Outcome.FAIL_AUTH),
        ErrorCase("HTTP 400 missing field", Reply(400, text="Request is missing required form field 'to'"), Outcome.REJECTED),
        _throttle(text="Too Many Requests"),
        _5xx(),
        ErrorCase("XML body (no Accept)", Reply(201, text="<AfricasTalkingResponse/>"), Outcome.FAIL_PROVIDER),
    ),
)


def check_termii(r: httpx.Request) -> None:
    assert r.headers["content-type"] == "application/json"
    assert "authorization" not in r.headers
    assert body(r) == {"api_key": SECRETS["termii"], "to": "254711000001", "from": "Acme", "sms": "Code 1234",
                       "type": "plain", "channel": "dnd"}


TERMII = Case(
    package="provider-termii", request=SMS, credentials={"api_key": SECRETS["termii"]},
    settings={"from": "Acme", "route": "dnd"}, url="https://api.ng.termii.com/api/sms/send", check=check_termii,
    success=Reply(200, {"code": "ok", "balance": 9, "message_id": "9122821270554876574", "message": "Successfully Sent",
                        "user": "Peter Mcleish"}), message_id="9122821270554876574",
    errors=(
        ErrorCase("401", Reply(401, {"message": "Unauthorized"}), Outcome.FAIL_AUTH),
        ErrorCase("account not active", Reply(400, {"message": "Your account is not active"}), Outcome.FAIL_AUTH),
        ErrorCase("route not set up", Reply(400, {"message": "You are not set up on this route"}), Outcome.FAIL_AUTH),
        ErrorCase("invalid sender id", Reply(400, {"message": "Invalid Sender Id"}), Outcome.FAIL_AUTH),
        ErrorCase("daily limit", Reply(400, {"message": "Your device has reached the daily limit"}), Outcome.THROTTLED),
        ErrorCase("invalid number", Reply(400, {"message": "Invalid phone number"}), Outcome.REJECTED),
        ErrorCase("422 validation", Reply(422, {"message": "The given data was invalid."}), Outcome.REJECTED),
        _throttle({"message": "Too Many Attempts."}),
        _5xx(),
        ErrorCase("200 without message_id", Reply(200, {"code": "ok"}), Outcome.FAIL_PROVIDER),
        MALFORMED,
    ),
)

HTTP_CASES: tuple[Case, ...] = (SES, SENDGRID, MAILGUN, RESEND, META, DIALOG360, TWILIO_WA, TWILIO_SMS, AFRICASTALKING, TERMII)
