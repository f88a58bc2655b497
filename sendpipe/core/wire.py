"""The base of every model that crosses a process boundary (Kafka, Kubernetes, JSON files).

On the wire, field names are camelCase (as in Kubernetes resources and the
message contracts); in Python they are snake_case. Unknown fields are errors.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class WireModel(BaseModel):
    """Strict, immutable, camelCase-on-the-wire model."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        str_strip_whitespace=False,
    )

    def to_json_bytes(self) -> bytes:
        """Serialize the way every SendPipe component writes it: by alias, no nulls."""
        # The serializer itself: model_dump_json would decode its bytes to str for us to encode again.
        return self.__pydantic_serializer__.to_json(self, by_alias=True, exclude_none=True)

    def to_wire(self) -> dict[str, object]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)
