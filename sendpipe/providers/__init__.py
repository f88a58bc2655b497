"""Provider adapters: one small module per marketplace package, one shared HTTP client, one result type.

Usage (a worker)::

    async with ProviderClient(max_connections=200) as client:
        adapter = get_adapter("provider-sendgrid")
        result = await adapter.send(request, credentials=creds, settings=settings, client=client)
        result.outcome, result.provider_message_id, result.possible_duplicate, ...
"""

from __future__ import annotations

from sendpipe.providers.base import Adapter, ConfigurationError, HttpAdapter, PreparedSend
from sendpipe.providers.client import HttpCall, ProviderClient, Reply, TransportFailure
from sendpipe.providers.registry import ADAPTERS, DuplicateAdapterError, build_registry, get_adapter
from sendpipe.providers.result import SendResult

__all__ = [
    "ADAPTERS",
    "Adapter",
    "ConfigurationError",
    "DuplicateAdapterError",
    "HttpAdapter",
    "HttpCall",
    "PreparedSend",
    "ProviderClient",
    "Reply",
    "SendResult",
    "TransportFailure",
    "build_registry",
    "get_adapter",
]
