"""Client of the namespace API: see client.py for the contract and the map of its modules,
errors.py for the error tree."""

from namespace_api.client.client import NamespaceApiClient
from namespace_api.client.ids import normalize_ids
from namespace_api.client.retry import RetryPolicy, parse_retry_after
from namespace_api.client.types import (
    KIND_TEXT,
    KIND_VECTOR,
    BatchResult,
    CallRecord,
    IdResult,
    Mode,
    Outcome,
)

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
