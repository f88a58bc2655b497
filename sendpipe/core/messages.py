"""The message contracts: what producers write (SendRequest) and what SendPipe emits (DeliveryEvent).

A SendRequest is a union discriminated by ``channel``; each channel carries
its own content fields, so a request with the wrong content for its channel is
rejected with an error naming the field. JSON Schemas for producers in other
languages are generated from these models (``sendpipe.core.schemas``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, NewType, Self, TypeAlias

import phonenumbers
from pydantic import AfterValidator, AwareDatetime, EmailStr, Field, TypeAdapter, ValidationError, model_validator
from pydantic.json_schema import WithJsonSchema

from sendpipe.core.outcomes import Channel, DeliveryStatus, FailureReason, Outcome
from sendpipe.core.wire import WireModel

MessageId = NewType("MessageId", str)
ProviderUid = NewType("ProviderUid", str)

MAX_REQUEST_BYTES = 256 * 1024
"""A SendRequest larger than this (encoded) is refused before parsing."""

MESSAGE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$"
NAMESPACE_PATTERN = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"


def _e164(value: str) -> str:
    """Accept only a possible phone number written in E.164 (``+`` and digits)."""
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        raise ValueError("not an E.164 phone number (like +14155550100)") from None
    formatted = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if formatted != value or not phonenumbers.is_possible_number(number):
        raise ValueError("not an E.164 phone number (like +14155550100)")
    return value


E164 = Annotated[
    str,
    AfterValidator(_e164),
    WithJsonSchema({"type": "string", "pattern": r"^\+[1-9][0-9]{1,14}$", "description": "A phone number in E.164."}),
]
Metadata = Annotated[dict[Annotated[str, Field(max_length=64)], Annotated[str, Field(max_length=512)]], Field(max_length=32)]


class _RequestBase(WireModel):
    id: Annotated[MessageId, Field(pattern=MESSAGE_ID_PATTERN, description="Unique message id; the idempotency key.")]
    namespace: Annotated[str, Field(pattern=NAMESPACE_PATTERN, description="The organization/project whose providers serve it.")]
    metadata: Metadata | None = None
    expires_at: AwareDatetime | None = Field(default=None, description="Give up (FAILED Expired) after this instant.")


class EmailRequest(_RequestBase):
    channel: Literal[Channel.EMAIL]
    to: EmailStr
    from_: str | None = Field(default=None, alias="from", max_length=320)
    reply_to: EmailStr | None = None
    subject: Annotated[str, Field(min_length=1, max_length=998)]
    text: Annotated[str, Field(max_length=MAX_REQUEST_BYTES)] | None = None
    html: Annotated[str, Field(max_length=MAX_REQUEST_BYTES)] | None = None

    @model_validator(mode="after")
    def _has_body(self) -> Self:
        if not self.text and not self.html:
            raise ValueError("an email needs a body: set text, html, or both")
        return self


class SmsRequest(_RequestBase):
    channel: Literal[Channel.SMS]
    to: E164
    from_: str | None = Field(default=None, alias="from", min_length=1, max_length=20)
    text: Annotated[str, Field(min_length=1, max_length=1600)]


class WhatsAppTemplate(WireModel):
    """An approved WhatsApp message template and the values of its body parameters."""

    name: Annotated[str, Field(pattern=r"^[a-z0-9_]{1,512}$")]
    language: Annotated[str, Field(pattern=r"^[a-z]{2,3}(_[A-Za-z]{2,4})?$", examples=["en_US"])]
    parameters: Annotated[list[Annotated[str, Field(max_length=1024)]], Field(max_length=32)] = []


class WhatsAppRequest(_RequestBase):
    channel: Literal[Channel.WHATSAPP]
    to: E164
    from_: str | None = Field(default=None, alias="from", max_length=64)
    text: Annotated[str, Field(min_length=1, max_length=4096)] | None = None
    template: WhatsAppTemplate | None = None

    @model_validator(mode="after")
    def _text_or_template(self) -> Self:
        if (self.text is None) == (self.template is None):
            raise ValueError("a WhatsApp message needs exactly one of text or template")
        return self


SendRequest: TypeAlias = Annotated[EmailRequest | SmsRequest | WhatsAppRequest, Field(discriminator="channel")]
SEND_REQUEST: TypeAdapter[EmailRequest | SmsRequest | WhatsAppRequest] = TypeAdapter(SendRequest)


class RequestTooLarge(ValueError):
    pass


def parse_send_request(raw: bytes | str) -> EmailRequest | SmsRequest | WhatsAppRequest:
    """Decode and validate one SendRequest; raise RequestTooLarge or pydantic.ValidationError."""
    size = len(raw.encode() if isinstance(raw, str) else raw)
    if size > MAX_REQUEST_BYTES:
        raise RequestTooLarge(f"request is {size} bytes; the limit is {MAX_REQUEST_BYTES}")
    return SEND_REQUEST.validate_json(raw)


def describe_validation_error(error: ValidationError) -> str:
    """One line per problem, each naming the field: fit for a DLQ reason or a CLI error."""
    lines = []
    for item in error.errors(include_url=False):
        where = ".".join(str(part) for part in item["loc"]) or "(message)"
        message = item["msg"].removeprefix("Value error, ")  # pydantic's wrapper around our own ValueErrors
        if item["type"] in ("union_tag_invalid", "union_tag_not_found"):
            # pydantic names no field for a bad discriminator; the discriminator is the field.
            field = str(item.get("ctx", {}).get("discriminator", "channel")).strip("'")
            where = ".".join([*(str(part) for part in item["loc"]), field])
            known = ", ".join(channel.value for channel in Channel)
            message = (
                f"unknown {field} {item['ctx']['tag']!r}; expected one of {known}"
                if item["type"] == "union_tag_invalid"
                else f"missing; expected one of {known}"
            )
        lines.append(f"{where}: {message}")
    return "; ".join(lines)


class Attempt(WireModel):
    """One try of one provider for one message."""

    provider: str  # the Provider resource's name
    provider_uid: ProviderUid
    package: str
    outcome: Outcome
    http_status: int | None = None
    latency_ms: float
    error: Annotated[str, Field(max_length=1024)] | None = None
    possible_duplicate: bool = False
    probe: bool = False
    provider_message_id: str | None = None
    started_at: AwareDatetime


class DeliveryEvent(WireModel):
    """The one terminal event of a message: SENT through a provider, or FAILED with a reason."""

    id: MessageId
    namespace: str
    channel: Channel
    status: DeliveryStatus
    provider: str | None = None
    provider_uid: ProviderUid | None = None
    provider_message_id: str | None = None
    reason: FailureReason | None = None
    detail: Annotated[str, Field(max_length=2048)] | None = None
    attempts: list[Attempt] = []
    metadata: Metadata | None = None
    received_at: AwareDatetime | None = None
    completed_at: datetime

    @model_validator(mode="after")
    def _status_is_consistent(self) -> Self:
        if self.status is DeliveryStatus.SENT and self.provider is None:
            raise ValueError("a SENT event names the provider that delivered it")
        if self.status is DeliveryStatus.FAILED and self.reason is None:
            raise ValueError("a FAILED event carries a reason")
        return self
