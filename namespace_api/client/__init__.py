"""Client of the namespace API: see client.py for the contract, errors.py for the tree."""

from namespace_api.client.client import (
    KIND_TEXT,
    KIND_VECTOR,
    NamespaceApiClient,
    RetryPolicy,
    normalize_ids,
    parse_retry_after,
)
from namespace_api.client.types import BatchResult, CallRecord, IdResult, Mode, Outcome

__all__ = [
    "KIND_TEXT",
    "KIND_VECTOR",
    "BatchResult",
    "CallRecord",
    "IdResult",
    "Mode",
    "NamespaceApiClient",
    "Outcome",
    "RetryPolicy",
    "normalize_ids",
    "parse_retry_after",
]
