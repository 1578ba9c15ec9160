"""State and protocol logic of the namespace API emulator, without sockets.

Section numbers refer to /work/shared/docs/namespace-api.md ("the contract"). What is emulated:

* Cloud flavour (§2, §4), under ``/v1`` in server.py:
  auth by ``x-api-key`` with missing, unknown and disabled keys (§1, §4.2); namespaces scoped
  to the key that created them (§4.3); list / create / delete namespace (§2.4-2.6,
  §4.13-4.15), camelCase create keys answered with deprecation headers (§1, §4.17); text and
  vector upload (§2.7); documents/get with 200 or 207 (§2.2, §4.12); fetch-text-data with
  cursor pagination (§2.3, §4.16); documents/delete and vectors/delete (§2.1, §4.4-4.9).
* On-prem flavour (§3, §4.18): items/delete (``not_found_ids``, always 200), items/get
  (200 only, missing ids omitted), fetch-text-data, health, namespace create/list, namespace
  delete and upload as jobs answered 202 with a ``job_id`` whose status can be polled, and
  the global item cap (default 100,000, 409 on upload).
* Fault injection (§4.8, §4.10, §4.11), see ``FAULTS``: a 207 with ``unprocessed_ids`` whose
  items stay stored, 429 (quota body or subscription-expired body) with a configurable
  ``Retry-After``, 403, 500, "commit then fail" (applied, then 500 or a dropped connection),
  a dropped connection, and a slow answer. A fault hits the delete endpoints unless its
  ``endpoint`` filter says ``"get"`` or ``"any"``. Faults come from a deterministic queue
  ("the next N calls answer X") first, then from per-namespace probabilities drawn from a
  ``random.Random`` seeded at construction, so a run is reproducible for a given seed and
  call sequence. A fault is drawn only once a request has passed validation, the namespace
  lookup and the kind check, so a malformed request never consumes one. On-prem accepts
  only the transport-level faults (``ONPREM_FAULTS``): its docs list no 207, 429 or 403.
* Response-shape switches (``SWITCHES``), so that a client can be tested against every
  documented form of an answer (§6 "Accept every documented shape").
* Pending ingestion (§4.12): with ``ingestion_delay_seconds`` > 0, text uploaded through the
  API stays invisible to documents/get, items/get and fetch-text-data for that long; it is
  counted, listed and deletable meanwhile.
* Introspection (§4.19): a dump of every namespace and its ids, a bounded call log, bulk
  seeding.
* Snapshots (a test aid, not in the contract): named deep copies of every namespace and its
  items that can be restored later, to play "the vendor restored a backup and erased items
  came back".

Every endpoint method returns ``(status, body, extra_headers)``; what the transport must do
besides answering (drop the connection, answer late) is left in ``last_effects``, which the
server reads under ``lock`` together with the call. Choices the contract marks as [GUESS] or
[CONFLICT], or leaves open, are labelled "GUESS" where they are made.

Deliberate simplifications:

* Namespace names are unique across keys (the introspection dump is keyed by name). Another
  key's namespace still answers 404 as the contract requires; only creating a name another
  key already holds answers 409.
* Namespace deletion (both flavours) and on-prem delete jobs complete at once; an
  asynchronous deletion is allowed to end that way (§2.6).
* Text upload does not enforce the documented 10-character minimum (M-upt), so that tests
  can seed short texts; the 50,000-character maximum is enforced.
* fetch-text-data returns the stored items as text chunks; the emulator makes no summary
  chunks of its own: an item seeded with ``"is_summary": true`` stands for one.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import enum
import functools
import hashlib
import itertools
import json
import math
import random
import re
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Mapping
from copy import deepcopy
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import formatdate
from typing import Any, Concatenate, Final, Literal, Self, overload

type JSONDict = dict[str, Any]
type Response = tuple[int, JSONDict, dict[str, str]]
type Kind = Literal["text", "vector"]
type Flavor = Literal["cloud", "onprem"]
type EndpointClass = Literal["delete", "get", "other"]
type RetryAfter = int | float | str | None

# The first four keep their places: a probability draw walks this order, so old seeds give
# the same faults as before.
FAULTS: Final = (
    "partial",
    "rate_limit",
    "server_error",
    "delete_then_error",
    "subscription_expired",
    "forbidden",
    "drop",
    "delete_then_drop",
    "slow",
)
# Real transport failures happen on-prem too; 207, 429 and 403 are not in its docs (§4.18).
ONPREM_FAULTS: Final = ("server_error", "delete_then_error", "drop", "delete_then_drop", "slow")
RATE_LIMIT_FAULTS: Final = ("rate_limit", "subscription_expired")
# "delete": documents/delete, vectors/delete, items/delete; "get": documents/get, items/get;
# "any": every API call, uploads, listing and fetch-text-data included.
FAULT_ENDPOINTS: Final = ("delete", "get", "any")
RETRY_AFTER_STYLES: Final = ("seconds", "http-date")
DEFAULT_SLOW_SECONDS: Final = 35.0

WRONG_KIND_MODES: Final = ("404", "400", "agnostic")
PARTIAL_SHAPES: Final = ("unprocessed_ids", "sdk")
GET_ITEMS_KEYS: Final = ("items", "documents")
GET_MISSING_MODES: Final = ("207", "200")
LIST_CASINGS: Final = ("camel", "snake")
DUPLICATE_MODES: Final = ("dedupe", "count_twice")
AUTH_ERROR_STYLES: Final = ("gateway", "failure")
SWITCHES: Final[Mapping[str, tuple[str, ...]]] = {
    "wrong_kind_mode": WRONG_KIND_MODES,
    "partial_shape": PARTIAL_SHAPES,
    "get_items_key": GET_ITEMS_KEYS,
    "get_missing": GET_MISSING_MODES,
    "list_casing": LIST_CASINGS,
    "duplicates": DUPLICATE_MODES,
    "auth_error_style": AUTH_ERROR_STYLES,
}
# Everything configure() accepts (and config() reports).
SETTINGS: Final = (
    *SWITCHES,
    "slow_seconds",
    "ingestion_delay_seconds",
    "onprem_max_items",
    "api_keys",
    "disabled_api_keys",
)

CLOUD_DELETE_MAX_IDS: Final = 1000
CLOUD_GET_MAX_IDS: Final = 100
FETCH_TEXT_DATA_MAX_LIMIT: Final = 100
UPLOAD_MAX_DOCUMENTS: Final = 100
UPLOAD_MAX_VECTORS: Final = 1000
UPLOAD_MAX_TEXT_CHARS: Final = 50_000
ONPREM_MAX_IDS: Final = 100
ONPREM_DEFAULT_MAX_ITEMS: Final = 100_000
CALL_LOG_SIZE: Final = 100_000
JOB_LOG_SIZE: Final = 10_000

# ASCII only: the contract says "alphanumeric characters, hyphens, and underscores" (M-create)
# and a Unicode letter would not survive the real service's URL routing unchanged.
_NAMESPACE_NAME: Final = re.compile(r"[A-Za-z0-9_-]+", re.ASCII)
# The SDK's own conversion (SDK utils/casing.py), so that what it sends maps back exactly.
_FIRST_CAP: Final = re.compile(r"(.)([A-Z][a-z]+)")
_ALL_CAP: Final = re.compile(r"([a-z0-9])([A-Z])")

_EMPTY_IDS: Final = "Bad Request: ids array is required and cannot be empty"
_BAD_ID: Final = "Bad Request: each id must be a non-empty string or a number"
_QUOTA_MESSAGE: Final = (
    "API request limit reached for Professional plan (1000000 requests). Current usage: "
    "1000000. Please upgrade your subscription for higher limits."
)
_EXPIRED_MESSAGE: Final = (
    "Your Community subscription expired on 8/15/2025. Please renew your subscription to "
    "continue using the service."
)
# D-intro (new) names the headers and the removal date, not their values: GUESS.
_DEPRECATION_HEADERS: Final = {
    "Deprecation": "true",
    "Sunset": "Fri, 01 May 2026 00:00:00 GMT",
    "Warning": '299 - "camelCase keys are deprecated and will be removed on 1 May 2026; '
    'use snake_case keys"',
}
# What a dropped call returns to a direct caller; the server sends nothing.
_NO_ANSWER: Final[Response] = (0, {}, {})


class _Default(enum.Enum):
    RETRY_AFTER = "default"


DEFAULT_RETRY_AFTER: Final = _Default.RETRY_AFTER
"""A fault's ``retry_after`` when none is given: ``Retry-After: 1`` on a 429, none otherwise."""


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    """Format like the contract's examples: ``2024-01-15T10:30:00.000Z``."""
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _iso_epoch(seconds: float) -> str:
    return _iso(datetime.fromtimestamp(seconds, UTC))


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


def _seconds_text(value: float) -> str:
    """``1`` for 1 and 1.0, ``2.5`` for 2.5: how a delta-seconds header value reads."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _non_negative_seconds(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number of seconds, got {value!r}")
    seconds = float(value)
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return seconds


def _to_snake(key: str) -> str:
    return _ALL_CAP.sub(r"\1_\2", _FIRST_CAP.sub(r"\1_\2", key)).lower()


def _snake_case_keys(body: Any) -> tuple[Any, bool]:
    """Top-level camelCase keys turned snake_case (a snake_case key wins); True if any was."""
    if not isinstance(body, dict):
        return body, False
    converted = {key: value for key, value in body.items() if _to_snake(key) == key}
    camel = False
    for key, value in body.items():
        snake = _to_snake(key)
        if snake != key:
            camel = True
            converted.setdefault(snake, value)
    return converted, camel


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


def parse_fault_spec(spec: str) -> tuple[str, str, str, float]:
    """Split ``NAMESPACE:FAULT[@ENDPOINT]=PROBABILITY`` (the ``--fault`` CLI option).

    Returns ``(namespace, fault, endpoint, probability)``; NAMESPACE may be ``*``, ENDPOINT
    defaults to ``delete``. Raises ValueError on a malformed spec.
    """
    usage = f"fault spec {spec!r} is not NAMESPACE:FAULT[@ENDPOINT]=PROBABILITY"
    target, equals, probability_text = spec.rpartition("=")
    namespace, colon, fault_part = target.partition(":")
    fault, _, endpoint = fault_part.partition("@")
    if not (equals and colon and namespace and fault):
        raise ValueError(usage)
    try:
        probability = float(probability_text)
    except ValueError:
        raise ValueError(usage) from None
    return namespace, fault, endpoint or "delete", probability


class _Rejection(Exception):
    """Raised inside an endpoint to answer with ``response`` immediately."""

    def __init__(self, response: Response) -> None:
        super().__init__(response[0])
        self.response = response


def _endpoint[**P](
    method: Callable[Concatenate[EmulatorStore, P], Response],
) -> Callable[Concatenate[EmulatorStore, P], Response]:
    """Run an endpoint under the store lock with fresh ``last_effects``; turn a
    ``_Rejection`` into its response."""

    @functools.wraps(method)
    def wrapper(store: EmulatorStore, /, *args: P.args, **kwargs: P.kwargs) -> Response:
        with store.lock:
            store.last_effects = CallEffects()
            try:
                return method(store, *args, **kwargs)
            except _Rejection as rejection:
                return rejection.response

    return wrapper


class _Choice:
    """A store switch restricted to fixed values; the first one is the default."""

    def __init__(self, choices: tuple[str, ...]) -> None:
        self.choices = choices

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name
        self.attribute = f"_{name}"

    @overload
    def __get__(self, store: None, owner: type) -> Self: ...
    @overload
    def __get__(self, store: object, owner: type) -> str: ...
    def __get__(self, store: object | None, owner: type) -> str | Self:
        if store is None:
            return self
        value: str = getattr(store, self.attribute, self.choices[0])
        return value

    def __set__(self, store: object, value: str) -> None:
        if value not in self.choices:
            raise ValueError(
                f"unknown {self.name} {value!r}; expected one of {', '.join(self.choices)}"
            )
        setattr(store, self.attribute, value)


@dataclass(slots=True)
class Item:
    """One stored document or vector. ``metadata`` None means ``{}`` (saves memory in bulk).

    ``seq`` orders items for fetch-text-data pages (insertion order); ``created`` is the
    epoch time of the upload; ``visible_at`` is the ``time.monotonic()`` moment from which
    reads see the item (pending ingestion).
    """

    id: str
    text: str | None = None
    vector: list[float] | None = None
    metadata: JSONDict | None = None
    seq: int = 0
    created: float = 0.0
    visible_at: float = 0.0
    summary: bool = False
    """A summary chunk of the API's own making (seeded only: fetch-text-data marks it
    ``is_summary``)."""

    def copy(self) -> Item:
        """A deep copy: the vector and the metadata are not shared."""
        return Item(
            self.id,
            self.text,
            None if self.vector is None else list(self.vector),
            None if self.metadata is None else deepcopy(self.metadata),
            self.seq,
            self.created,
            self.visible_at,
            self.summary,
        )


def _item_seq(item: Item) -> int:
    return item.seq


@dataclass(slots=True)
class Namespace:
    """A namespace and its items, keyed by the item id's string form, in insertion order."""

    name: str
    kind: Kind
    vector_dimension: int | None
    owner_key: str | None
    created_at: str
    items: dict[str, Item] = field(default_factory=dict)
    # ``items`` values as a list, for bisecting on ``seq``. Deletions leave it valid (pages
    # skip items that are no longer stored); an insertion invalidates it.
    _ordered: list[Item] | None = None

    def put(self, items: Iterable[Item]) -> None:
        """Store items; an existing id is replaced and moves to the end (new ``seq``)."""
        stored = self.items
        for item in items:
            stored.pop(item.id, None)
            stored[item.id] = item
        self._ordered = None

    def ordered(self) -> list[Item]:
        if self._ordered is None:
            self._ordered = list(self.items.values())
        return self._ordered

    def copy(self) -> Namespace:
        """A deep copy, items included and in the same order."""
        return Namespace(
            self.name,
            self.kind,
            self.vector_dimension,
            self.owner_key,
            self.created_at,
            {item_id: item.copy() for item_id, item in self.items.items()},
        )


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Copies of every namespace as it was at ``taken_at`` (``POST /_emulator/snapshots``)."""

    name: str
    namespaces: tuple[Namespace, ...]
    taken_at: str

    def summary(self) -> JSONDict:
        """``{name, namespaces, items, taken_at}``, the counts being totals."""
        return {
            "name": self.name,
            "namespaces": len(self.namespaces),
            "items": sum(len(ns.items) for ns in self.namespaces),
            "taken_at": self.taken_at,
        }


@dataclass(slots=True)
class CallEffects:
    """What the transport must do for the last endpoint call besides sending its response.

    ``fault`` names the injected fault (None: none); ``drop``: close the connection without
    answering; ``delay``: seconds to wait before answering (the "slow" fault).
    """

    fault: str | None = None
    drop: bool = False
    delay: float = 0.0


@dataclass(slots=True)
class FaultOptions:
    """How an injected fault answers.

    ``retry_after``: seconds (``1``, ``2.5``), a verbatim header value (an HTTP-date), None
    for no header, or ``DEFAULT_RETRY_AFTER`` (``1`` on a 429, no header otherwise).
    ``retry_after_style`` ``"http-date"`` sends numeric seconds as the HTTP-date that many
    seconds after the answer. ``slow_seconds`` None means the store's ``slow_seconds``.
    """

    retry_after: RetryAfter | _Default = DEFAULT_RETRY_AFTER
    retry_after_style: str = "seconds"
    slow_seconds: float | None = None

    @classmethod
    def checked(
        cls,
        *,
        retry_after: Any = DEFAULT_RETRY_AFTER,
        retry_after_style: Any = "seconds",
        slow_seconds: Any = None,
    ) -> FaultOptions:
        if retry_after is not DEFAULT_RETRY_AFTER and not (
            retry_after is None or isinstance(retry_after, str)
        ):
            _non_negative_seconds("retry_after", retry_after)
        if retry_after_style not in RETRY_AFTER_STYLES:
            raise ValueError(
                f"unknown retry_after_style {retry_after_style!r}; expected one of "
                f"{', '.join(RETRY_AFTER_STYLES)}"
            )
        if slow_seconds is not None:
            slow_seconds = _non_negative_seconds("slow_seconds", slow_seconds)
        return cls(retry_after, retry_after_style, slow_seconds)

    def retry_after_header(self, fault: str) -> str | None:
        value = self.retry_after
        if value is DEFAULT_RETRY_AFTER:
            value = 1 if fault in RATE_LIMIT_FAULTS else None
        if value is None or isinstance(value, str):
            return value
        if self.retry_after_style == "http-date":
            return formatdate(time.time() + value, usegmt=True)
        return _seconds_text(value)


@dataclass(slots=True)
class QueuedFault:
    """A queued fault: the next ``remaining`` matching calls to ``namespace`` (or ``*``)."""

    namespace: str
    fault: str
    remaining: int
    endpoint: str = "delete"
    options: FaultOptions = field(default_factory=FaultOptions)


@dataclass(slots=True)
class FaultOdds:
    """Per-call fault probabilities for ``namespace`` (or ``*``) on ``endpoint`` calls."""

    namespace: str
    endpoint: str
    probabilities: dict[str, float]
    options: FaultOptions = field(default_factory=FaultOptions)


def _endpoint_matches(rule: str, call: EndpointClass) -> bool:
    return rule == "any" or rule == call


class EmulatorStore:
    """In-memory namespaces, items, faults and call log, plus one method per endpoint.

    Thread-safe: the server calls it from its event-loop thread while tests call it from
    theirs, so every public method holds ``lock`` (reentrant).

    Settings, given to the constructor and changeable at any time through ``configure()``
    (``POST /_emulator/config``) or as attributes; ``reset()`` restores the constructor's:

    * ``wrong_kind_mode``: what documents/get, documents/delete and vectors/delete do on a
      namespace of the other kind (§2.1 ambiguity 7, §4.9): ``"404"`` (default, the upload
      page's "No text namespace found..." body), ``"400"``, or ``"agnostic"`` (act anyway).
    * ``partial_shape``: the 207 of a delete: ``"unprocessed_ids"`` (default, the docs) or
      ``"sdk"`` (the SDK mocks' ``deleted_ids``/``errors``, plus ``actual_deletions``).
    * ``get_items_key``: ``"items"`` (default, docs) or ``"documents"`` (SDK TypedDict).
    * ``get_missing``: documents/get with missing ids answers ``"207"`` (default, M-get) or
      ``"200"`` with fewer items (the overview text) (§2.2).
    * ``list_casing``: ``"camel"`` (default, ``itemCount``/``createdAt``, D-list) or
      ``"snake"`` (``item_count``/``created_at`` plus ``execution_time``) (§2.4).
    * ``duplicates``: ``"dedupe"`` (default) or ``"count_twice"``: whether repeated ids
      count again in a delete's ``requested_deletions``/``requested_ids`` (§4.6).
    * ``auth_error_style``: 401 bodies ``{"message"}`` (``"gateway"``, default, M-list) or
      ``{"status": "failure", "message"}`` (``"failure"``, M-del) (§4.2).
    * ``slow_seconds`` (default 35, beyond the SDK's 30 s timeout): the delay of a "slow"
      fault without its own; ``ingestion_delay_seconds`` (default 0): pending ingestion.
    * ``onprem_max_items``: the on-prem global item cap (§3.3).
    * ``api_keys``, ``disabled_api_keys``: accepted keys, and keys answered 401 "disabled".
    """

    wrong_kind_mode = _Choice(WRONG_KIND_MODES)
    partial_shape = _Choice(PARTIAL_SHAPES)
    get_items_key = _Choice(GET_ITEMS_KEYS)
    get_missing = _Choice(GET_MISSING_MODES)
    list_casing = _Choice(LIST_CASINGS)
    duplicates = _Choice(DUPLICATE_MODES)
    auth_error_style = _Choice(AUTH_ERROR_STYLES)

    def __init__(
        self,
        *,
        flavor: Flavor = "cloud",
        api_keys: Iterable[str] = ("emulator-key",),
        seed: int = 0,
        disabled_api_keys: Iterable[str] = (),
        wrong_kind_mode: str = "404",
        partial_shape: str = "unprocessed_ids",
        get_items_key: str = "items",
        get_missing: str = "207",
        list_casing: str = "camel",
        duplicates: str = "dedupe",
        auth_error_style: str = "gateway",
        slow_seconds: float = DEFAULT_SLOW_SECONDS,
        ingestion_delay_seconds: float = 0.0,
        onprem_max_items: int = ONPREM_DEFAULT_MAX_ITEMS,
        faults: Iterable[str] = (),
    ) -> None:
        if flavor not in ("cloud", "onprem"):
            raise ValueError(f"unknown flavor {flavor!r}; expected 'cloud' or 'onprem'")
        self.flavor = flavor
        self.seed_value = seed
        self.lock = threading.RLock()
        self.last_effects = CallEffects()
        # Placeholders, so that reset()'s configure() can roll back to something.
        self._api_keys: tuple[str, ...] = ()
        self._disabled_api_keys: tuple[str, ...] = ()
        self._slow_seconds = DEFAULT_SLOW_SECONDS
        self._ingestion_delay_seconds = 0.0
        self._onprem_max_items = ONPREM_DEFAULT_MAX_ITEMS
        self._namespaces: dict[str, Namespace] = {}
        self._calls: deque[tuple[str, str, int | None, int, str | None]] = deque(
            maxlen=CALL_LOG_SIZE
        )
        self._fault_queue: list[QueuedFault] = []
        self._fault_probabilities: dict[tuple[str, str], FaultOdds] = {}
        self._jobs: OrderedDict[str, JSONDict] = OrderedDict()
        self._snapshots: dict[str, Snapshot] = {}
        # Kept for reset(); a lone string stays one, for the setter to refuse it.
        self._startup_settings: JSONDict = {
            "api_keys": api_keys if isinstance(api_keys, str) else tuple(api_keys),
            "disabled_api_keys": (
                disabled_api_keys
                if isinstance(disabled_api_keys, str)
                else tuple(disabled_api_keys)
            ),
            "wrong_kind_mode": wrong_kind_mode,
            "partial_shape": partial_shape,
            "get_items_key": get_items_key,
            "get_missing": get_missing,
            "list_casing": list_casing,
            "duplicates": duplicates,
            "auth_error_style": auth_error_style,
            "slow_seconds": slow_seconds,
            "ingestion_delay_seconds": ingestion_delay_seconds,
            "onprem_max_items": onprem_max_items,
        }
        self._startup_faults = tuple(faults)
        self.reset()

    # -- settings -------------------------------------------------------------------------

    @property
    def api_keys(self) -> tuple[str, ...]:
        return self._api_keys

    @api_keys.setter
    def api_keys(self, keys: Iterable[str]) -> None:
        self._api_keys = _key_tuple("api_keys", keys)

    @property
    def disabled_api_keys(self) -> tuple[str, ...]:
        return self._disabled_api_keys

    @disabled_api_keys.setter
    def disabled_api_keys(self, keys: Iterable[str]) -> None:
        self._disabled_api_keys = _key_tuple("disabled_api_keys", keys)

    @property
    def slow_seconds(self) -> float:
        return self._slow_seconds

    @slow_seconds.setter
    def slow_seconds(self, value: float) -> None:
        self._slow_seconds = _non_negative_seconds("slow_seconds", value)

    @property
    def ingestion_delay_seconds(self) -> float:
        return self._ingestion_delay_seconds

    @ingestion_delay_seconds.setter
    def ingestion_delay_seconds(self, value: float) -> None:
        self._ingestion_delay_seconds = _non_negative_seconds("ingestion_delay_seconds", value)

    @property
    def onprem_max_items(self) -> int:
        return self._onprem_max_items

    @onprem_max_items.setter
    def onprem_max_items(self, value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"onprem_max_items must be an integer >= 0, got {value!r}")
        self._onprem_max_items = value

    def configure(self, settings: Mapping[str, Any]) -> None:
        """Apply settings by name (see the class docstring); all or none on a ValueError."""
        unknown = sorted(set(settings) - set(SETTINGS))
        if unknown:
            raise ValueError(
                f"unknown setting(s) {', '.join(unknown)}; expected some of {', '.join(SETTINGS)}"
            )
        with self.lock:
            before = self.config()
            try:
                for name, value in settings.items():
                    setattr(self, name, value)
            except (ValueError, TypeError):
                for name, value in before.items():
                    setattr(self, name, value)
                raise

    def config(self) -> JSONDict:
        """The current value of every setting, JSON-ready."""
        with self.lock:
            current: JSONDict = {name: getattr(self, name) for name in SETTINGS}
        current["api_keys"] = list(self.api_keys)
        current["disabled_api_keys"] = list(self.disabled_api_keys)
        return current

    # -- auth (§1, §4.2) ------------------------------------------------------------------

    def authenticate(self, api_key: str | None) -> Response | None:
        """Return the 401 for a missing, disabled or unknown key, or None when it is valid.

        Messages are the list page's (M-list); the body style follows ``auth_error_style``.
        """
        if not api_key:
            message = "Unauthorized: Missing API key"
        elif api_key in self._disabled_api_keys:
            message = "Unauthorized: API key is disabled"
        elif api_key not in self._api_keys:
            message = "Unauthorized: API key verification failed - Invalid API key ID"
        else:
            return None
        if self.auth_error_style == "failure":
            return _failure(401, message)
        return 401, {"message": message}, {}

    # -- cloud namespaces (§2.4-2.6) ------------------------------------------------------

    @_endpoint
    def list_namespaces(self, *, api_key: str) -> Response:
        """GET /v1/namespaces: the key's namespaces, in creation order (§2.4)."""
        return self._faulted(
            "",
            "other",
            lambda: self._list_answer(
                ns for ns in self._namespaces.values() if ns.owner_key == api_key
            ),
            error="Internal Server Error fetching namespaces.",
        )

    @_endpoint
    def create_namespace(self, *, api_key: str, body: Any) -> Response:
        """POST /v1/namespaces: 201, 400 on a bad name/type/dimension, 409 on a duplicate (§2.5).

        camelCase keys (``namespaceName``, ``vectorDimension``) are accepted and every answer
        to such a request carries ``Deprecation``, ``Sunset`` and ``Warning`` (§1, §4.17).
        """
        body, camel = _snake_case_keys(body)
        try:
            status, payload, headers = self._create_namespace(api_key, body)
        except _Rejection as rejection:
            status, payload, headers = rejection.response
        if camel:
            headers = {**headers, **_DEPRECATION_HEADERS}
        return status, payload, headers

    @_endpoint
    def delete_namespace(self, *, api_key: str, namespace: str) -> Response:
        """DELETE /v1/namespaces/{ns}: 202 "pending" (§2.6).

        The real deletion is asynchronous; removing at once is an allowed end state of it.
        """
        self._owned(
            api_key,
            namespace,
            not_found=f"Namespace '{namespace}' not found or does not belong to this user.",
        )

        def act() -> Response:
            del self._namespaces[namespace]
            message = f"Request accepted. Namespace '{namespace}' has been queued for deletion."
            return 202, {"status": "pending", "message": message}, {}

        return self._faulted(
            namespace, "other", act, error="Internal Server Error deleting namespace."
        )

    # -- cloud uploads (§2.7) -------------------------------------------------------------

    @_endpoint
    def upload_documents(self, *, api_key: str, namespace: str, body: Any) -> Response:
        """POST /v1/namespaces/{ns}/documents: 202; visible after ``ingestion_delay_seconds``."""
        records = self._upload_records(
            body, key="documents", noun="document", limit=UPLOAD_MAX_DOCUMENTS
        )
        items = self._document_items(records)
        ns = self._upload_target(api_key, namespace, kind="text")

        def act() -> Response:
            ns.put(items)
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
                    "estimated_completion": _iso(
                        now + timedelta(seconds=max(5.0, self._ingestion_delay_seconds))
                    ),
                    "uploaded_documents": [
                        {
                            "id": item.id,
                            "status": "processing",
                            "character_count": len(item.text or ""),
                        }
                        for item in items
                    ],
                },
                {},
            )

        return self._faulted(
            namespace, "other", act, error="Internal Server Error uploading documents."
        )

    @_endpoint
    def upload_vectors(self, *, api_key: str, namespace: str, body: Any) -> Response:
        """POST /v1/namespaces/{ns}/vectors: 201; the dimension must match (§2.7, M-upv)."""
        records = self._upload_records(body, key="vectors", noun="vector", limit=UPLOAD_MAX_VECTORS)
        items = self._vector_items(records)
        ns = self._upload_target(api_key, namespace, kind="vector")
        self._check_dimensions(ns, items)

        def act() -> Response:
            ns.put(items)
            created_at = _iso(_now())
            return (
                201,
                {
                    "status": "success",
                    "message": f"{len(items)} vectors uploaded successfully to namespace "
                    f"'{namespace}'",
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

        return self._faulted(
            namespace, "other", act, error="Internal Server Error uploading vectors."
        )

    # -- cloud get, fetch and delete (§2.1-2.3) -------------------------------------------

    @_endpoint
    def get_documents(self, *, api_key: str, namespace: str, body: Any) -> Response:
        """POST /v1/namespaces/{ns}/documents/get: 200 all found, 207 some missing (§2.2, §4.12).

        ``requested_ids`` and ``found_items`` are counts. Duplicates count once (GUESS).
        Items still pending ingestion count as missing. A "partial" fault (GUESS: SDK-llms
        "temporarily unavailable") answers 207 with some found items withheld.
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
        return self._faulted(
            namespace,
            "get",
            lambda: self._get_answer(ns, ids),
            error="Internal Server Error fetching documents.",
            partial=lambda: self._get_partial(ns, ids),
        )

    @_endpoint
    def fetch_text_data(
        self, *, api_key: str, namespace: str, query: Mapping[str, str]
    ) -> Response:
        """GET /v1/namespaces/{ns}/documents/fetch-text-data?limit=&next_token= (§2.3, §4.16).

        The new page shape of D-ftd: ``statistics`` (this page only), ``items`` in upload
        order, ``pagination`` with an opaque ``next_token`` (null on the last page) bound to
        the key and the namespace. 400 on a ``limit`` outside 1..100 or a foreign or
        malformed token (GUESS: the status of both is undocumented); 404 on an unknown
        namespace; 400 on a vector namespace (GUESS: "returns an error", D-sdk-ftd).
        """
        return self._fetch_text_data(api_key, namespace, query, owner=api_key)

    @_endpoint
    def delete_items(self, *, api_key: str, namespace: str, body: Any, kind: Kind) -> Response:
        """POST /v1/namespaces/{ns}/documents/delete (kind "text") or /vectors/delete ("vector").

        Order: body validation, namespace lookup, kind check, then a fault if one is due.
        Without a fault: 200, where ids that were not stored only lower ``actual_deletions``
        and are never listed (§2.1, §4.7). Repeated ids (after string conversion) count once
        unless ``duplicates`` is ``"count_twice"`` (GUESS, §4.6).
        """
        requested = self._parse_ids(
            body,
            limit=CLOUD_DELETE_MAX_IDS,
            # GUESS: the limit is documented (D-del), its message is not (§4.5).
            too_many=f"Bad Request: Maximum of {CLOUD_DELETE_MAX_IDS} IDs can be deleted "
            "in a single request",
        )
        ids = _unique(requested)
        if self.duplicates == "dedupe":
            requested = ids
        ns = self._owned(api_key, namespace, not_found=f"Namespace '{namespace}' not found")
        self._check_kind(ns, kind)
        return self._faulted(
            namespace,
            "delete",
            lambda: self._delete_success(ns, ids, requested),
            error="Internal Server Error deleting items.",
            partial=lambda: self._delete_partial(ns, ids, requested),
        )

    # -- on-prem (§3) ---------------------------------------------------------------------

    @_endpoint
    def onprem_health(self) -> Response:
        """GET /health (§3.3, CE-health)."""

        def act() -> Response:
            total = self._total_items()
            return (
                200,
                {
                    "status": "ok",
                    "model": "emulator",
                    "items": total,
                    "max_items": self._onprem_max_items,
                    "remaining": max(0, self._onprem_max_items - total),
                    "embedding_provider": "emulator",
                },
                {},
            )

        return self._faulted("", "other", act, error="Internal Server Error.")

    @_endpoint
    def onprem_list_namespaces(self) -> Response:
        """GET /namespaces. The CE shape is undocumented (§3.3); the cloud shape is reused."""
        return self._faulted(
            "",
            "other",
            lambda: self._list_answer(self._namespaces.values()),
            error="Internal Server Error fetching namespaces.",
        )

    @_endpoint
    def onprem_create_namespace(self, *, body: Any) -> Response:
        """POST /namespaces: 201; ``name`` is an alias of ``namespace_name`` (§3.3, CE-create)."""
        name, kind, dimension = self._namespace_spec(body, name_keys=("namespace_name", "name"))
        if kind == "text" and isinstance(body, dict) and body.get("vector_dimension") is not None:
            raise _Rejection(
                _failure(400, "Bad Request: vector_dimension must not be set for a text namespace.")
            )
        if name in self._namespaces:
            raise _Rejection(_failure(409, f"Namespace '{name}' already exists."))

        def act() -> Response:
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

        return self._faulted(name, "other", act, error="Internal Server Error creating namespace.")

    @_endpoint
    def onprem_delete_namespace(self, *, namespace: str) -> Response:
        """DELETE /namespaces/{ns}: 202 with a ``job_id``, completed at once (§3.3, CE-djob).

        The 202 body is undocumented beyond ``job_id`` (GUESS: status, message, job_id,
        namespace_name).
        """
        ns = self._onprem_namespace(namespace)

        def act() -> Response:
            del self._namespaces[namespace]
            moment = _iso(_now())
            job_id = self._new_job(
                {
                    "job_type": "delete",
                    "namespace_name": namespace,
                    "status": "completed",
                    "total_items": len(ns.items),
                    "deleted_items": len(ns.items),
                    "last_error": None,
                    "started_at": moment,
                    "updated_at": moment,
                    "finished_at": moment,
                }
            )
            return (
                202,
                {
                    "status": "accepted",
                    "message": f"Deletion of namespace '{namespace}' started.",
                    "job_id": job_id,
                    "namespace_name": namespace,
                },
                {},
            )

        return self._faulted(
            namespace, "other", act, error="Internal Server Error deleting namespace."
        )

    @_endpoint
    def onprem_delete_job(self, *, namespace: str, job_id: str) -> Response:
        """GET /namespaces/{ns}/delete-jobs/{job_id} (CE-djob): the job's status document."""
        job = self._job(namespace, job_id, "delete")
        return self._faulted(
            namespace, "other", lambda: (200, job, {}), error="Internal Server Error."
        )

    @_endpoint
    def onprem_upload_job(self, *, namespace: str, job_id: str) -> Response:
        """GET /namespaces/{ns}/upload-jobs/{job_id} (§3.3): ``running`` while any uploaded text
        is pending ingestion, then ``completed``. The shape is GUESS (the delete job's)."""
        job = self._job(namespace, job_id, "upload")
        pending = job.pop("_visible_at") > time.monotonic()
        job.update(
            status="running" if pending else "completed",
            processed_items=0 if pending else job["total_items"],
            finished_at=None if pending else job["finished_at"],
        )
        return self._faulted(
            namespace, "other", lambda: (200, job, {}), error="Internal Server Error."
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
            items = self._document_items(records)
        else:
            records = self._upload_records(
                body, key="vectors", noun="vector", limit=UPLOAD_MAX_VECTORS
            )
            items = self._vector_items(records)
        ns = self._onprem_namespace(namespace)
        if ns.kind != kind:
            raise _Rejection(
                _failure(400, f"Wrong namespace type: '{namespace}' is a {ns.kind} namespace.")
            )
        if kind == "vector":
            self._check_dimensions(ns, items)
        total = self._total_items()
        new = len({item.id for item in items} - ns.items.keys())
        if total + new > self._onprem_max_items:
            return (
                409,
                {
                    "status": "failure",
                    "message": "Item limit exceeded.",
                    "items": total,
                    "max_items": self._onprem_max_items,
                    "requested_new": new,
                },
                {},
            )

        def act() -> Response:
            ns.put(items)
            moment = _iso(_now())
            job_id = self._new_job(
                {
                    "job_type": "upload",
                    "namespace_name": namespace,
                    "status": "completed",
                    "total_items": len(items),
                    "processed_items": len(items),
                    "last_error": None,
                    "started_at": moment,
                    "updated_at": moment,
                    "finished_at": moment,
                    "_visible_at": max((item.visible_at for item in items), default=0.0),
                }
            )
            return (
                202,
                {
                    "status": "accepted",
                    "message": f"Upload of {len(items)} items to namespace '{namespace}' accepted.",
                    "job_id": job_id,
                    "namespace_name": namespace,
                    "total": len(items),
                },
                {},
            )

        return self._faulted(
            namespace, "other", act, error="Internal Server Error uploading items."
        )

    @_endpoint
    def onprem_fetch_text_data(self, *, namespace: str, query: Mapping[str, str]) -> Response:
        """GET /namespaces/{ns}/documents/fetch-text-data: as the cloud one (§3.3, CE-ftd);
        the token is bound to the namespace."""
        return self._fetch_text_data("", namespace, query, owner=None)

    @_endpoint
    def onprem_delete_items(self, *, namespace: str, body: Any) -> Response:
        """POST /namespaces/{ns}/items/delete: 200 with ``not_found_ids`` (§3.1).

        Works on text and vector namespaces alike. Only ``ONPREM_FAULTS`` apply.
        """
        ids = _unique(
            self._parse_ids(
                body,
                limit=ONPREM_MAX_IDS,
                too_many=f"Bad Request: Maximum of {ONPREM_MAX_IDS} ids per request.",
            )
        )
        ns = self._onprem_namespace(namespace)

        def act() -> Response:
            items = ns.items
            not_found = [item_id for item_id in ids if items.pop(item_id, None) is None]
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

        return self._faulted(
            namespace, "delete", act, error="Internal Server Error deleting items."
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

        def act() -> Response:
            now = time.monotonic()
            rendered: list[JSONDict] = []
            for item_id in ids:
                item = ns.items.get(item_id)
                if item is None or item.visible_at > now:
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

        return self._faulted(namespace, "get", act, error="Internal Server Error fetching items.")

    # -- control and introspection (§4.19) ------------------------------------------------

    def record_call(
        self,
        *,
        method: str,
        path: str,
        status: int | None,
        ids_count: int,
        fault: str | None = None,
    ) -> None:
        """Append one API call to the bounded log (the last ``CALL_LOG_SIZE`` are kept).

        ``status`` None: the connection was dropped without an answer.
        """
        with self.lock:
            self._calls.append((method, path, status, ids_count, fault))

    def calls(self) -> list[JSONDict]:
        """The call log, oldest first: ``{method, path, status, ids_count, fault}``."""
        with self.lock:
            return [
                {
                    "method": method,
                    "path": path,
                    "status": status,
                    "ids_count": ids_count,
                    "fault": fault,
                }
                for method, path, status, ids_count, fault in self._calls
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
        "vector"?, "metadata"?, "is_summary"?}]}``. ``api_key`` is the owner; it defaults to
        the first configured key in the cloud flavour and to no owner on-prem. Items with an
        existing id replace it. Seeded items are visible at once (no pending ingestion). Raises
        ValueError on a malformed spec or a kind clash with an existing namespace. Returns
        the item count of each seeded namespace.
        """
        owner = api_key if api_key is not None else self._default_owner()
        counts: dict[str, int] = {}
        with self.lock:
            for spec in namespaces:
                ns = self._seed_namespace(spec, owner)
                created = time.time()
                seq = self._seq
                batch: list[Item] = []
                for raw in spec.get("items") or ():
                    if not isinstance(raw, Mapping):
                        raise ValueError(f"seed item in {ns.name!r} is not an object: {raw!r}")
                    item_id = _id_string(raw.get("id"))
                    if item_id is None:
                        raise ValueError(f"seed item without a valid id in {ns.name!r}: {raw!r}")
                    batch.append(
                        Item(
                            item_id,
                            raw.get("text"),
                            raw.get("vector"),
                            raw.get("metadata") or None,
                            next(seq),
                            created,
                            summary=raw.get("is_summary") is True,
                        )
                    )
                ns.put(batch)
                counts[ns.name] = len(ns.items)
        return counts

    def take_snapshot(self, name: str) -> JSONDict:
        """Keep a deep copy of every namespace and its items as snapshot ``name``.

        A snapshot of the same name is replaced. Faults, the call log, jobs, API keys and
        settings are not part of it. Returns its summary (see ``snapshots()``).
        """
        if not isinstance(name, str) or not name:
            raise ValueError(f"a snapshot name must be a non-empty string, got {name!r}")
        with self.lock:
            snapshot = Snapshot(
                name, tuple(ns.copy() for ns in self._namespaces.values()), _iso(_now())
            )
            # Replacing moves the name to the end: snapshots() lists them in the order taken.
            self._snapshots.pop(name, None)
            self._snapshots[name] = snapshot
        return snapshot.summary()

    def restore_snapshot(self, name: str) -> JSONDict:
        """Put every namespace back as it was in snapshot ``name``; ValueError if unknown.

        Namespaces and items created since are gone, deleted ones are back, each item with
        its text, vector, metadata, ``seq`` and timestamps. The snapshot itself is copied,
        not consumed, so it can be restored again. Faults, the call log, jobs, API keys and
        settings are left as they are. Returns the snapshot's summary.
        """
        with self.lock:
            snapshot = self._snapshots.get(name) if isinstance(name, str) else None
            if snapshot is None:
                taken = ", ".join(repr(known) for known in self._snapshots) or "none"
                raise ValueError(f"unknown snapshot {name!r}; taken: {taken}")
            self._namespaces.clear()
            self._namespaces.update((ns.name, ns.copy()) for ns in snapshot.namespaces)
        return snapshot.summary()

    def snapshots(self) -> list[JSONDict]:
        """Each snapshot's ``{name, namespaces, items, taken_at}``, in the order taken."""
        with self.lock:
            return [snapshot.summary() for snapshot in self._snapshots.values()]

    def set_fault_probabilities(
        self,
        namespace: str,
        probabilities: Mapping[str, float],
        *,
        endpoint: str = "delete",
        retry_after: RetryAfter | _Default = DEFAULT_RETRY_AFTER,
        retry_after_style: str = "seconds",
        slow_seconds: float | None = None,
    ) -> None:
        """Make each ``endpoint`` call to ``namespace`` (or ``*``) draw a fault with these odds.

        One draw per call from the seeded generator; the odds must sum to at most 1. An
        empty mapping removes the entry. For a call, the first entry found among (its
        namespace, its endpoint), (its namespace, ``any``), (``*``, its endpoint), (``*``,
        ``any``) is used. A drawn "partial" on an endpoint without a 207 (uploads, listing)
        answers normally. ``retry_after``, ``retry_after_style`` and ``slow_seconds`` shape
        the drawn faults (see ``FaultOptions``).
        """
        self._check_target(namespace, endpoint)
        clean: dict[str, float] = {}
        for fault, probability in probabilities.items():
            self._check_fault(fault)
            if (
                isinstance(probability, bool)
                or not isinstance(probability, int | float)
                or not 0.0 <= probability <= 1.0
            ):
                raise ValueError(
                    f"probability of {fault!r} must be a number within [0, 1], got {probability!r}"
                )
            clean[fault] = float(probability)
        if sum(clean.values()) > 1.0 + 1e-9:
            raise ValueError("fault probabilities must sum to at most 1")
        options = FaultOptions.checked(
            retry_after=retry_after,
            retry_after_style=retry_after_style,
            slow_seconds=slow_seconds,
        )
        with self.lock:
            if clean:
                self._fault_probabilities[namespace, endpoint] = FaultOdds(
                    namespace, endpoint, clean, options
                )
            else:
                self._fault_probabilities.pop((namespace, endpoint), None)

    def add_fault_next(
        self,
        namespace: str,
        fault: str,
        count: int = 1,
        *,
        retry_after: RetryAfter | _Default = DEFAULT_RETRY_AFTER,
        endpoint: str = "delete",
        retry_after_style: str = "seconds",
        slow_seconds: float | None = None,
    ) -> None:
        """Make the next ``count`` ``endpoint`` calls to ``namespace`` (or ``*``) answer ``fault``.

        Queued faults beat probabilities; entries for the namespace itself beat ``*``, and
        matching entries are used first-in first-out. A queued "partial" waits for a call
        that can answer 207 (a delete or a get). ``retry_after``: see ``FaultOptions``; the
        API docs never mention the header (§1), the SDK honours numeric values (§1.1).
        """
        self._check_target(namespace, endpoint)
        self._check_fault(fault)
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValueError(f"count must be a positive integer, got {count!r}")
        options = FaultOptions.checked(
            retry_after=retry_after,
            retry_after_style=retry_after_style,
            slow_seconds=slow_seconds,
        )
        with self.lock:
            self._fault_queue.append(QueuedFault(namespace, fault, count, endpoint, options))

    def add_fault_specs(self, specs: Iterable[str]) -> None:
        """Apply ``NAMESPACE:FAULT[@ENDPOINT]=PROBABILITY`` specs (``parse_fault_spec``);
        specs of the same namespace and endpoint form one entry."""
        grouped: dict[tuple[str, str], dict[str, float]] = {}
        for spec in specs:
            namespace, fault, endpoint, probability = parse_fault_spec(spec)
            grouped.setdefault((namespace, endpoint), {})[fault] = probability
        for (namespace, endpoint), probabilities in grouped.items():
            self.set_fault_probabilities(namespace, probabilities, endpoint=endpoint)

    def clear_faults(self) -> None:
        """Drop queued faults and probabilities."""
        with self.lock:
            self._fault_queue.clear()
            self._fault_probabilities.clear()

    def faults(self) -> JSONDict:
        """Queued faults and probabilities, for GET /_emulator/faults."""

        def options(opts: FaultOptions) -> JSONDict:
            retry_after = opts.retry_after
            return {
                "retry_after": "default" if retry_after is DEFAULT_RETRY_AFTER else retry_after,
                "retry_after_style": opts.retry_after_style,
                "slow_seconds": opts.slow_seconds,
            }

        with self.lock:
            return {
                "queued": [
                    {
                        "namespace": q.namespace,
                        "fault": q.fault,
                        "remaining": q.remaining,
                        "endpoint": q.endpoint,
                        **options(q.options),
                    }
                    for q in self._fault_queue
                ],
                "probabilities": [
                    {
                        "namespace": o.namespace,
                        "endpoint": o.endpoint,
                        "probabilities": dict(o.probabilities),
                        **options(o.options),
                    }
                    for o in self._fault_probabilities.values()
                ],
            }

    def reset(self) -> None:
        """Back to the start-up state: no namespaces, jobs, calls or snapshots; the
        constructor's settings and ``faults``; the fault generator restarted from the seed."""
        with self.lock:
            self._namespaces.clear()
            self._calls.clear()
            self._jobs.clear()
            self._snapshots.clear()
            self._fault_queue.clear()
            self._fault_probabilities.clear()
            self._rng = random.Random(self.seed_value)  # noqa: S311  (reproducible on purpose)
            self._upload_counter = itertools.count(1)
            self._job_counter = itertools.count(1)
            self._seq = itertools.count(1)
            self.configure(self._startup_settings)
            self.add_fault_specs(self._startup_faults)

    # -- internals: faults ----------------------------------------------------------------

    def _check_fault(self, fault: str) -> None:
        allowed = FAULTS if self.flavor == "cloud" else ONPREM_FAULTS
        if fault not in allowed:
            raise ValueError(
                f"unknown fault {fault!r} for the {self.flavor} flavour; expected one of "
                f"{', '.join(allowed)}"
            )

    @staticmethod
    def _check_target(namespace: Any, endpoint: Any) -> None:
        if not isinstance(namespace, str) or not namespace:
            raise ValueError(f"namespace must be a name or '*', got {namespace!r}")
        if endpoint not in FAULT_ENDPOINTS:
            raise ValueError(
                f"unknown endpoint {endpoint!r}; expected one of {', '.join(FAULT_ENDPOINTS)}"
            )

    def _next_fault(
        self, namespace: str, endpoint: EndpointClass, *, partial_ok: bool
    ) -> tuple[str, FaultOptions] | None:
        """The fault for this call and its options, or None; consumes one queued use."""
        queue = self._fault_queue
        if queue:
            for target in (namespace, "*"):
                for index, queued in enumerate(queue):
                    if (
                        queued.namespace == target
                        and _endpoint_matches(queued.endpoint, endpoint)
                        and (partial_ok or queued.fault != "partial")
                    ):
                        queued.remaining -= 1
                        if queued.remaining == 0:
                            del queue[index]
                        return queued.fault, queued.options
        table = self._fault_probabilities
        if not table:
            return None
        for key in ((namespace, endpoint), (namespace, "any"), ("*", endpoint), ("*", "any")):
            odds = table.get(key)
            if odds is not None:
                break
        else:
            return None
        draw = self._rng.random()
        threshold = 0.0
        # FAULTS order, not insertion order, so the same odds give the same faults.
        for fault in FAULTS:
            threshold += odds.probabilities.get(fault, 0.0)
            if draw < threshold:
                if fault == "partial" and not partial_ok:
                    return None
                return fault, odds.options
        return None

    def _faulted(
        self,
        namespace: str,
        endpoint: EndpointClass,
        act: Callable[[], Response],
        *,
        error: str,
        partial: Callable[[], Response] | None = None,
    ) -> Response:
        """Answer a validated call: ``act()`` unless a fault is due, then as the fault says.

        ``act`` applies the call and returns its normal answer; ``partial`` its 207, for
        endpoints that have one; ``error`` is the 500 message.
        """
        drawn = self._next_fault(namespace, endpoint, partial_ok=partial is not None)
        if drawn is None:
            return act()
        fault, options = drawn
        effects = self.last_effects
        effects.fault = fault
        if fault == "slow":
            slow = options.slow_seconds
            effects.delay = self._slow_seconds if slow is None else slow
            return act()
        if fault in ("delete_then_error", "delete_then_drop"):
            act()
        if fault in ("drop", "delete_then_drop"):
            effects.drop = True
            return _NO_ANSWER
        if fault == "partial" and partial is not None:
            return partial()
        retry_after = options.retry_after_header(fault)
        headers = {} if retry_after is None else {"Retry-After": retry_after}
        if fault == "rate_limit":
            # The quota 429 of the data pages (M-del, §4.10).
            body: JSONDict = {
                "status": "failure",
                "message": _QUOTA_MESSAGE,
                "current_usage": 1000000,
                "limit": 1000000,
            }
            return 429, body, headers
        if fault == "subscription_expired":
            # M-list "429 - Subscription Expired" (§1).
            return 429, {"status": "failure", "message": _EXPIRED_MESSAGE}, headers
        if fault == "forbidden":
            return 403, {"status": "failure", "message": "Forbidden"}, headers
        return 500, {"status": "failure", "message": error}, headers

    # -- internals: answers ---------------------------------------------------------------

    def _list_answer(self, namespaces: Iterable[Namespace]) -> Response:
        started = time.perf_counter()
        if self.list_casing == "snake":
            listed = [
                {
                    "namespace_name": ns.name,
                    "type": ns.kind,
                    "vector_dimension": ns.vector_dimension,
                    "item_count": len(ns.items),
                    "created_at": ns.created_at,
                }
                for ns in namespaces
            ]
            elapsed = round(time.perf_counter() - started, 6)
            return 200, {"namespaces": listed, "execution_time": elapsed}, {}
        listed = [
            {
                "namespace_name": ns.name,
                "type": ns.kind,
                "vector_dimension": ns.vector_dimension,
                "itemCount": len(ns.items),
                "createdAt": ns.created_at,
            }
            for ns in namespaces
        ]
        return 200, {"namespaces": listed}, {}

    def _create_namespace(self, api_key: str, body: Any) -> Response:
        name, kind, dimension = self._namespace_spec(body, name_keys=("namespace_name",))
        if name in self._namespaces:
            raise _Rejection(_failure(409, f"Namespace '{name}' already exists."))

        def act() -> Response:
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

        return self._faulted(name, "other", act, error="Internal Server Error creating namespace.")

    def _get_answer(
        self, ns: Namespace, ids: list[str], *, withheld: frozenset[str] = frozenset()
    ) -> Response:
        now = time.monotonic()
        stored = ns.items
        found: list[Item] = []
        missing: list[str] = []
        for item_id in ids:
            item = stored.get(item_id)
            if item is None or item.visible_at > now or item_id in withheld:
                missing.append(item_id)
            else:
                found.append(item)
        rendered = [{"id": i.id, "metadata": i.metadata or {}, "text": i.text} for i in found]
        key = self.get_items_key
        if not missing or (self.get_missing == "200" and not withheld):
            return (
                200,
                {
                    "status": "success",
                    "message": f"Successfully retrieved {len(found)} items from namespace "
                    f"'{ns.name}'.",
                    "requested_ids": len(ids),
                    "found_items": len(found),
                    key: rendered,
                },
                {},
            )
        return (
            207,
            {
                "status": "partial",
                "message": f"Retrieval partially completed. Requested: {len(ids)}, "
                f"Found: {len(found)}, Not found: {len(missing)}.",
                "requested_ids": len(ids),
                "found_items": len(found),
                "not_found_ids": missing,
                key: rendered,
            },
            {},
        )

    def _get_partial(self, ns: Namespace, ids: list[str]) -> Response:
        now = time.monotonic()
        visible = [
            i for i in ids if (item := ns.items.get(i)) is not None and item.visible_at <= now
        ]
        if not visible:
            return self._get_answer(ns, ids)
        size = self._rng.randint(1, max(1, len(visible) - 1))
        return self._get_answer(ns, ids, withheld=frozenset(self._rng.sample(visible, size)))

    def _fetch_text_data(
        self, api_key: str, namespace: str, query: Mapping[str, str], *, owner: str | None
    ) -> Response:
        limit_text = query.get("limit", str(FETCH_TEXT_DATA_MAX_LIMIT))
        limit = int(limit_text) if limit_text.isdigit() else 0
        if not 1 <= limit <= FETCH_TEXT_DATA_MAX_LIMIT:
            raise _Rejection(
                _failure(
                    400,
                    f"Bad Request: limit must be an integer between 1 and "
                    f"{FETCH_TEXT_DATA_MAX_LIMIT}.",
                )
            )
        token = query.get("next_token")
        after = 0 if token is None else self._token_position(token, api_key, namespace)
        not_found = f"Namespace '{namespace}' not found."
        if owner is None:
            ns = self._onprem_namespace(namespace)
        else:
            ns = self._owned(owner, namespace, not_found=not_found)
        if ns.kind != "text":
            raise _Rejection(
                _failure(
                    400,
                    f"Bad Request: Namespace '{namespace}' is not a text namespace; "
                    "fetch-text-data requires a text namespace.",
                )
            )
        return self._faulted(
            namespace,
            "other",
            lambda: self._text_page(ns, api_key, limit, after),
            error="Internal Server Error fetching text data.",
        )

    def _text_page(self, ns: Namespace, api_key: str, limit: int, after: int) -> Response:
        started = time.perf_counter()
        ordered = ns.ordered()
        stored = ns.items
        now = time.monotonic()
        page: list[Item] = []
        has_more = False
        for index in range(bisect.bisect_right(ordered, after, key=_item_seq), len(ordered)):
            item = ordered[index]
            # Deleted since the list was built, replaced, or still pending ingestion.
            if stored.get(item.id) is not item or item.visible_at > now:
                continue
            if len(page) == limit:
                has_more = True
                break
            page.append(item)
        sources: dict[str, int] = {}
        rendered: list[JSONDict] = []
        for item in page:
            metadata = item.metadata or {}
            source = metadata.get("source", ns.name)
            sources[str(source)] = sources.get(str(source), 0) + 1
            rendered.append(
                {
                    "id": item.id,
                    "text": item.text,
                    "metadata": metadata,
                    "created_at": _iso_epoch(item.created),
                    "is_summary": item.summary,
                }
            )
        created = [item.created for item in page]
        return (
            200,
            {
                "status": "success",
                "message": f"Fetched {len(page)} text items from namespace '{ns.name}'.",
                "namespace": ns.name,
                "statistics": {
                    "total_items": len(page),
                    "total_text_chunks": len(page),
                    "total_summary_chunks": sum(item.summary for item in page),
                    "created_at_min": _iso_epoch(min(created)) if created else None,
                    "created_at_max": _iso_epoch(max(created)) if created else None,
                    "source_counts": sources,
                },
                "items": rendered,
                "pagination": {
                    "limit": limit,
                    "has_more": has_more,
                    "next_token": self._token(api_key, ns.name, page[-1].seq) if has_more else None,
                },
                "execution_time": round(time.perf_counter() - started, 6),
            },
            {},
        )

    @staticmethod
    def _token(api_key: str, namespace: str, position: int) -> str:
        """An opaque cursor: base64url JSON, like the docs' example ``eyJ1c2VySWQiOiI...``.

        The key appears only as a digest, so a token in a log does not leak it.
        """
        user = hashlib.sha256(api_key.encode()).hexdigest()[:16]
        raw = json.dumps({"userId": user, "namespace": namespace, "after": position})
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    def _token_position(self, token: str, api_key: str, namespace: str) -> int:
        try:
            decoded = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
            position = decoded["after"]
        except (ValueError, binascii.Error, KeyError, TypeError):
            raise _Rejection(_failure(400, "Bad Request: invalid next_token.")) from None
        if isinstance(position, bool) or not isinstance(position, int):
            raise _Rejection(_failure(400, "Bad Request: invalid next_token."))
        # Re-issuing the token for this key and namespace must give back the same text.
        if self._token(api_key, namespace, position) != token.rstrip("="):
            raise _Rejection(
                _failure(
                    400,
                    "Bad Request: next_token was issued for another namespace or API key.",
                )
            )
        return position

    def _delete_success(self, ns: Namespace, ids: list[str], requested: list[str]) -> Response:
        items = ns.items
        deleted = sum(1 for item_id in ids if items.pop(item_id, None) is not None)
        return (
            200,
            {
                "status": "success",
                "message": f"Successfully processed deletion request. Requested: "
                f"{len(requested)}, Actually deleted: {deleted} items from namespace "
                f"'{ns.name}'.",
                "requested_deletions": len(requested),
                "actual_deletions": deleted,
                "remaining_items": len(items),
                "requested_ids": requested,
            },
            {},
        )

    def _delete_partial(self, ns: Namespace, ids: list[str], requested: list[str]) -> Response:
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
        deleted_ids = [
            item_id
            for item_id in ids
            if item_id not in kept and ns.items.pop(item_id, None) is not None
        ]
        if self.partial_shape == "sdk":
            # The SDK mocks' 207 (SDK-tests; §2.1 ambiguity 2). The error text is GUESS.
            return (
                207,
                {
                    "status": "partial",
                    "deleted_ids": deleted_ids,
                    "errors": [
                        {"id": item_id, "error": "Item could not be processed"}
                        for item_id in unprocessed
                    ],
                    "actual_deletions": len(deleted_ids),
                },
                {},
            )
        return (
            207,
            {
                "status": "partial",
                "message": f"Deletion partially completed. Requested: {len(requested)}, "
                f"Actually deleted: {len(deleted_ids)}, Failed/Unprocessed: {len(unprocessed)}.",
                "requested_deletions": len(requested),
                "actual_deletions": len(deleted_ids),
                "remaining_items": len(ns.items),
                "unprocessed_ids": unprocessed,
            },
            {},
        )

    # -- internals: state -----------------------------------------------------------------

    def _default_owner(self) -> str | None:
        if self.flavor == "cloud" and self._api_keys:
            return self._api_keys[0]
        return None

    def _total_items(self) -> int:
        return sum(len(ns.items) for ns in self._namespaces.values())

    def _new_job(self, job: JSONDict) -> str:
        job_id = f"job_{next(self._job_counter)}"
        self._jobs[job_id] = {"job_id": job_id, **job}
        if len(self._jobs) > JOB_LOG_SIZE:
            self._jobs.popitem(last=False)
        return job_id

    def _job(self, namespace: str, job_id: str, job_type: str) -> JSONDict:
        job = self._jobs.get(job_id)
        if job is None or job["namespace_name"] != namespace or job["job_type"] != job_type:
            raise _Rejection(_failure(404, f"Job '{job_id}' not found."))
        return {key: value for key, value in job.items() if key != "job_type"}

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
        return self._add_namespace(name, kind, dimension, owner_key=owner)

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
        if ns.kind == expected or self.wrong_kind_mode == "agnostic":
            return
        if self.wrong_kind_mode == "400":
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

    def _document_items(self, records: list[JSONDict]) -> list[Item]:
        """Validate text records; they become visible after ``ingestion_delay_seconds``."""
        created = time.time()
        delay = self._ingestion_delay_seconds
        visible_at = time.monotonic() + delay if delay > 0 else 0.0
        items: list[Item] = []
        for record in records:
            item_id = self._upload_id(record, prefix="doc")
            text = record.get("text")
            if not isinstance(text, str) or not text:
                raise _Rejection(_upload_error(f"Document '{item_id}' needs a non-empty text"))
            if len(text) > UPLOAD_MAX_TEXT_CHARS:
                raise _Rejection(
                    _upload_error(
                        f"Document '{item_id}' exceeds {UPLOAD_MAX_TEXT_CHARS} characters"
                    )
                )
            metadata = record.get("metadata")
            if metadata is not None and not isinstance(metadata, dict):
                raise _Rejection(_upload_error(f"Document '{item_id}' metadata must be an object"))
            # Keys other than id/text/metadata become metadata (M-upt: "title" and the like).
            extra = {k: v for k, v in record.items() if k not in ("id", "text", "metadata")}
            merged = {**(metadata or {}), **extra}
            items.append(
                Item(item_id, text, None, merged or None, next(self._seq), created, visible_at)
            )
        return items

    def _vector_items(self, records: list[JSONDict]) -> list[Item]:
        created = time.time()
        items: list[Item] = []
        for record in records:
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
            items.append(
                Item(
                    item_id,
                    text if isinstance(text, str) else None,
                    vector,
                    metadata or None,
                    next(self._seq),
                    created,
                )
            )
        return items

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


def _key_tuple(name: str, keys: Iterable[str]) -> tuple[str, ...]:
    if isinstance(keys, str):
        raise ValueError(f"{name} must be a list of keys, not one string")
    values = tuple(keys)
    if not all(isinstance(key, str) and key for key in values):
        raise ValueError(f"{name} must contain non-empty strings")
    return values


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
