"""Mailgun ``POST /v3/{domain}/messages``: form fields, basic auth ``api:KEY``, US or EU base URL.

Success is 200 ``{"id": "<...>", "message": "Queued. Thank you."}``. A bad
key is 401 with a plain ``Forbidden`` body; an unknown domain is 404; a
domain not allowed to send is 403 (all FAIL_AUTH); 400 ``{"message"}`` is an
invalid request such as a bad recipient (REJECTED).
"""

from __future__ import annotations

from sendpipe.core.catalog.email import MailgunCredentials, MailgunSettings
from sendpipe.core.messages import EmailRequest
from sendpipe.core.outcomes import Channel, Outcome
from sendpipe.providers.base import HttpAdapter, MalformedReply, by_status, json_object, maybe_json
from sendpipe.providers.client import HttpCall, Reply
from sendpipe.providers.result import SendResult, failure, success

REGION_BASE_URLS = {"us": "https://api.mailgun.net", "eu": "https://api.eu.mailgun.net"}


class MailgunAdapter(HttpAdapter):
    package = "provider-mailgun"
    channel = Channel.EMAIL
    credentials_type = MailgunCredentials
    settings_type = MailgunSettings
    default_base_url = REGION_BASE_URLS["us"]

    def base_url(self, settings: MailgunSettings) -> str:
        if settings.base_url is not None:
            return str(settings.base_url).rstrip("/")
        return REGION_BASE_URLS[settings.region]

    def build(self, request: EmailRequest, credentials: MailgunCredentials, settings: MailgunSettings) -> HttpCall:
        form = {
            "from": request.from_ or settings.from_,
            "to": str(request.to),
            "subject": request.subject,
            "v:sendpipe-message-id": request.id,
        }
        if request.text:
            form["text"] = request.text
        if request.html:
            form["html"] = request.html
        if request.reply_to:
            form["h:Reply-To"] = str(request.reply_to)
        return HttpCall(
            method="POST",
            url=f"{self.base_url(settings)}/v3/{settings.domain}/messages",
            form=form,
            auth=("api", credentials.api_key.get_secret_value()),
        )

    def interpret(self, reply: Reply) -> SendResult:
        if 200 <= reply.status < 300:
            message_id = json_object(reply).get("id")
            if not isinstance(message_id, str) or not message_id:
                raise MalformedReply("2xx without an id")
            return success(message_id.strip("<>"), status=reply.status)
        message = str(maybe_json(reply).get("message") or reply.text[:200])
        if reply.status == 404:  # "Domain not found": the account is not set up for this domain
            return failure(Outcome.FAIL_AUTH, f"HTTP 404: {message}", status=404)
        return by_status(reply, message)


ADAPTER = MailgunAdapter()
