"""A small SDK for the namespace API (../shared/docs/namespace-api.md).

Two layers:

* raw calls (`list_namespaces`, `get_present`, `delete_once`, uploads), each one HTTP call
  or a chunked series of them, returning typed answers or raising an error of
  `namespace_api.client.errors`;
* `erase()`, which turns a batch of IDs into one result per ID under an attribution mode
  (section 6), and never presents a guess as a fact: counts from a call that was retried
  or that follows an ambiguous answer are not trusted (section 5.0).

Reads (`documents/get`, `items/get`, list) are retried on 429, 5xx and transport errors.
Deletes are never retried blindly inside one call: `erase()` resends them itself and
downgrades what it can claim afterwards.
"""

from __future__ import annotations

import email.utils
import functools
import json
import math
import random
import ssl
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import certifi
import httpx

from namespace_api.client.errors import (
    ApiStatusError,
    AuthenticationFailed,
    BadRequest,
    NamespaceApiError,
    NamespaceNotFound,
    RateLimited,
    ServerError,
    TransportError,
    UnexpectedResponse,
)
from namespace_api.client.types import (
    FLAVORS,
    BatchResult,
    CallRecord,
    IdResult,
    Mode,
    NamespaceInfo,
    Outcome,
)

# Threads that send the checks of one wave side by side. They only do HTTP (the throttle's
# slots are taken by the caller), so a small shared pool serves every client.
_WAVE_POOL = ThreadPoolExecutor(max_workers=16, thread_name_prefix="namespace-api-wave")

KIND_TEXT = "text"
KIND_VECTOR = "vector"


def _as_id(raw: object) -> str | None:
    """The API's string form of an ID, or None when it is not a usable ID."""
    if type(raw) is str:
        return raw or None
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        return None
    if isinstance(raw, float):
        if not math.isfinite(raw):
            return None
        # The API is JavaScript: String(1.0) is "1".
        if raw.is_integer():
            return str(int(raw))
    return str(raw)


def normalize_ids(ids: Iterable[object]) -> list[str]:
    """IDs as the API sees them: strings, duplicates (after conversion) removed, order kept.

    The API converts numbers to strings (D-del), so `1` and `"1"` are one item. Empty IDs
    and values that are neither strings nor numbers are refused before anything is sent.
    """
    raw_ids = list(ids)
    # Plain strings are the common case: keep them out of the per-item function call.
    converted = [raw if type(raw) is str and raw else _as_id(raw) for raw in raw_ids]
    if None in converted:
        bad = [raw for raw, value in zip(raw_ids, converted, strict=True) if value is None]
        raise ValueError(f"invalid item IDs (empty or not a string/number): {bad[:5]!r}")
    return list(dict.fromkeys(converted))  # type: ignore[arg-type]


def chunked(values: Sequence[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(values), size):
        yield list(values[start : start + size])


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header: delta-seconds or an HTTP-date."""
    if value is None or value.strip() == "":
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


@dataclass(frozen=True)
class RetryPolicy:
    """The one retry policy: capped exponential backoff, the server's `Retry-After` first.

    `jitter` returns a number in [0, 1) and is separate so that tests can fix it.
    """

    max_retries: int = 3
    base_delay: float = 0.5
    max_delay: float = 30.0
    retry_after_cap: float = 60.0
    jitter: Callable[[], float] = random.random  # noqa: S311 - backoff jitter, not security

    def delay(self, retry: int, retry_after: float | None = None) -> float:
        if retry_after is not None:
            return min(retry_after, self.retry_after_cap)
        backoff = min(self.base_delay * (2**retry), self.max_delay)
        return backoff * (0.5 + 0.5 * self.jitter())


class Throttle(Protocol):
    """Shared pacing of calls to one API, across threads, processes and machines.

    `slot()` is held around every HTTP call: it waits for a permit (rate, calls in flight,
    and any pause the API asked for). `pause(seconds)` tells every user of the throttle that
    the API asked to wait (a 429's `Retry-After`).
    """

    def slot(self) -> AbstractContextManager[None]: ...

    def extra_slots(self, wanted: int) -> AbstractContextManager[int]:
        """Up to `wanted` more calls in flight, without waiting: yields how many."""
        ...

    def pause(self, seconds: float) -> None: ...


class NoThrottle:
    def slot(self) -> AbstractContextManager[None]:
        return nullcontext()

    def extra_slots(self, wanted: int) -> AbstractContextManager[int]:
        return nullcontext(wanted)

    def pause(self, seconds: float) -> None:
        return None


@dataclass(frozen=True)
class PresenceCheck:
    present: set[str]
    calls: list[CallRecord]
    answered_by: dict[str, int]
    """For each ID asked about, the index in `calls` of the call that answered."""


@dataclass(frozen=True)
class DeleteAnswer:
    """A delete call's answer, in whichever documented shape it came (section 6)."""

    http_status: int
    requested: int | None
    actual: int | None
    unprocessed: frozenset[str]
    not_found: frozenset[str] | None = None
    """Listed by the on-prem API (`not_found_ids`) and the SDK-mock 207 shape."""
    deleted: frozenset[str] | None = None
    """Listed only by the SDK-mock 207 shape (`deleted_ids`)."""


def _error_message(body: Any, text: str) -> str:
    # The docs use three error shapes; read `message`, then `error`, then the raw text.
    if isinstance(body, dict):
        for key in ("message", "error"):
            if isinstance(body.get(key), str) and body[key]:
                return body[key]
    if isinstance(body, str) and body:
        return body
    return text[:500] or "(empty body)"


class NamespaceApiClient:
    """Client of one namespace API account. Thread-safe for use by one worker thread.

    The connection pool lives as long as the client: create one per worker and `close()` it
    (or use it as a context manager).
    """

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str | None = None,
        flavor: str = "cloud",
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        throttle: Throttle | None = None,
    ) -> None:
        if flavor not in FLAVORS:
            raise ValueError(f"unknown flavor {flavor!r}; expected one of {sorted(FLAVORS)}")
        self.flavor = FLAVORS[flavor]
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self.throttle: Throttle = throttle or NoThrottle()
        headers = {"Accept": "application/json", "User-Agent": "erasure-service"}
        if api_key and self.flavor.name == "cloud":
            headers["x-api-key"] = api_key
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            transport=transport,
            verify=_tls_context(),
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> NamespaceApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- raw calls -------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        payload: Any = None,
        *,
        endpoint: str,
        ids_sent: int = 0,
        throttled: bool = True,
    ) -> tuple[int, Any, CallRecord]:
        """One HTTP call. Returns (status, parsed body, record) for 2xx; raises otherwise.

        The raised error carries the record as `.call` so that callers can store it.
        `throttled=False` is for calls whose slot the caller already holds (and which run
        on threads that must not touch the throttle's database connection).
        """
        try:
            with self.throttle.slot() if throttled else nullcontext():
                started = time.perf_counter()
                response = self._http.request(method, path, json=payload)
        except httpx.TimeoutException as exc:
            record = CallRecord(endpoint, ids_sent, None, _ms(started), error=f"timeout: {exc}")
            raise _with_call(TransportError(f"timeout: {exc}"), record) from exc
        except httpx.TransportError as exc:
            record = CallRecord(endpoint, ids_sent, None, _ms(started), error=f"transport: {exc}")
            raise _with_call(TransportError(f"transport error: {exc}"), record) from exc
        latency = _ms(started)
        try:
            body: Any = response.json() if response.content else None
        except (json.JSONDecodeError, UnicodeDecodeError):
            body = None
        status = response.status_code
        if 200 <= status < 300:
            if not isinstance(body, dict):
                record = CallRecord(endpoint, ids_sent, status, latency, error="unreadable body")
                raise _with_call(
                    UnexpectedResponse(f"HTTP {status} with a body that is not a JSON object"),
                    record,
                )
            return status, body, CallRecord(endpoint, ids_sent, status, latency)
        message = _error_message(body, response.text)
        retry_after = (
            parse_retry_after(response.headers.get("Retry-After")) if status == 429 else None
        )
        record = CallRecord(
            endpoint, ids_sent, status, latency, error=message[:1000], retry_after=retry_after
        )
        error: ApiStatusError
        if status == 400:
            error = BadRequest(status, message, body)
        elif status in (401, 403):
            error = AuthenticationFailed(status, message, body)
        elif status == 404:
            error = NamespaceNotFound(status, message, body)
        elif status == 429:
            error = RateLimited(status, message, body, retry_after=retry_after)
            if throttled:
                # Everyone sharing the throttle waits, not only this caller.
                self.throttle.pause(self.retry.delay(0, retry_after))
        elif status >= 500:
            error = ServerError(status, message, body)
        else:
            error = ApiStatusError(status, message, body)
        raise _with_call(error, record)

    def _read(
        self,
        method: str,
        path: str,
        payload: Any = None,
        *,
        endpoint: str,
        ids_sent: int = 0,
        throttled: bool = True,
    ) -> tuple[int, Any, list[CallRecord]]:
        """An idempotent call, retried on 429, 5xx and transport errors."""
        calls: list[CallRecord] = []
        for attempt in range(self.retry.max_retries + 1):
            try:
                status, body, record = self._call(
                    method,
                    path,
                    payload,
                    endpoint=endpoint,
                    ids_sent=ids_sent,
                    throttled=throttled,
                )
            except (RateLimited, ServerError, TransportError, UnexpectedResponse) as exc:
                calls.append(_call_of(exc))
                if attempt == self.retry.max_retries:
                    exc.calls = calls
                    raise
                retry_after = exc.retry_after if isinstance(exc, RateLimited) else None
                self._sleep(self.retry.delay(attempt, retry_after))
                continue
            except NamespaceApiError as exc:
                calls.append(_call_of(exc))
                exc.calls = calls
                raise
            calls.append(record)
            return status, body, calls
        raise AssertionError("unreachable")  # pragma: no cover

    def list_namespaces(self) -> list[NamespaceInfo]:
        _, body, _ = self._read("GET", "/namespaces", endpoint="namespaces/list")
        rows = body.get("namespaces")
        if not isinstance(rows, list):
            raise UnexpectedResponse("list namespaces: `namespaces` is missing or not a list")
        result = []
        for row in rows:
            # The docs show camelCase `itemCount`; the SDK and newer docs snake_case.
            count = row.get("item_count", row.get("itemCount"))
            result.append(
                NamespaceInfo(
                    name=str(row.get("namespace_name") or row.get("name")),
                    kind=str(row.get("type")),
                    vector_dimension=row.get("vector_dimension"),
                    item_count=count if isinstance(count, int) else None,
                )
            )
        return result

    def create_namespace(
        self, *, name: str, kind: str, vector_dimension: int | None = None
    ) -> None:
        payload: dict[str, Any] = {"namespace_name": name, "type": kind}
        if kind == KIND_VECTOR:
            payload["vector_dimension"] = vector_dimension
        self._call("POST", "/namespaces", payload, endpoint="namespaces/create")

    def upload_documents(self, *, namespace: str, documents: Sequence[dict[str, Any]]) -> None:
        for start in range(0, len(documents), 100):
            chunk = list(documents[start : start + 100])
            self._call(
                "POST",
                f"/namespaces/{_seg(namespace)}/documents",
                {"documents": chunk},
                endpoint="documents/upload",
                ids_sent=len(chunk),
            )

    def upload_vectors(self, *, namespace: str, vectors: Sequence[dict[str, Any]]) -> None:
        for start in range(0, len(vectors), 1000):
            chunk = list(vectors[start : start + 1000])
            self._call(
                "POST",
                f"/namespaces/{_seg(namespace)}/vectors",
                {"vectors": chunk},
                endpoint="vectors/upload",
                ids_sent=len(chunk),
            )

    def get_present(self, *, namespace: str, ids: Sequence[str]) -> PresenceCheck:
        """Which of `ids` the namespace holds now (documents/get or on-prem items/get).

        Accepts 200 and 207, `items` or `documents`; "missing" is requested minus the IDs
        returned, never `not_found_ids` alone (section 5.1).
        """
        endpoint = "items/get" if self.flavor.name == "onprem" else "documents/get"
        path = f"/namespaces/{_seg(namespace)}/{endpoint}"
        present: set[str] = set()
        calls: list[CallRecord] = []
        answered_by: dict[str, int] = {}
        chunks = list(chunked(ids, self.flavor.get_max))
        while chunks:
            # A wave: this call's own slot plus as many free ones as the throttle grants,
            # so that the checks of a batch overlap instead of queueing one by one.
            with self.throttle.slot(), self.throttle.extra_slots(len(chunks) - 1) as extra:
                wave, chunks = chunks[: 1 + extra], chunks[1 + extra :]
                outcomes = list(
                    _WAVE_POOL.map(lambda chunk: self._read_outcome(path, chunk, endpoint), wave)
                )
            for chunk, (answer, chunk_calls, error) in zip(wave, outcomes, strict=True):
                calls.extend(chunk_calls)
                for call in chunk_calls:
                    if call.http_status == 429:
                        # The wave threads could not tell the others; this thread does.
                        self.throttle.pause(self.retry.delay(0, call.retry_after))
                if error is not None:
                    error.calls = calls
                    raise error
                rows = answer.get("items", answer.get("documents"))
                if not isinstance(rows, list):
                    raise _with_calls(
                        UnexpectedResponse("get: no `items` list in the answer"), calls
                    )
                wanted = set(chunk)
                present.update(str(r.get("id")) for r in rows if str(r.get("id")) in wanted)
                answered_by.update(dict.fromkeys(chunk, len(calls) - 1))
        return PresenceCheck(present=present, calls=calls, answered_by=answered_by)

    def _read_outcome(
        self, path: str, chunk: list[str], endpoint: str
    ) -> tuple[Any, list[CallRecord], NamespaceApiError | None]:
        """One check, run on a wave thread: (answer, calls made, error or None)."""
        try:
            _, body, chunk_calls = self._read(
                "POST",
                path,
                {"ids": chunk},
                endpoint=endpoint,
                ids_sent=len(chunk),
                throttled=False,
            )
        except NamespaceApiError as exc:
            return None, exc.calls, exc
        return body, chunk_calls, None

    def delete_once(
        self, *, namespace: str, kind: str, ids: Sequence[str]
    ) -> tuple[DeleteAnswer, CallRecord]:
        """One delete call of at most the flavour's maximum of already-normalised IDs."""
        if not ids:
            raise ValueError("delete_once needs at least one ID")
        if len(ids) > self.flavor.delete_max:
            raise ValueError(f"at most {self.flavor.delete_max} IDs per delete call")
        if self.flavor.name == "onprem":
            endpoint = "items/delete"
        else:
            endpoint = "documents/delete" if kind == KIND_TEXT else "vectors/delete"
        status, body, record = self._call(
            "POST",
            f"/namespaces/{_seg(namespace)}/{endpoint}",
            {"ids": list(ids)},
            endpoint=endpoint,
            ids_sent=len(ids),
        )
        try:
            answer = _parse_delete(status, body)
        except UnexpectedResponse as exc:
            raise _with_call(exc, record) from exc
        record = CallRecord(
            endpoint,
            len(ids),
            status,
            record.latency_ms,
            requested=answer.requested,
            actual=answer.actual,
            unprocessed=len(answer.unprocessed),
        )
        return answer, record

    # -- attribution -----------------------------------------------------------------

    def erase(
        self,
        *,
        namespace: str,
        kind: str,
        ids: Iterable[object],
        mode: str = Mode.FAST,
        prior_ambiguous: Iterable[str] = (),
        known_present: Iterable[str] = (),
        on_present: Callable[[set[str]], None] | None = None,
    ) -> BatchResult:
        """Delete `ids` from `namespace` and attribute an outcome to each.

        `prior_ambiguous` names IDs that an earlier call may already have deleted (it got no
        answer or a 5xx): for them "absent now" can only mean `deleted_or_not_found`.
        `known_present` names IDs an earlier check of this same erasure saw present: absent
        now, they were deleted by it. `on_present` receives the IDs the `exact` pre-check
        found, before anything is deleted, so that the caller can persist that evidence.
        Authentication errors stop the batch (`stop_reason`); IDs not attempted have no
        result.
        """
        batch = _Batch(
            ids=normalize_ids(ids),
            prior=frozenset(prior_ambiguous),
            known_present=frozenset(known_present),
            on_present=on_present,
        )
        try:
            if self.flavor.name == "onprem":
                self._erase_listed(batch, namespace=namespace, kind=kind)
            elif mode == Mode.SINGLE:
                for item_id in batch.ids:
                    self._erase_counted(batch, namespace=namespace, kind=kind, chunk=[item_id])
            elif mode == Mode.EXACT and kind == KIND_TEXT:
                self._erase_exact(batch, namespace=namespace, kind=kind)
            else:
                for chunk in chunked(batch.ids, self.flavor.delete_max):
                    self._erase_counted(batch, namespace=namespace, kind=kind, chunk=chunk)
        except AuthenticationFailed as exc:
            batch.result.stop_reason = f"authentication failed (HTTP {exc.status}): {exc.message}"
        return batch.result

    def _delete_with_retries(
        self, batch: _Batch, *, namespace: str, kind: str, chunk: list[str]
    ) -> tuple[DeleteAnswer | None, bool]:
        """Send one delete, resending after 429/5xx/no answer up to the retry budget.

        Returns (answer or None when every try failed, whether the answer is ambiguous, i.e.
        an earlier try may have been applied). Non-retryable errors become failures here;
        authentication errors propagate.
        """
        ambiguous = False
        for attempt in range(self.retry.max_retries + 1):
            try:
                answer, record = self.delete_once(namespace=namespace, kind=kind, ids=chunk)
            except AuthenticationFailed as exc:
                batch.result.calls.append(_call_of(exc))
                raise
            except (BadRequest, NamespaceNotFound, ApiStatusError) as exc:
                index = batch.record(_call_of(exc))
                if isinstance(exc, RateLimited | ServerError):
                    ambiguous = True
                    if attempt < self.retry.max_retries:
                        retry_after = exc.retry_after if isinstance(exc, RateLimited) else None
                        self._sleep(self.retry.delay(attempt, retry_after))
                        continue
                    batch.fail(chunk, index, exc.status, exc.message, True, maybe_applied=ambiguous)
                    return None, ambiguous
                reason = (
                    f"namespace_not_found: {exc.message}"
                    if isinstance(exc, NamespaceNotFound)
                    else exc.message
                )
                batch.fail(chunk, index, exc.status, reason, False, maybe_applied=ambiguous)
                return None, ambiguous
            except (TransportError, UnexpectedResponse) as exc:
                index = batch.record(_call_of(exc))
                ambiguous = True
                if attempt < self.retry.max_retries:
                    self._sleep(self.retry.delay(attempt))
                    continue
                batch.fail(chunk, index, None, str(exc), True, maybe_applied=True)
                return None, ambiguous
            batch.record(record)
            return answer, ambiguous
        raise AssertionError("unreachable")  # pragma: no cover

    def _erase_counted(self, batch: _Batch, *, namespace: str, kind: str, chunk: list[str]) -> None:
        """`fast` and `single`: attribute by the counts of the answer (section 5.2)."""
        answer, ambiguous = self._delete_with_retries(
            batch, namespace=namespace, kind=kind, chunk=chunk
        )
        if answer is None:
            return
        index = len(batch.result.calls) - 1
        rest = batch.apply_listed(chunk, answer, index, ambiguous=ambiguous)
        if not rest:
            return
        processed = len(rest)
        if answer.actual == processed:
            # Every ID sent and processed was deleted by this very call: each existed before it.
            batch.set_all(rest, Outcome.DELETED, index, answer.http_status)
        elif answer.actual == 0:
            batch.set_absent(rest, index, answer.http_status, ambiguous=ambiguous)
        else:
            batch.set_all(rest, Outcome.DELETED_OR_NOT_FOUND, index, answer.http_status)

    def _erase_listed(self, batch: _Batch, *, namespace: str, kind: str) -> None:
        """On-prem: `not_found_ids` names the absent IDs, so attribution is exact."""
        for chunk in chunked(batch.ids, self.flavor.delete_max):
            answer, ambiguous = self._delete_with_retries(
                batch, namespace=namespace, kind=kind, chunk=chunk
            )
            if answer is None:
                continue
            index = len(batch.result.calls) - 1
            rest = batch.apply_listed(chunk, answer, index, ambiguous=ambiguous)
            if answer.not_found is not None and answer.actual == len(rest):
                batch.set_all(rest, Outcome.DELETED, index, answer.http_status)
            else:
                self._verify(batch, namespace=namespace, ids=rest, present_before=None)

    def _erase_exact(self, batch: _Batch, *, namespace: str, kind: str) -> None:
        """`exact` for text: pre-check, delete what is present, verify when in doubt (5.1)."""
        try:
            check = self.get_present(namespace=namespace, ids=batch.ids)
        except AuthenticationFailed:
            raise
        except NamespaceApiError as exc:
            indexes = [batch.record(c) for c in exc.calls]
            status = exc.status if isinstance(exc, ApiStatusError) else None
            retryable = exc.retryable
            reason = str(exc)
            if isinstance(exc, NamespaceNotFound):
                reason = f"namespace_not_found: {exc.message}"
            batch.fail(batch.ids, indexes[-1] if indexes else -1, status, reason, retryable)
            return
        present = check.present
        if batch.on_present is not None and present:
            batch.on_present(present)
        first = len(batch.result.calls)
        for call in check.calls:
            batch.record(call)
        for item_id in batch.ids:
            if item_id not in present:
                index = check.answered_by[item_id]
                batch.set_absent([item_id], first + index, check.calls[index].http_status)
        targets = [i for i in batch.ids if i in present]
        for chunk in chunked(targets, self.flavor.delete_max):
            answer, ambiguous = self._delete_with_retries(
                batch, namespace=namespace, kind=kind, chunk=chunk
            )
            if answer is None:
                if ambiguous:
                    # An earlier try may have been applied: ask the namespace.
                    self._verify(batch, namespace=namespace, ids=chunk, present_before=present)
                continue
            index = len(batch.result.calls) - 1
            rest = batch.apply_listed(chunk, answer, index, ambiguous=ambiguous)
            if not ambiguous and answer.actual == len(rest):
                batch.set_all(rest, Outcome.DELETED, index, answer.http_status)
            elif rest:
                self._verify(batch, namespace=namespace, ids=rest, present_before=present)

    def _verify(
        self, batch: _Batch, *, namespace: str, ids: list[str], present_before: set[str] | None
    ) -> None:
        """Post-verify: still present → failed (retryable); gone → deleted when it was
        present before (else deleted_or_not_found)."""
        if not ids:
            return
        try:
            check = self.get_present(namespace=namespace, ids=ids)
        except AuthenticationFailed:
            raise
        except NamespaceApiError as exc:
            indexes = [batch.record(c) for c in exc.calls]
            status = exc.status if isinstance(exc, ApiStatusError) else None
            # The delete before this check may have been applied.
            batch.fail(
                ids, indexes[-1] if indexes else -1, status, str(exc), True, maybe_applied=True
            )
            return
        first = len(batch.result.calls)
        for call in check.calls:
            batch.record(call)
        for item_id in ids:
            call_index = first + check.answered_by[item_id]
            status = check.calls[check.answered_by[item_id]].http_status
            if item_id in check.present:
                batch.set_all(
                    [item_id],
                    Outcome.FAILED,
                    call_index,
                    status,
                    error="still present after delete",
                    retryable=True,
                )
            elif present_before is not None and item_id in present_before:
                batch.set_all([item_id], Outcome.DELETED, call_index, status)
            else:
                batch.set_all([item_id], Outcome.DELETED_OR_NOT_FOUND, call_index, status)


@dataclass
class _Batch:
    """Bookkeeping of one `erase()`: the calls made and the result per ID so far."""

    ids: list[str]
    prior: frozenset[str]
    known_present: frozenset[str] = frozenset()
    on_present: Callable[[set[str]], None] | None = None

    def __post_init__(self) -> None:
        self.result = BatchResult()

    def record(self, call: CallRecord) -> int:
        self.result.calls.append(call)
        return len(self.result.calls) - 1

    def set_all(
        self,
        ids: Iterable[str],
        outcome: Outcome,
        call_index: int,
        http_status: int | None,
        *,
        error: str = "",
        retryable: bool = False,
        maybe_applied: bool = False,
    ) -> None:
        result = IdResult(outcome, call_index, http_status, error, retryable, maybe_applied)
        for item_id in ids:
            self.result.results[item_id] = result

    def fail(
        self,
        ids: Iterable[str],
        call_index: int,
        http_status: int | None,
        error: str,
        retryable: bool,
        *,
        maybe_applied: bool = False,
    ) -> None:
        self.set_all(
            ids,
            Outcome.FAILED,
            call_index,
            http_status,
            error=error,
            retryable=retryable,
            maybe_applied=maybe_applied,
        )

    def set_absent(
        self, ids: Iterable[str], call_index: int, http_status: int | None, *, ambiguous=False
    ) -> None:
        """Absent now: `not_found`, unless a call of ours may have deleted it already."""
        for item_id in ids:
            if item_id in self.known_present:
                outcome = Outcome.DELETED  # seen present by this erasure, gone now
            elif ambiguous or item_id in self.prior:
                outcome = Outcome.DELETED_OR_NOT_FOUND
            else:
                outcome = Outcome.NOT_FOUND
            self.set_all([item_id], outcome, call_index, http_status)

    def apply_listed(
        self, chunk: list[str], answer: DeleteAnswer, index: int, *, ambiguous: bool
    ) -> list[str]:
        """Apply what the answer lists by ID; return the IDs it leaves to the counts."""
        status = answer.http_status
        unprocessed = answer.unprocessed & set(chunk)
        self.fail(
            unprocessed,
            index,
            status,
            "unprocessed by the API (207)",
            retryable=True,
            maybe_applied=ambiguous,
        )
        rest = [i for i in chunk if i not in unprocessed]
        if answer.deleted is not None:
            # SDK-mock 207 shape: `deleted_ids` and `errors[]` name every ID.
            listed = [i for i in rest if i in answer.deleted]
            self.set_all(listed, Outcome.DELETED, index, status)
            not_found = answer.not_found or frozenset()
            self.set_absent([i for i in rest if i in not_found], index, status, ambiguous=ambiguous)
            return [i for i in rest if i not in answer.deleted and i not in not_found]
        if answer.not_found is not None:
            absent = [i for i in rest if i in answer.not_found]
            self.set_absent(absent, index, status, ambiguous=ambiguous)
            return [i for i in rest if i not in answer.not_found]
        return rest


def _parse_delete(status: int, body: dict[str, Any]) -> DeleteAnswer:
    """Read every documented delete answer shape (namespace-api.md 2.1, 3.1, section 6)."""

    def _int(*keys: str) -> int | None:
        for key in keys:
            value = body.get(key)
            if isinstance(value, int) and not isinstance(value, bool):
                return value
        return None

    unprocessed = frozenset(str(i) for i in body.get("unprocessed_ids") or [])
    not_found: frozenset[str] | None = None
    deleted: frozenset[str] | None = None
    if isinstance(body.get("not_found_ids"), list):
        not_found = frozenset(str(i) for i in body["not_found_ids"])
    if isinstance(body.get("deleted_ids"), list) or isinstance(body.get("errors"), list):
        deleted = frozenset(str(i) for i in body.get("deleted_ids") or [])
        missing: set[str] = set()
        failing: set[str] = set()
        for error in body.get("errors") or []:
            if not isinstance(error, dict) or "id" not in error:
                continue
            text = str(error.get("error") or error.get("message") or "").lower()
            (missing if "not found" in text else failing).add(str(error["id"]))
        not_found = frozenset(missing) | (not_found or frozenset())
        unprocessed = unprocessed | frozenset(failing)
    actual = _int("actual_deletions", "deleted")
    if actual is None and deleted is not None:
        actual = len(deleted)
    if actual is None:
        raise UnexpectedResponse(f"delete answer (HTTP {status}) has no deletion count")
    return DeleteAnswer(
        http_status=status,
        requested=_int("requested_deletions", "requested"),
        actual=actual,
        unprocessed=unprocessed,
        not_found=not_found,
        deleted=deleted,
    )


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One TLS context per process: building one (loading the CA bundle) costs tens of
    milliseconds, and workers create a client per job."""
    return ssl.create_default_context(cafile=certifi.where())


def _seg(namespace: str) -> str:
    from urllib.parse import quote

    return quote(namespace, safe="")


def _ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)


def _call_of(error: NamespaceApiError) -> CallRecord:
    """The call an error of `_call` carries (every error it raises has one)."""
    assert error.call is not None, "errors raised by _call carry their call"
    return error.call


def _with_call(error: NamespaceApiError, call: CallRecord) -> NamespaceApiError:
    error.call = call
    return error


def _with_calls(error: NamespaceApiError, calls: list[CallRecord]) -> NamespaceApiError:
    error.calls = calls
    return error
