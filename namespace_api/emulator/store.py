"""State and protocol logic of the namespace API emulator, without sockets.

Section numbers refer to /work/shared/docs/namespace-api.md ("the contract"). What is emulated:

* Cloud flavour (§2, §4), under ``/v1`` in server.py:
  auth by ``x-api-key`` (§1, §4.2); namespaces scoped to the key that created them (§4.3);
  list / create / delete namespace (§2.4-2.6, §4.13-4.15); text and vector upload (§2.7);
  documents/get with 200 or 207 (§2.2, §4.12); documents/delete and vectors/delete
  (§2.1, §4.4-4.9).
* On-prem flavour (§3, §4.18): items/delete (``not_found_ids``, always 200), items/get
  (200 only, missing ids omitted), health, namespace create/list, uploads with the 100,000
  item cap.
* Fault injection on the cloud delete endpoints (§4.8, §4.10, §4.11): a 207 with
  ``unprocessed_ids`` whose items stay stored, a 429 quota body with a configurable
  ``Retry-After``, a 500, and "commit then fail" (delete applied, then 500). Faults come from
  a deterministic queue ("the next N calls answer X") first, then from per-namespace
  probabilities drawn from a ``random.Random`` seeded at construction, so a run is
  reproducible for a given seed and call sequence.
* Introspection (§4.19): a dump of every namespace and its ids, a bounded call log, bulk seeding.

Every endpoint method returns ``(status, body, extra_headers)``. Choices the contract marks
as [GUESS] or [CONFLICT] are labelled "GUESS" where they are made.

Deliberate simplifications:

* Namespace names are unique across keys (the introspection dump is keyed by name). Another
  key's namespace still answers 404 as the contract requires; only creating a name another
  key already holds answers 409.
* Uploads are visible at once. The real text upload is asynchronous (§2.2); an
  "ingestion delay" is not emulated yet.
* Text upload does not enforce the documented 10-character minimum (M-upt), so that tests
  can seed short texts; the 50,000-character maximum is enforced.
"""

from __future__ import annotations

import functools
import itertools
import json
import random
import re
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Concatenate, Final, Literal

type JSONDict = dict[str, Any]
type Response = tuple[int, JSONDict, dict[str, str]]
type Kind = Literal["text", "vector"]

FAULTS: Final = ("partial", "rate_limit", "server_error", "delete_then_error")
WRONG_KIND_MODES: Final = ("404", "400", "agnostic")
CLOUD_DELETE_MAX_IDS: Final = 1000
CLOUD_GET_MAX_IDS: Final = 100
UPLOAD_MAX_DOCUMENTS: Final = 100
UPLOAD_MAX_VECTORS: Final = 1000
UPLOAD_MAX_TEXT_CHARS: Final = 50_000
ONPREM_MAX_IDS: Final = 100
ONPREM_DEFAULT_MAX_ITEMS: Final = 100_000
CALL_LOG_SIZE: Final = 100_000

# ASCII only: the contract says "alphanumeric characters, hyphens, and underscores" (M-create)
# and a Unicode letter would not survive the real service's URL routing unchanged.
_NAMESPACE_NAME: Final = re.compile(r"[A-Za-z0-9_-]+", re.ASCII)

_EMPTY_IDS: Final = "Bad Request: ids array is required and cannot be empty"
_BAD_ID: Final = "Bad Request: each id must be a non-empty string or a number"


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    """Format like the contract's examples: ``2024-01-15T10:30:00.000Z``."""
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _failure(status: int, message: str) -> Response:
    """The ``{"status": "failure", "message": ...}`` error style of the data pages (§1)."""
    return status, {"status": "failure", "message": message}, {}


def _id_string(value: Any) -> str | None:
    """Convert a request id to its stored form, or None when it is not an acceptable id.

    "Numbers will be converted to strings" (D-del). The backend is Node (GUESS, §2.2), where
    ``String(1.0)`` is ``"1"``: an integral float must not become ``"1.0"``.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        return value or None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return None


def _reject_constant(name: str) -> Any:
    # Python's json accepts NaN and Infinity; JSON.parse, which the real service uses, does not.
    raise ValueError(f"Unexpected token {name} in JSON")


def parse_json_body(raw: bytes) -> tuple[Any, Response | None]:
    """Decode a request body; on failure return the 400 the contract shows for bad JSON (§4.5)."""
    try:
        return json.loads(raw, parse_constant=_reject_constant), None
    except (ValueError, UnicodeDecodeError) as exc:
        return None, _failure(400, f"Bad Request: {exc}")


def count_request_ids(body: Any) -> int:
    """How many ids (or uploaded records) a request body carries, for the call log."""
    if isinstance(body, dict):
        for key in ("ids", "documents", "vectors"):
            value = body.get(key)
            if isinstance(value, list):
                return len(value)
    return 0


class _Rejection(Exception):
    """Raised inside an endpoint to answer with ``response`` immediately."""

    def __init__(self, response: Response) -> None:
        super().__init__(response[0])
        self.response = response


def _endpoint[**P](
    method: Callable[Concatenate[EmulatorStore, P], Response],
) -> Callable[Concatenate[EmulatorStore, P], Response]:
    """Run an endpoint under the store lock and turn a ``_Rejection`` into its response."""

    @functools.wraps(method)
    def wrapper(store: EmulatorStore, /, *args: P.args, **kwargs: P.kwargs) -> Response:
        with store.lock:
            try:
                return method(store, *args, **kwargs)
            except _Rejection as rejection:
                return rejection.response

    return wrapper


@dataclass(slots=True)
class Item:
    """One stored document or vector. ``metadata`` None means ``{}`` (saves memory in bulk)."""

    id: str
    text: str | None = None
    vector: list[float] | None = None
    metadata: JSONDict | None = None


@dataclass(slots=True)
class Namespace:
    """A namespace and its items, keyed by the item id's string form."""

    name: str
    kind: Kind
    vector_dimension: int | None
    owner_key: str | None
    created_at: str
    items: dict[str, Item] = field(default_factory=dict)


@dataclass(slots=True)
class QueuedFault:
    """A queued fault: the next ``remaining`` delete calls to ``namespace`` (or ``*``) get it."""

    namespace: str
    fault: str
    remaining: int
    retry_after: str | None


def _validate_fault(fault: str) -> None:
    if fault not in FAULTS:
        raise ValueError(f"unknown fault {fault!r}; expected one of {', '.join(FAULTS)}")


class EmulatorStore:
    """In-memory namespaces, items, faults and call log, plus one method per endpoint.

    Thread-safe: the server calls it from its event-loop thread while tests call it from
    theirs, so every public method holds ``lock``.

    Switches, settable at any time (also through ``POST /_emulator/config``):

    * ``wrong_kind_mode``: what documents/get, documents/delete and vectors/delete do on a
      namespace of the other kind (§2.1 ambiguity 7, §4.9): ``"404"`` (default, the upload
      page's "No text namespace found..." body), ``"400"``, or ``"agnostic"`` (act anyway).
    * ``onprem_max_items`` (Python only): the on-prem global item cap enforced on upload
      (§3.3).
    """

    def __init__(
        self,
        *,
        flavor: Literal["cloud", "onprem"] = "cloud",
        api_keys: Iterable[str] = ("emulator-key",),
        seed: int = 0,
    ) -> None:
        if flavor not in ("cloud", "onprem"):
            raise ValueError(f"unknown flavor {flavor!r}; expected 'cloud' or 'onprem'")
        self.flavor = flavor
        self.api_keys: tuple[str, ...] = tuple(api_keys)
        self.seed_value = seed
        self.lock = threading.RLock()
        self.onprem_max_items = ONPREM_DEFAULT_MAX_ITEMS
        self._wrong_kind_mode = "404"
        self._namespaces: dict[str, Namespace] = {}
        self._calls: deque[tuple[str, str, int, int]] = deque(maxlen=CALL_LOG_SIZE)
        self._fault_queue: list[QueuedFault] = []
        self._fault_probabilities: dict[str, dict[str, float]] = {}
        # Fault draws must be reproducible from the seed, not unpredictable.
        self._rng = random.Random(seed)  # noqa: S311
        self._upload_counter = itertools.count(1)

    # -- switches -------------------------------------------------------------------------

    @property
    def wrong_kind_mode(self) -> str:
        return self._wrong_kind_mode

    @wrong_kind_mode.setter
    def wrong_kind_mode(self, mode: str) -> None:
        if mode not in WRONG_KIND_MODES:
            raise ValueError(
                f"unknown wrong_kind_mode {mode!r}; expected one of {WRONG_KIND_MODES}"
            )
        self._wrong_kind_mode = mode

    # -- auth (§1, §4.2) ------------------------------------------------------------------

    def authenticate(self, api_key: str | None) -> Response | None:
        """Return the 401 for a missing or unknown key, or None when the key is valid.

        Bodies are the list page's gateway style, with ``message`` only (M-list, §4.2).
        """
        if not api_key:
            return 401, {"message": "Unauthorized: Missing API key"}, {}
        if api_key not in self.api_keys:
            return (
                401,
                {"message": "Unauthorized: API key verification failed - Invalid API key ID"},
                {},
            )
        return None

    # -- cloud namespaces (§2.4-2.6) ------------------------------------------------------

    @_endpoint
    def list_namespaces(self, *, api_key: str) -> Response:
        """GET /v1/namespaces: the key's namespaces, in creation order (§2.4)."""
        listed = [
            {
                "namespace_name": ns.name,
                "type": ns.kind,
                "vector_dimension": ns.vector_dimension,
                "itemCount": len(ns.items),
                "createdAt": ns.created_at,
            }
            for ns in self._namespaces.values()
            if ns.owner_key == api_key
        ]
        return 200, {"namespaces": listed}, {}

    @_endpoint
    def create_namespace(self, *, api_key: str, body: Any) -> Response:
        """POST /v1/namespaces: 201, 400 on a bad name/type/dimension, 409 on a duplicate (§2.5)."""
        name, kind, dimension = self._namespace_spec(body, name_keys=("namespace_name",))
        self._add_namespace(name, kind, dimension, owner_key=api_key)
        return (
            201,
            {
                "status": "success",
                "message": f"Namespace '{name}' created successfully. ✅",
                "namespace_name": name,
            },
            {},
        )

    @_endpoint
    def delete_namespace(self, *, api_key: str, namespace: str) -> Response:
        """DELETE /v1/namespaces/{ns}: 202 "pending" (§2.6).

        The real deletion is asynchronous; removing at once is an allowed end state of it.
        """
        ns = self._namespaces.get(namespace)
        if ns is None or ns.owner_key != api_key:
            raise _Rejection(
                _failure(404, f"Namespace '{namespace}' not found or does not belong to this user.")
            )
        del self._namespaces[namespace]
        message = f"Request accepted. Namespace '{namespace}' has been queued for deletion."
        return 202, {"status": "pending", "message": message}, {}

    # -- cloud uploads (§2.7) -------------------------------------------------------------

    @_endpoint
    def upload_documents(self, *, api_key: str, namespace: str, body: Any) -> Response:
        """POST /v1/namespaces/{ns}/documents: 202, items visible immediately (§2.7, M-upt)."""
        records = self._upload_records(
            body, key="documents", noun="document", limit=UPLOAD_MAX_DOCUMENTS
        )
        items = [self._document_item(record) for record in records]
        ns = self._upload_target(api_key, namespace, kind="text")
        self._store_items(ns, items)
        now = _now()
        return (
            202,
            {
                "status": "success",
                "message": f"{len(items)} documents uploaded successfully to namespace "
                f"'{namespace}'",
                "upload_id": f"upload_{next(self._upload_counter)}",
                "namespace_name": namespace,
                "documents_processed": len(items),
                "processing_status": "in_progress",
                "estimated_completion": _iso(now + timedelta(seconds=5)),
                "uploaded_documents": [
                    {"id": item.id, "status": "processing", "character_count": len(item.text or "")}
                    for item in items
                ],
            },
            {},
        )

    @_endpoint
    def upload_vectors(self, *, api_key: str, namespace: str, body: Any) -> Response:
        """POST /v1/namespaces/{ns}/vectors: 201; the dimension must match (§2.7, M-upv)."""
        records = self._upload_records(body, key="vectors", noun="vector", limit=UPLOAD_MAX_VECTORS)
        items = [self._vector_item(record) for record in records]
        ns = self._upload_target(api_key, namespace, kind="vector")
        self._check_dimensions(ns, items)
        self._store_items(ns, items)
        created_at = _iso(_now())
        return (
            201,
            {
                "status": "success",
                "message": f"{len(items)} vectors uploaded successfully to namespace '{namespace}'",
                "upload_id": f"upload_vec_{next(self._upload_counter)}",
                "namespace_name": namespace,
                "vectors_processed": len(items),
                "processing_status": "completed",
                "uploaded_vectors": [
                    {
                        "id": item.id,
                        "status": "completed",
                        "dimension": ns.vector_dimension,
                        "created_at": created_at,
                    }
                    for item in items
                ],
            },
            {},
        )

    # -- cloud get and delete (§2.1, §2.2) ------------------------------------------------

    @_endpoint
    def get_documents(self, *, api_key: str, namespace: str, body: Any) -> Response:
        """POST /v1/namespaces/{ns}/documents/get: 200 all found, 207 some missing (§2.2, §4.12).

        ``requested_ids`` and ``found_items`` are counts. Duplicates count once (GUESS).
        """
        ids = _unique(
            self._parse_ids(
                body,
                limit=CLOUD_GET_MAX_IDS,
                too_many=f"Bad Request: Maximum of {CLOUD_GET_MAX_IDS} IDs can be retrieved "
                "in a single request",
            )
        )
        ns = self._owned(api_key, namespace, not_found=f"Namespace '{namespace}' not found.")
        self._check_kind(ns, "text")
        items = [ns.items[item_id] for item_id in ids if item_id in ns.items]
        rendered = [{"id": i.id, "metadata": i.metadata or {}, "text": i.text} for i in items]
        if len(items) == len(ids):
            return (
                200,
                {
                    "status": "success",
                    "message": f"Successfully retrieved {len(items)} items from namespace "
                    f"'{namespace}'.",
                    "requested_ids": len(ids),
                    "found_items": len(items),
                    "items": rendered,
                },
                {},
            )
        not_found = [item_id for item_id in ids if item_id not in ns.items]
        return (
            207,
            {
                "status": "partial",
                "message": f"Retrieval partially completed. Requested: {len(ids)}, "
                f"Found: {len(items)}, Not found: {len(not_found)}.",
                "requested_ids": len(ids),
                "found_items": len(items),
                "not_found_ids": not_found,
                "items": rendered,
            },
            {},
        )

    @_endpoint
    def delete_items(self, *, api_key: str, namespace: str, body: Any, kind: Kind) -> Response:
        """POST /v1/namespaces/{ns}/documents/delete (kind "text") or /vectors/delete ("vector").

        Order: body validation, namespace lookup, kind check, then a fault if one is due
        (so a malformed request never consumes a queued fault). Without a fault: 200, where
        ids that were not stored only lower ``actual_deletions`` and are never listed (§2.1,
        §4.7). Duplicates after string conversion count once (GUESS, §4.6).
        """
        ids = _unique(
            self._parse_ids(
                body,
                limit=CLOUD_DELETE_MAX_IDS,
                # GUESS: the limit is documented (D-del), its message is not (§4.5).
                too_many=f"Bad Request: Maximum of {CLOUD_DELETE_MAX_IDS} IDs can be deleted "
                "in a single request",
            )
        )
        ns = self._owned(api_key, namespace, not_found=f"Namespace '{namespace}' not found")
        self._check_kind(ns, kind)
        fault, retry_after = self._next_fault(namespace)
        if fault is None:
            return self._delete_success(ns, ids)
        if fault == "rate_limit":
            return self._rate_limited(retry_after)
        if fault == "server_error":
            return _failure(500, "Internal Server Error deleting items.")
        if fault == "delete_then_error":
            self._delete_success(ns, ids)
            return _failure(500, "Internal Server Error deleting items.")
        return self._delete_partial(ns, ids)

    # -- on-prem (§3) ---------------------------------------------------------------------

    @_endpoint
    def onprem_health(self) -> Response:
        """GET /health (§3.3, CE-health)."""
        total = sum(len(ns.items) for ns in self._namespaces.values())
        return (
            200,
            {
                "status": "ok",
                "model": "emulator",
                "items": total,
                "max_items": self.onprem_max_items,
                "remaining": max(0, self.onprem_max_items - total),
                "embedding_provider": "emulator",
            },
            {},
        )

    @_endpoint
    def onprem_list_namespaces(self) -> Response:
        """GET /namespaces. The CE shape is undocumented (§3.3); the cloud shape is reused."""
        listed = [
            {
                "namespace_name": ns.name,
                "type": ns.kind,
                "vector_dimension": ns.vector_dimension,
                "itemCount": len(ns.items),
                "createdAt": ns.created_at,
            }
            for ns in self._namespaces.values()
        ]
        return 200, {"namespaces": listed}, {}

    @_endpoint
    def onprem_create_namespace(self, *, body: Any) -> Response:
        """POST /namespaces: 201; ``name`` is an alias of ``namespace_name`` (§3.3, CE-create)."""
        name, kind, dimension = self._namespace_spec(body, name_keys=("namespace_name", "name"))
        if kind == "text" and isinstance(body, dict) and body.get("vector_dimension") is not None:
            raise _Rejection(
                _failure(400, "Bad Request: vector_dimension must not be set for a text namespace.")
            )
        self._add_namespace(name, kind, dimension, owner_key=None)
        return (
            201,
            {
                "status": "success",
                "message": f"Namespace '{name}' created successfully.",
                "namespace_name": name,
                "type": kind,
                "vector_dimension": dimension,
            },
            {},
        )

    @_endpoint
    def onprem_upload(self, *, namespace: str, body: Any, kind: Kind) -> Response:
        """POST /namespaces/{ns}/documents or /vectors: 202 with a job id (§3.3, CE-upd).

        400 on the wrong namespace kind; 409 with ``items``/``max_items``/``requested_new``
        when the global cap would be exceeded (CE-README).
        """
        if kind == "text":
            records = self._upload_records(
                body, key="documents", noun="document", limit=UPLOAD_MAX_DOCUMENTS
            )
            items = [self._document_item(record) for record in records]
        else:
            records = self._upload_records(
                body, key="vectors", noun="vector", limit=UPLOAD_MAX_VECTORS
            )
            items = [self._vector_item(record) for record in records]
        ns = self._onprem_namespace(namespace)
        if ns.kind != kind:
            raise _Rejection(
                _failure(400, f"Wrong namespace type: '{namespace}' is a {ns.kind} namespace.")
            )
        if kind == "vector":
            self._check_dimensions(ns, items)
        total = sum(len(other.items) for other in self._namespaces.values())
        new = len({item.id for item in items} - ns.items.keys())
        if total + new > self.onprem_max_items:
            return (
                409,
                {
                    "status": "failure",
                    "message": "Item limit exceeded.",
                    "items": total,
                    "max_items": self.onprem_max_items,
                    "requested_new": new,
                },
                {},
            )
        self._store_items(ns, items)
        return (
            202,
            {
                "status": "accepted",
                "message": f"Upload of {len(items)} items to namespace '{namespace}' accepted.",
                "job_id": f"job_{next(self._upload_counter)}",
                "namespace_name": namespace,
                "total": len(items),
            },
            {},
        )

    @_endpoint
    def onprem_delete_items(self, *, namespace: str, body: Any) -> Response:
        """POST /namespaces/{ns}/items/delete: always 200 with ``not_found_ids`` (§3.1).

        Works on text and vector namespaces alike. Faults are not applied: the CE docs list
        neither 207 nor 429 (§4.18).
        """
        ids = _unique(
            self._parse_ids(
                body,
                limit=ONPREM_MAX_IDS,
                too_many=f"Bad Request: Maximum of {ONPREM_MAX_IDS} ids per request.",
            )
        )
        ns = self._onprem_namespace(namespace)
        not_found = [item_id for item_id in ids if ns.items.pop(item_id, None) is None]
        return (
            200,
            {
                "status": "success",
                "message": "Delete by ids completed.",
                "namespace_name": namespace,
                "requested": len(ids),
                "deleted": len(ids) - len(not_found),
                "not_found_ids": not_found,
            },
            {},
        )

    @_endpoint
    def onprem_get_items(self, *, namespace: str, body: Any) -> Response:
        """POST /namespaces/{ns}/items/get: 200 only, missing ids silently omitted (§3.2)."""
        ids = _unique(
            self._parse_ids(
                body,
                limit=ONPREM_MAX_IDS,
                too_many=f"Bad Request: Maximum of {ONPREM_MAX_IDS} ids per request.",
            )
        )
        ns = self._onprem_namespace(namespace)
        rendered: list[JSONDict] = []
        for item_id in ids:
            item = ns.items.get(item_id)
            if item is None:
                continue
            entry: JSONDict = {"id": item.id, "metadata": item.metadata or {}}
            # Vector items come back without text or vector (CE-get).
            if ns.kind == "text":
                entry["text"] = item.text
            rendered.append(entry)
        return (
            200,
            {
                "status": "success",
                "message": f"Retrieved {len(rendered)} items from namespace '{namespace}'.",
                "requested_ids": len(ids),
                "found_items": len(rendered),
                "items": rendered,
            },
            {},
        )

    # -- control and introspection (§4.19) ------------------------------------------------

    def record_call(self, *, method: str, path: str, status: int, ids_count: int) -> None:
        """Append one API call to the bounded log (the last ``CALL_LOG_SIZE`` are kept)."""
        with self.lock:
            self._calls.append((method, path, status, ids_count))

    def calls(self) -> list[JSONDict]:
        """The call log, oldest first."""
        with self.lock:
            return [
                {"method": method, "path": path, "status": status, "ids_count": ids_count}
                for method, path, status, ids_count in self._calls
            ]

    def clear_calls(self) -> None:
        with self.lock:
            self._calls.clear()

    def state(self) -> JSONDict:
        """Every namespace with its owner and sorted ids (GET /_emulator/state)."""
        with self.lock:
            return {
                "namespaces": {
                    ns.name: {
                        "type": ns.kind,
                        "owner_key": ns.owner_key,
                        "vector_dimension": ns.vector_dimension,
                        "ids": sorted(ns.items),
                    }
                    for ns in self._namespaces.values()
                }
            }

    def ids(self, namespace: str) -> list[str]:
        """Sorted ids stored in ``namespace``; KeyError if it does not exist."""
        with self.lock:
            return sorted(self._namespaces[namespace].items)

    def item(self, namespace: str, item_id: str) -> Item | None:
        """The stored item, or None; KeyError if the namespace does not exist."""
        with self.lock:
            return self._namespaces[namespace].items.get(item_id)

    def has_namespace(self, namespace: str) -> bool:
        with self.lock:
            return namespace in self._namespaces

    def seed(
        self, *, namespaces: Iterable[Mapping[str, Any]], api_key: str | None = None
    ) -> dict[str, int]:
        """Create namespaces if missing and store items directly, bypassing per-call limits.

        Each namespace is ``{"name", "type", "vector_dimension"?, "items": [{"id", "text"?,
        "vector"?, "metadata"?}]}``. ``api_key`` is the owner; it defaults to the first
        configured key in the cloud flavour and to no owner on-prem. Items with an existing
        id replace it. Raises ValueError on a malformed spec or a kind clash with an existing
        namespace. Returns the item count of each seeded namespace.
        """
        owner = api_key if api_key is not None else self._default_owner()
        counts: dict[str, int] = {}
        with self.lock:
            for spec in namespaces:
                ns = self._seed_namespace(spec, owner)
                items = ns.items
                for raw in spec.get("items") or ():
                    if not isinstance(raw, Mapping):
                        raise ValueError(f"seed item in {ns.name!r} is not an object: {raw!r}")
                    item_id = _id_string(raw.get("id"))
                    if item_id is None:
                        raise ValueError(f"seed item without a valid id in {ns.name!r}: {raw!r}")
                    items[item_id] = Item(
                        id=item_id,
                        text=raw.get("text"),
                        vector=raw.get("vector"),
                        metadata=raw.get("metadata") or None,
                    )
                counts[ns.name] = len(items)
        return counts

    def set_fault_probabilities(self, namespace: str, probabilities: Mapping[str, float]) -> None:
        """Make each delete call to ``namespace`` (or ``*``) draw a fault with these odds.

        One draw per call from the seeded generator; the odds must sum to at most 1. An
        empty mapping removes the entry. A namespace's own entry beats ``*``.
        """
        clean: dict[str, float] = {}
        for fault, probability in probabilities.items():
            _validate_fault(fault)
            value = float(probability)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"probability of {fault!r} must be within [0, 1], got {value}")
            clean[fault] = value
        if sum(clean.values()) > 1.0 + 1e-9:
            raise ValueError("fault probabilities must sum to at most 1")
        with self.lock:
            if clean:
                self._fault_probabilities[namespace] = clean
            else:
                self._fault_probabilities.pop(namespace, None)

    def add_fault_next(
        self,
        namespace: str,
        fault: str,
        count: int = 1,
        *,
        retry_after: int | float | str | None = 1,
    ) -> None:
        """Make the next ``count`` delete calls to ``namespace`` (or ``*``) answer ``fault``.

        Queued faults beat probabilities; entries for the namespace itself beat ``*``, and
        entries of the same target are used first-in first-out. ``retry_after`` is the
        ``Retry-After`` value of a ``rate_limit`` (seconds or an HTTP-date); None omits the
        header (the API docs never mention it, §1).
        """
        _validate_fault(fault)
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValueError(f"count must be a positive integer, got {count!r}")
        header = None if retry_after is None else str(retry_after)
        with self.lock:
            self._fault_queue.append(QueuedFault(namespace, fault, count, header))

    def clear_faults(self) -> None:
        """Drop queued faults and probabilities."""
        with self.lock:
            self._fault_queue.clear()
            self._fault_probabilities.clear()

    def reset(self) -> None:
        """Drop namespaces, faults and the call log, and restart the generator from the seed."""
        with self.lock:
            self._namespaces.clear()
            self._calls.clear()
            self._fault_queue.clear()
            self._fault_probabilities.clear()
            self._rng = random.Random(self.seed_value)  # noqa: S311  (reproducible on purpose)
            self._upload_counter = itertools.count(1)

    # -- internals ------------------------------------------------------------------------

    def _default_owner(self) -> str | None:
        if self.flavor == "cloud" and self.api_keys:
            return self.api_keys[0]
        return None

    def _namespace_spec(
        self, body: Any, *, name_keys: tuple[str, ...]
    ) -> tuple[str, Kind, int | None]:
        if not isinstance(body, dict):
            raise _Rejection(_failure(400, "Bad Request: request body must be a JSON object."))
        name = next((body[key] for key in name_keys if body.get(key) is not None), None)
        if not isinstance(name, str) or not _NAMESPACE_NAME.fullmatch(name):
            raise _Rejection(
                _failure(
                    400,
                    "Bad Request: namespace_name must contain only alphanumeric characters, "
                    "hyphens, and underscores.",
                )
            )
        kind = body.get("type")
        if kind not in ("text", "vector"):
            raise _Rejection(_failure(400, "Bad Request: type must be either 'text' or 'vector'."))
        if kind == "text":
            # The SDK sends "vector_dimension": null for text (§2.5); any value is ignored.
            return name, "text", None
        dimension = body.get("vector_dimension")
        if isinstance(dimension, bool) or not isinstance(dimension, int) or dimension <= 0:
            raise _Rejection(
                _failure(
                    400,
                    "Bad Request: vector_dimension must be a positive integer for vector "
                    "namespaces.",
                )
            )
        return name, "vector", dimension

    def _add_namespace(
        self, name: str, kind: Kind, dimension: int | None, *, owner_key: str | None
    ) -> Namespace:
        if name in self._namespaces:
            raise _Rejection(_failure(409, f"Namespace '{name}' already exists."))
        ns = Namespace(name, kind, dimension, owner_key, _iso(_now()))
        self._namespaces[name] = ns
        return ns

    def _seed_namespace(self, spec: Mapping[str, Any], owner: str | None) -> Namespace:
        name = spec.get("name")
        kind = spec.get("type", "text")
        if not isinstance(name, str) or not name:
            raise ValueError(f"seed namespace without a name: {spec!r}")
        if kind not in ("text", "vector"):
            raise ValueError(f"seed namespace {name!r} has unknown type {kind!r}")
        existing = self._namespaces.get(name)
        if existing is not None:
            if existing.kind != kind:
                raise ValueError(f"namespace {name!r} exists with type {existing.kind!r}")
            return existing
        dimension = spec.get("vector_dimension") if kind == "vector" else None
        if kind == "vector" and (not isinstance(dimension, int) or dimension <= 0):
            raise ValueError(f"vector namespace {name!r} needs a positive vector_dimension")
        ns = Namespace(name, kind, dimension, owner, _iso(_now()))
        self._namespaces[name] = ns
        return ns

    def _owned(self, api_key: str, namespace: str, *, not_found: str) -> Namespace:
        ns = self._namespaces.get(namespace)
        # Another key's namespace is indistinguishable from a missing one (§4.3).
        if ns is None or ns.owner_key != api_key:
            raise _Rejection(_failure(404, not_found))
        return ns

    def _onprem_namespace(self, namespace: str) -> Namespace:
        ns = self._namespaces.get(namespace)
        if ns is None:
            raise _Rejection(_failure(404, f"Namespace '{namespace}' not found."))
        return ns

    def _check_kind(self, ns: Namespace, expected: Kind) -> None:
        if ns.kind == expected or self._wrong_kind_mode == "agnostic":
            return
        if self._wrong_kind_mode == "400":
            raise _Rejection(
                _failure(
                    400,
                    f"Bad Request: Namespace '{ns.name}' is a {ns.kind} namespace; "
                    f"this endpoint requires a {expected} namespace.",
                )
            )
        raise _Rejection(_kind_not_found(ns.name, expected))

    def _upload_target(self, api_key: str, namespace: str, *, kind: Kind) -> Namespace:
        ns = self._namespaces.get(namespace)
        if ns is None or ns.owner_key != api_key or ns.kind != kind:
            raise _Rejection(_kind_not_found(namespace, kind))
        return ns

    def _parse_ids(self, body: Any, *, limit: int, too_many: str) -> list[str]:
        """Validate ``{"ids": [...]}`` and return the ids as strings, duplicates kept."""
        raw = body.get("ids") if isinstance(body, dict) else None
        if not isinstance(raw, list) or not raw:
            raise _Rejection(_failure(400, _EMPTY_IDS))
        if len(raw) > limit:
            raise _Rejection(_failure(400, too_many))
        ids: list[str] = []
        for value in raw:
            item_id = _id_string(value)
            if item_id is None:
                raise _Rejection(_failure(400, _BAD_ID))
            ids.append(item_id)
        return ids

    def _upload_records(self, body: Any, *, key: str, noun: str, limit: int) -> list[JSONDict]:
        records = body.get(key) if isinstance(body, dict) else None
        if not isinstance(records, list) or not records:
            raise _Rejection(
                _upload_error(
                    f"{noun.capitalize()}s array is required and must contain at least one {noun}"
                )
            )
        if len(records) > limit:
            raise _Rejection(
                _upload_error(f"Maximum of {limit} {noun}s per request, got {len(records)}")
            )
        if not all(isinstance(record, dict) for record in records):
            raise _Rejection(_upload_error(f"Each {noun} must be a JSON object"))
        return records

    def _document_item(self, record: JSONDict) -> Item:
        item_id = self._upload_id(record, prefix="doc")
        text = record.get("text")
        if not isinstance(text, str) or not text:
            raise _Rejection(_upload_error(f"Document '{item_id}' needs a non-empty text"))
        if len(text) > UPLOAD_MAX_TEXT_CHARS:
            raise _Rejection(
                _upload_error(f"Document '{item_id}' exceeds {UPLOAD_MAX_TEXT_CHARS} characters")
            )
        metadata = record.get("metadata")
        if metadata is not None and not isinstance(metadata, dict):
            raise _Rejection(_upload_error(f"Document '{item_id}' metadata must be an object"))
        # Keys other than id/text/metadata become metadata (M-upt: "title" and the like).
        extra = {k: v for k, v in record.items() if k not in ("id", "text", "metadata")}
        merged = {**(metadata or {}), **extra}
        return Item(id=item_id, text=text, metadata=merged or None)

    def _vector_item(self, record: JSONDict) -> Item:
        item_id = self._upload_id(record, prefix="vec")
        vector = record.get("vector")
        if (
            not isinstance(vector, list)
            or not vector
            or not all(isinstance(x, int | float) and not isinstance(x, bool) for x in vector)
        ):
            raise _Rejection(
                _upload_error(f"Vector '{item_id}' must be a non-empty array of numbers")
            )
        metadata = record.get("metadata")
        if metadata is not None and not isinstance(metadata, dict):
            raise _Rejection(_upload_error(f"Vector '{item_id}' metadata must be an object"))
        text = record.get("text")
        return Item(
            id=item_id,
            text=text if isinstance(text, str) else None,
            vector=vector,
            metadata=metadata or None,
        )

    def _upload_id(self, record: JSONDict, *, prefix: str) -> str:
        if record.get("id") is None:
            # The id is optional on upload: "Auto-generated if not provided" (M-upt, M-upv).
            return f"{prefix}_auto_{next(self._upload_counter)}"
        item_id = _id_string(record["id"])
        if item_id is None:
            raise _Rejection(_upload_error("Each id must be a non-empty string or a number"))
        return item_id

    def _check_dimensions(self, ns: Namespace, items: list[Item]) -> None:
        wrong = [i for i, item in enumerate(items) if len(item.vector or ()) != ns.vector_dimension]
        if wrong:
            raise _Rejection(
                (
                    400,
                    {
                        "error": "Invalid request parameters",
                        "message": f"Vector dimension mismatch. All vectors must have dimension "
                        f"{ns.vector_dimension}.",
                        "details": {
                            "namespace_dimension": ns.vector_dimension,
                            "provided_dimensions": [len(item.vector or ()) for item in items],
                            "invalid_vectors": [f"vectors[{i}]" for i in wrong],
                        },
                    },
                    {},
                )
            )

    def _store_items(self, ns: Namespace, items: list[Item]) -> None:
        for item in items:
            ns.items[item.id] = item

    def _next_fault(self, namespace: str) -> tuple[str | None, str | None]:
        """``(fault, retry_after)`` for this delete call, ``(None, None)`` for none.

        Consumes one use of a queued entry. A drawn ``rate_limit`` carries ``Retry-After: 1``.
        """
        for target in (namespace, "*"):
            for index, queued in enumerate(self._fault_queue):
                if queued.namespace == target:
                    queued.remaining -= 1
                    if queued.remaining == 0:
                        del self._fault_queue[index]
                    return queued.fault, queued.retry_after
        odds = self._fault_probabilities.get(namespace) or self._fault_probabilities.get("*")
        if not odds:
            return None, None
        draw = self._rng.random()
        threshold = 0.0
        # FAULTS order, not insertion order, so the same odds give the same faults.
        for fault in FAULTS:
            threshold += odds.get(fault, 0.0)
            if draw < threshold:
                return fault, "1"
        return None, None

    def _delete_success(self, ns: Namespace, ids: list[str]) -> Response:
        items = ns.items
        deleted = sum(1 for item_id in ids if items.pop(item_id, None) is not None)
        return (
            200,
            {
                "status": "success",
                "message": f"Successfully processed deletion request. Requested: {len(ids)}, "
                f"Actually deleted: {deleted} items from namespace '{ns.name}'.",
                "requested_deletions": len(ids),
                "actual_deletions": deleted,
                "remaining_items": len(items),
                "requested_ids": ids,
            },
            {},
        )

    def _delete_partial(self, ns: Namespace, ids: list[str]) -> Response:
        """Answer 207: a random non-empty subset stays stored and is listed unprocessed (§4.8).

        The subset is drawn from the ids that are present; when none is, from the requested
        ids (an unprocessed delete of an absent id is still unprocessed). When two or more
        are candidates at least one of them is deleted, so the answer is truly partial.
        """
        present = [item_id for item_id in ids if item_id in ns.items]
        candidates = present or ids
        size = self._rng.randint(1, max(1, len(candidates) - 1))
        kept = set(self._rng.sample(candidates, size))
        unprocessed = [item_id for item_id in candidates if item_id in kept]
        deleted = sum(
            1 for item_id in ids if item_id not in kept and ns.items.pop(item_id, None) is not None
        )
        return (
            207,
            {
                "status": "partial",
                "message": f"Deletion partially completed. Requested: {len(ids)}, Actually "
                f"deleted: {deleted}, Failed/Unprocessed: {len(unprocessed)}.",
                "requested_deletions": len(ids),
                "actual_deletions": deleted,
                "remaining_items": len(ns.items),
                "unprocessed_ids": unprocessed,
            },
            {},
        )

    def _rate_limited(self, retry_after: str | None) -> Response:
        """The quota 429 of the delete page (M-del, §4.10); the header is the emulator's GUESS."""
        headers = {} if retry_after is None else {"Retry-After": retry_after}
        return (
            429,
            {
                "status": "failure",
                "message": "API request limit reached for Professional plan (1000000 requests). "
                "Current usage: 1000000. Please upgrade your subscription for higher limits.",
                "current_usage": 1000000,
                "limit": 1000000,
            },
            headers,
        )


def _unique(ids: list[str]) -> list[str]:
    """Drop repeats, keeping the first occurrence's position."""
    return list(dict.fromkeys(ids))


def _kind_not_found(namespace: str, kind: Kind) -> Response:
    """The upload pages' 404 (M-upt, M-upv), reused for a namespace of the wrong kind (§4.9)."""
    return (
        404,
        {
            "error": "Namespace not found",
            "message": f"No {kind} namespace found with the name '{namespace}' in your account.",
            "namespace_name": namespace,
            "suggestion": f"Create a {kind} namespace first or check the namespace name.",
        },
        {},
    )


def _upload_error(message: str) -> Response:
    """The upload pages' 400 style (M-upt, M-upv)."""
    return 400, {"error": "Invalid request parameters", "message": message}, {}
