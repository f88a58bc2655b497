"""Amazon SES v2 ``SendEmail`` (``POST /v2/email/outbound-emails``), signed with SigV4 for service ``ses``.

Signing is done by httpx-auth's ``AWS4Auth`` (a small, maintained httpx auth
class) rather than by hand. Errors follow the restJson protocol: the type is in
the ``x-amzn-ErrorType`` header (or ``__type``/``code`` in the body), the text
in ``message``. See the SES v2 API reference, SendEmail "Errors".
"""

from __future__ import annotations

from typing import Any

from httpx_auth import AWS4Auth

from sendpipe.core.catalog.email import SesCredentials, SesSettings
from sendpipe.core.messages import EmailRequest
from sendpipe.core.outcomes import Channel, Outcome
from sendpipe.providers.base import HttpAdapter, MalformedReply, by_status, json_object, maybe_json
from sendpipe.providers.client import HttpCall, Reply
from sendpipe.providers.result import SendResult, failure, parse_retry_after, success

SIGNING_SERVICE = "ses"
MESSAGE_ID_HEADER = "X-SendPipe-Message-Id"

ERROR_TYPES: dict[str, Outcome] = {
    "MessageRejected": Outcome.REJECTED,
    "BadRequestException": Outcome.REJECTED,
    "MailFromDomainNotVerifiedException": Outcome.FAIL_AUTH,
    "AccountSuspendedException": Outcome.FAIL_AUTH,
    "SendingPausedException": Outcome.FAIL_AUTH,
    "NotFoundException": Outcome.FAIL_AUTH,  # e.g. the configuration set does not exist
    "AccessDeniedException": Outcome.FAIL_AUTH,
    "UnrecognizedClientException": Outcome.FAIL_AUTH,
    "InvalidSignatureException": Outcome.FAIL_AUTH,
    "SignatureDoesNotMatch": Outcome.FAIL_AUTH,
    "InvalidClientTokenId": Outcome.FAIL_AUTH,
    "ExpiredTokenException": Outcome.FAIL_AUTH,
    "MissingAuthenticationTokenException": Outcome.FAIL_AUTH,
    "IncompleteSignature": Outcome.FAIL_AUTH,
    "LimitExceededException": Outcome.THROTTLED,  # sending quota
    "TooManyRequestsException": Outcome.THROTTLED,
    "ThrottlingException": Outcome.THROTTLED,
}


def error_type(reply: Reply, body: dict[str, Any]) -> str:
    raw = reply.headers.get("x-amzn-errortype") or str(body.get("__type") or body.get("code") or "")
    return raw.split(":", 1)[0].rsplit("#", 1)[-1]


class SesAdapter(HttpAdapter):
    package = "provider-ses"
    channel = Channel.EMAIL
    credentials_type = SesCredentials
    settings_type = SesSettings

    def base_url(self, settings: SesSettings) -> str:
        if settings.base_url is not None:
            return str(settings.base_url).rstrip("/")
        return f"https://email.{settings.region}.amazonaws.com"

    def build(self, request: EmailRequest, credentials: SesCredentials, settings: SesSettings) -> HttpCall:
        body: dict[str, Any] = {}
        if request.text:
            body["Text"] = {"Data": request.text, "Charset": "UTF-8"}
        if request.html:
            body["Html"] = {"Data": request.html, "Charset": "UTF-8"}
        payload: dict[str, Any] = {
            "FromEmailAddress": request.from_ or settings.from_,
            "Destination": {"ToAddresses": [str(request.to)]},
            "Content": {
                "Simple": {
                    "Subject": {"Data": request.subject, "Charset": "UTF-8"},
                    "Body": body,
                    "Headers": [{"Name": MESSAGE_ID_HEADER, "Value": request.id}],
                }
            },
        }
        if request.reply_to:
            payload["ReplyToAddresses"] = [str(request.reply_to)]
        if settings.configuration_set_name:
            payload["ConfigurationSetName"] = settings.configuration_set_name
        token = credentials.session_token.get_secret_value() if credentials.session_token else None
        auth = AWS4Auth(
            access_id=credentials.access_key_id.get_secret_value(),
            secret_key=credentials.secret_access_key.get_secret_value(),
            region=settings.region,
            service=SIGNING_SERVICE,
            security_token=token,
        )
        return HttpCall(method="POST", url=f"{self.base_url(settings)}/v2/email/outbound-emails", json_body=payload, auth=auth)

    def interpret(self, reply: Reply) -> SendResult:
        if 200 <= reply.status < 300:
            message_id = json_object(reply).get("MessageId")
            if not isinstance(message_id, str) or not message_id:
                raise MalformedReply("2xx without a MessageId")
            return success(message_id, status=reply.status)
        body = maybe_json(reply)
        kind = error_type(reply, body)
        message = str(body.get("message") or body.get("Message") or "")
        outcome = ERROR_TYPES.get(kind)
        if outcome is Outcome.REJECTED and "not verified" in message:
            outcome = Outcome.FAIL_AUTH  # sandbox account: the identity must be verified first
        if outcome is None or reply.status >= 500:
            return by_status(reply, f"{kind}: {message}" if kind else message or reply.text[:200])
        retry_after = parse_retry_after(reply.headers.get("retry-after")) if outcome is Outcome.THROTTLED else None
        return failure(outcome, f"HTTP {reply.status} {kind}: {message}", status=reply.status, retry_after=retry_after)


ADAPTER = SesAdapter()
