"""Dead-letter records: the original bytes, untouched, with why and where from in headers.

Nothing is ever dropped: a record that cannot become a delivery (undecodable,
invalid, oversized, wrong channel for its topic, unknown namespace) goes to
``sendpipe.send.dlq`` keyed like the original, with headers
``sendpipe-dlq-reason`` (a stable code), ``sendpipe-dlq-detail`` (one line
per problem, naming fields, never values of secrets: requests carry none)
and ``sendpipe-dlq-source`` (topic). The original key and value are kept
byte for byte so the record can be fixed and replayed.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["DlqReason", "HEADER_DETAIL", "HEADER_REASON", "HEADER_SOURCE", "dlq_headers"]

HEADER_REASON = "sendpipe-dlq-reason"
HEADER_DETAIL = "sendpipe-dlq-detail"
HEADER_SOURCE = "sendpipe-dlq-source"
MAX_DETAIL_BYTES = 2048


class DlqReason(StrEnum):
    INVALID = "invalid"  # undecodable JSON or a schema violation (missing/wrong fields)
    OVERSIZED = "oversized"  # larger than MAX_REQUEST_BYTES
    WRONG_CHANNEL = "wrong-channel"  # the request's channel is not its topic's
    UNKNOWN_NAMESPACE = "unknown-namespace"  # no routing record at all for the namespace


def dlq_headers(*, reason: DlqReason, detail: str, source: str) -> list[tuple[str, bytes]]:
    return [
        (HEADER_REASON, reason.value.encode()),
        (HEADER_DETAIL, detail.encode()[:MAX_DETAIL_BYTES]),
        (HEADER_SOURCE, source.encode()),
    ]
