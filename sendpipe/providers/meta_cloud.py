"""Meta WhatsApp Cloud API (``POST /{api-version}/{phone-number-id}/messages``), Bearer access token.

The body and the error codes are shared with 360dialog in whatsapp_cloud.py;
this module adds Meta's URL and auth.
"""

from __future__ import annotations

from sendpipe.core.catalog.whatsapp import MetaCloudCredentials, MetaCloudSettings
from sendpipe.core.messages import WhatsAppRequest
from sendpipe.core.outcomes import Channel
from sendpipe.providers import whatsapp_cloud
from sendpipe.providers.base import HttpAdapter, by_status, maybe_json
from sendpipe.providers.client import HttpCall, Reply
from sendpipe.providers.result import SendResult


class MetaCloudAdapter(HttpAdapter):
    package = "provider-meta-cloud"
    channel = Channel.WHATSAPP
    credentials_type = MetaCloudCredentials
    settings_type = MetaCloudSettings
    default_base_url = "https://graph.facebook.com"

    def build(self, request: WhatsAppRequest, credentials: MetaCloudCredentials, settings: MetaCloudSettings) -> HttpCall:
        return HttpCall(
            method="POST",
            url=f"{self.base_url(settings)}/{settings.api_version}/{settings.phone_number_id}/messages",
            headers={"Authorization": f"Bearer {credentials.access_token.get_secret_value()}"},
            json_body=whatsapp_cloud.message_body(request),
        )

    def interpret(self, reply: Reply) -> SendResult:
        if 200 <= reply.status < 300:
            return whatsapp_cloud.parse_success(reply)
        error = maybe_json(reply).get("error")
        if isinstance(error, dict):
            return whatsapp_cloud.map_graph_error(reply, error)
        return by_status(reply, reply.text[:200])


ADAPTER = MetaCloudAdapter()
