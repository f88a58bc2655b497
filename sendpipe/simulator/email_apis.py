"""Simulated email APIs: Amazon SES v2 (SigV4 verified), SendGrid v3, Mailgun, Resend.

Each checks auth and the payload the way the real API does and answers
with its documented success and error shapes. An address whose local part
starts with ``invalid`` is treated as an invalid recipient.
"""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from typing import Any

from aiohttp import web

from sendpipe.simulator.base import ProviderSim, SimRequest, bad_email, hex_id, json_reply, malformed, text_reply

# ---------------------------------------------------------------- SES v2


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def sigv4_problem(request: SimRequest, *, access_key_id: str, secret: str, service: str) -> tuple[str, str] | None:
    """None if the SigV4 signature is valid; else (AWS error type, message)."""
    auth = request.headers.get("Authorization", "")
    if not auth.startswith("AWS4-HMAC-SHA256 "):
        return "MissingAuthenticationTokenException", "Missing Authentication Token"
    try:
        parts = dict(item.strip().split("=", 1) for item in auth[len("AWS4-HMAC-SHA256 "):].split(","))
        akid, date, region, svc, terminator = parts["Credential"].split("/")
        signed = parts["SignedHeaders"].split(";")
        signature = parts["Signature"]
    except (KeyError, ValueError):
        return "IncompleteSignatureException", "Authorization header requires Credential, SignedHeaders and Signature."
    if akid != access_key_id:
        return "UnrecognizedClientException", "The security token included in the request is invalid."
    amz_date = request.headers.get("x-amz-date", "")
    if svc != service or terminator != "aws4_request" or not amz_date.startswith(date) or "host" not in signed:
        return "InvalidSignatureException", "Credential should be scoped to a valid region and service."
    canonical_headers = "".join(f"{name}:{request.headers.get(name, '').strip()}\n" for name in signed)
    canonical = "\n".join(
        ["POST" if request.method == "POST" else request.method, request.path, "", canonical_headers,
         ";".join(signed), hashlib.sha256(request.body).hexdigest()]
    )
    scope = f"{date}/{region}/{svc}/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = _hmac(_hmac(_hmac(_hmac(f"AWS4{secret}".encode(), date), region), svc), "aws4_request")
    expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        return "InvalidSignatureException", (
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method."
        )
    return None


def _aws_error(kind: str, message: str, status: int, *, retry_after: int | None = None) -> web.Response:
    headers = {"x-amzn-ErrorType": f"{kind}:http://internal.amazon.com/coral/com.amazonaws.sesv2/",
               "x-amzn-RequestId": str(uuid.uuid4())}
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    return json_reply({"message": message}, status=status, headers=headers)


class SesSim(ProviderSim):
    name = "ses"
    routes = (("POST", "/v2/email/outbound-emails"),)

    async def handle(self, request: SimRequest) -> web.Response:
        creds = request.credentials
        problem = sigv4_problem(request, access_key_id=creds.ses_access_key_id, secret=creds.ses_secret_access_key,
                                service="ses")
        if problem:
            return _aws_error(problem[0], problem[1], 403)
        body = request.json()
        if not isinstance(body, dict):
            return _aws_error("BadRequestException", "Invalid JSON body", 400)
        if not body.get("FromEmailAddress"):
            return _aws_error("BadRequestException", "Missing required parameter FromEmailAddress", 400)
        simple = (body.get("Content") or {}).get("Simple")
        if not isinstance(simple, dict) or not (simple.get("Subject") or {}).get("Data"):
            return _aws_error("BadRequestException", "Content.Simple.Subject.Data is required", 400)
        if not (simple.get("Body") or {}).get("Text") and not (simple.get("Body") or {}).get("Html"):
            return _aws_error("BadRequestException", "Content.Simple.Body needs Text or Html", 400)
        to = (body.get("Destination") or {}).get("ToAddresses") or []
        if not to:
            return _aws_error("BadRequestException", "Destination.ToAddresses is required", 400)
        if any(bad_email(address) for address in to):
            return _aws_error("MessageRejected", "Address blacklisted.", 400)
        return json_reply({"MessageId": f"0100{hex_id(12)}-{uuid.uuid4()}-000000"})

    def error(self, kind: str, *, retry_after: int) -> web.Response:
        if kind == "auth":
            return _aws_error("UnrecognizedClientException", "The security token included in the request is invalid.", 403)
        if kind == "throttle":
            return _aws_error("TooManyRequestsException", "Too many requests.", 429, retry_after=retry_after)
        if kind == "invalid_recipient":
            return _aws_error("MessageRejected", "Address blacklisted.", 400)
        if kind == "validation":
            return _aws_error("BadRequestException", "Missing required parameter FromEmailAddress", 400)
        if kind == "malformed":
            return malformed()
        return _aws_error("InternalFailure", "The request processing has failed because of an unknown error.", 500)


# ---------------------------------------------------------------- SendGrid v3

_SG_HELP = "http://sendgrid.com/docs/API_Reference/Web_API_v3/Mail/errors.html"


def _sg_errors(status: int, *errors: tuple[str | None, str], retry_after: int | None = None) -> web.Response:
    body = {"errors": [{"message": message, "field": field, "help": _SG_HELP if field else None} for field, message in errors]}
    return json_reply(body, status=status, headers={"Retry-After": str(retry_after)} if retry_after is not None else None)


class SendGridSim(ProviderSim):
    name = "sendgrid"
    routes = (("POST", "/v3/mail/send"),)

    async def handle(self, request: SimRequest) -> web.Response:
        if request.bearer() != request.credentials.sendgrid_api_key:
            return self.error("auth", retry_after=0)
        body = request.json()
        if not isinstance(body, dict):
            return _sg_errors(400, (None, "Bad Request"))
        problems: list[tuple[str | None, str]] = []
        personalizations = body.get("personalizations")
        if not isinstance(personalizations, list) or not personalizations:
            problems.append(("personalizations", "The personalizations field is required and must have at least one personalization."))
        if not isinstance(body.get("from"), dict) or not body["from"].get("email"):
            problems.append(("from.email", "The from object must be provided for every email send. It is an object that requires the email parameter, but may also contain a name parameter."))
        if not body.get("subject"):
            problems.append(("subject", "The subject is required. You can get around this requirement if you use a template with a subject defined or if every personalization has a subject defined."))
        content = body.get("content")
        if not isinstance(content, list) or not content or not all(isinstance(c, dict) and c.get("value") for c in content):
            problems.append(("content", "Unless a valid template_id is provided, the content parameter is required. There must be at least one defined content block."))
        elif len(content) > 1 and content[0].get("type") != "text/plain":
            problems.append(("content", "If present, text/plain content must be first, followed by text/html, followed by any other content."))
        for i, personalization in enumerate(personalizations or []):
            for j, recipient in enumerate((personalization or {}).get("to") or []):
                if bad_email((recipient or {}).get("email")):
                    problems.append((f"personalizations.{i}.to.{j}.email", "Does not contain a valid address."))
        if problems:
            return _sg_errors(400, *problems)
        return web.Response(status=202, headers={"X-Message-Id": hex_id(22)})

    def error(self, kind: str, *, retry_after: int) -> web.Response:
        if kind == "auth":
            return _sg_errors(401, (None, "The provided authorization grant is invalid, expired, or revoked"))
        if kind == "throttle":
            return _sg_errors(429, (None, "too many requests"), retry_after=retry_after)
        if kind == "invalid_recipient":
            return _sg_errors(400, ("personalizations.0.to.0.email", "Does not contain a valid address."))
        if kind == "validation":
            return _sg_errors(400, ("subject", "The subject is required."))
        if kind == "malformed":
            return web.Response(status=202)  # accepted but no X-Message-Id
        return _sg_errors(500, (None, "An internal server error occurred."))


# ---------------------------------------------------------------- Mailgun


class MailgunSim(ProviderSim):
    name = "mailgun"
    routes = (("POST", "/v3/{domain}/messages"),)

    async def handle(self, request: SimRequest) -> web.Response:
        creds = request.credentials
        if request.basic() != ("api", creds.mailgun_api_key):
            return self.error("auth", retry_after=0)
        domain = request.match["domain"]
        if creds.mailgun_domains and domain not in creds.mailgun_domains:
            return json_reply({"message": f"Domain not found: {domain}"}, status=404)
        form = request.form()
        for field in ("from", "to"):
            if not form.get(field):
                return json_reply({"message": f"{field} parameter is missing"}, status=400)
        if not any(form.get(k) for k in ("text", "html", "amp-html", "template")):
            return json_reply({"message": "Need at least one of 'text', 'html', 'amp-html' or 'template' parameters specified"}, status=400)
        if bad_email(form["to"]):
            return self.error("invalid_recipient", retry_after=0)
        stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime())
        return json_reply({"id": f"<{stamp}.{hex_id(16)}@{domain}>", "message": "Queued. Thank you."})

    def error(self, kind: str, *, retry_after: int) -> web.Response:
        if kind == "auth":
            return text_reply("Forbidden", status=401)
        if kind == "throttle":
            return json_reply({"message": "Too many requests"}, status=429, headers={"Retry-After": str(retry_after)})
        if kind == "invalid_recipient":
            return json_reply({"message": "to parameter is not a valid address. please check documentation"}, status=400)
        if kind == "validation":
            return json_reply({"message": "from parameter is missing"}, status=400)
        if kind == "malformed":
            return malformed()
        return text_reply("Internal Server Error", status=500)


# ---------------------------------------------------------------- Resend


def _resend_error(status: int, name: str, message: str, *, retry_after: int | None = None) -> web.Response:
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return json_reply({"statusCode": status, "message": message, "name": name}, status=status, headers=headers)


class ResendSim(ProviderSim):
    name = "resend"
    routes = (("POST", "/emails"),)

    def __init__(self) -> None:
        self._idempotency: dict[str, tuple[str, str]] = {}  # key -> (payload digest, email id)

    async def handle(self, request: SimRequest) -> web.Response:
        token = request.bearer()
        if not token:
            return _resend_error(401, "missing_api_key", "Missing API key in the authorization header")
        if token != request.credentials.resend_api_key:
            return _resend_error(403, "invalid_api_key", "API key is invalid")
        body = request.json()
        if not isinstance(body, dict):
            return _resend_error(400, "validation_error", "We found an error with one or more fields in the request.")
        for field in ("from", "to", "subject"):
            if not body.get(field):
                return _resend_error(422, "missing_required_field", f"Missing `{field}` field.")
        recipients: list[Any] = body["to"] if isinstance(body["to"], list) else [body["to"]]
        if any(bad_email(address) for address in recipients):
            return self.error("invalid_recipient", retry_after=0)
        key = request.headers.get("Idempotency-Key")
        digest = hashlib.sha256(request.body).hexdigest()
        if key is not None:
            if not 1 <= len(key) <= 256:
                return _resend_error(400, "invalid_idempotency_key", "The key must be between 1-256 chars.")
            if key in self._idempotency:
                seen_digest, email_id = self._idempotency[key]
                if seen_digest != digest:
                    return _resend_error(409, "invalid_idempotent_request", "Same idempotency key used with a different request payload.")
                return json_reply({"id": email_id})
        email_id = str(uuid.uuid4())
        if key is not None:
            if len(self._idempotency) >= 100_000:  # bounded, like the real 24-hour window
                self._idempotency.pop(next(iter(self._idempotency)))
            self._idempotency[key] = (digest, email_id)
        return json_reply({"id": email_id})

    def error(self, kind: str, *, retry_after: int) -> web.Response:
        if kind == "auth":
            return _resend_error(403, "invalid_api_key", "API key is invalid")
        if kind == "throttle":
            return _resend_error(429, "rate_limit_exceeded", "Too many requests. Please limit the number of requests per second.", retry_after=retry_after)
        if kind == "invalid_recipient":
            return _resend_error(422, "validation_error", "Invalid `to` field. The email address needs to follow the `email@example.com` or `Name <email@example.com>` format.")
        if kind == "validation":
            return _resend_error(422, "missing_required_field", "Missing `subject` field.")
        if kind == "malformed":
            return malformed()
        return _resend_error(500, "application_error", "An unexpected error occurred.")
