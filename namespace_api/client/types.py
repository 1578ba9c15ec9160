"""The client's vocabulary and typed results: kinds, modes, flavours, outcomes, calls."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

# The two kinds of namespace (the API's `type`): text documents, or vectors.
KIND_TEXT = "text"
KIND_VECTOR = "vector"


class Outcome(StrEnum):
    """What the client can say of one ID after an erase (product.md "Item outcomes")."""

    DELETED = "deleted"
    NOT_FOUND = "not_found"
    DELETED_OR_NOT_FOUND = "deleted_or_not_found"
    FAILED = "failed"


class Mode(StrEnum):
    """Attribution modes (namespace-api.md section 6)."""

    EXACT = "exact"
    ADAPTIVE = "adaptive"
    FAST = "fast"
    SINGLE = "single"


@dataclass(frozen=True)
class Flavor:
    name: str
    delete_max: int
    get_max: int


CLOUD = Flavor(name="cloud", delete_max=1000, get_max=100)
ONPREM = Flavor(name="onprem", delete_max=100, get_max=100)
FLAVORS = {f.name: f for f in (CLOUD, ONPREM)}


@dataclass(frozen=True)
class NamespaceInfo:
    name: str
    kind: str
    vector_dimension: int | None
    item_count: int | None


@dataclass(frozen=True)
class TextItem:
    """One item of a fetch-text-data page: its id, metadata, and whether it is a summary
    chunk the API made (not user data)."""

    id: str
    metadata: dict
    is_summary: bool = False


@dataclass(frozen=True)
class TextPage:
    """A page of documents/fetch-text-data; `next_token` is None on the last page."""

    items: list[TextItem]
    next_token: str | None


FETCH_TEXT_PAGE_MAX = 100
"""The most items fetch-text-data returns per page (its `limit`, namespace-api.md 2.3)."""


@dataclass(frozen=True)
class CallRecord:
    """One HTTP call as it happened; the caller stores each as a dispatch."""

    endpoint: str
    ids_sent: int
    http_status: int | None
    latency_ms: int
    requested: int | None = None
    actual: int | None = None
    unprocessed: int | None = None
    error: str = ""
    retry_after: float | None = None
    """The wait a 429 asked for (its Retry-After), when it gave one."""


@dataclass(frozen=True)
class IdResult:
    outcome: Outcome
    call_index: int
    """Index in BatchResult.calls of the call whose answer decided this outcome."""
    http_status: int | None = None
    error: str = ""
    retryable: bool = False
    maybe_applied: bool = False
    """For a failure: a try of this batch may have deleted it without our knowing (no
    answer, a 5xx, a resend after 429). A later "absent" must not become `not_found`."""


@dataclass
class BatchResult:
    """Every call made for a batch, and a result per ID.

    An ID missing from `results` was not attempted (the batch stopped early, see
    `stop_reason`): it is neither failed nor done, and costs no attempt.
    """

    calls: list[CallRecord] = field(default_factory=list)
    results: dict[str, IdResult] = field(default_factory=dict)
    stop_reason: str = ""
    # Delete answers that settled only some IDs (0 < deleted < sent): their IDs are
    # `deleted_or_not_found`. The caller may switch to the pre-check (`exact`) after them.
    mixed_answers: int = 0
    # The HTTP status that stopped the batch (401 or 403), when one did.
    stop_status: int | None = None
