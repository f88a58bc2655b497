"""JSON Schemas (draft 2020-12) of the message contracts, for producers and consumers in other languages.

Why it exists: the pydantic models in ``sendpipe.core.messages`` are the
source of truth (ARCHITECTURE §5b); these schemas are derived from them by
alias (camelCase, as on the wire) and checked in under ``schemas/``, with a
test that fails when they drift. Rules that live in model validators (an
email needs text or html; a WhatsApp message has exactly one of text or
template) are added here so that other languages see them too.
"""

from __future__ import annotations

from typing import Any

from sendpipe.core.messages import MAX_REQUEST_BYTES, SEND_REQUEST, DeliveryEvent

__all__ = ["DRAFT", "GENERATED_SCHEMAS", "delivery_event_schema", "send_request_schema"]

DRAFT = "https://json-schema.org/draft/2020-12/schema"
Schema = dict[str, Any]


def send_request_schema() -> Schema:
    """What producers write to ``sendpipe.send.<channel>`` (validation mode: what SendPipe accepts)."""
    body = SEND_REQUEST.json_schema(by_alias=True, mode="validation")
    defs = body["$defs"]
    defs["EmailRequest"]["anyOf"] = [{"required": ["text"]}, {"required": ["html"]}]
    defs["WhatsAppRequest"]["oneOf"] = [{"required": ["text"]}, {"required": ["template"]}]
    return {
        "$schema": DRAFT,
        "title": "SendRequest",
        "description": (
            "One message to deliver, keyed by its id, written as JSON to sendpipe.send.<channel>. "
            f"The encoded request must not exceed {MAX_REQUEST_BYTES} bytes."
        ),
        **body,
    }


def delivery_event_schema() -> Schema:
    """What SendPipe writes to ``sendpipe.events`` (serialization mode: what consumers read)."""
    body = DeliveryEvent.model_json_schema(by_alias=True, mode="serialization")
    return {
        "$schema": DRAFT,
        **body,
        "title": "DeliveryEvent",
        "description": "The one terminal event of a message (SENT or FAILED), keyed by message id.",
    }


GENERATED_SCHEMAS = {
    "send-request.schema.json": send_request_schema,
    "delivery-event.schema.json": delivery_event_schema,
}
