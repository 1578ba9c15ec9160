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

Where the rest lives, one module per concern:

* `answers`: reading every documented body shape (the 200/207 delete answers, get, list,
  error bodies) into typed values;
* `attribution`: `erase()` itself, how the outcome of each ID is decided;
* `retry`: the one retry policy and `Retry-After`; `throttle`: the pacing protocol;
* `ids`: normalising and chunking IDs; `errors`: the error tree; `types`: typed results.
"""

from __future__ import annotations

import json
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from typing import Any
from urllib.parse import urlencode

import certifi
import httpx

from namespace_api.client import attribution
from namespace_api.client.answers import (
    DeleteAnswer,
    PresenceCheck,
    error_for_status,
    error_message,
    parse_delete,
    parse_namespace_list,
    parse_present,
    parse_text_page,
)
from namespace_api.client.errors import (
    NamespaceApiError,
    RateLimited,
    ServerError,
    TransportError,
    UnexpectedResponse,
    call_of,
)
from namespace_api.client.ids import chunked
from namespace_api.client.retry import RetryPolicy, parse_retry_after
from namespace_api.client.throttle import NoThrottle, Throttle
from namespace_api.client.types import (
    FETCH_TEXT_PAGE_MAX,
    FLAVORS,
    KIND_TEXT,
    KIND_VECTOR,
    BatchResult,
    CallRecord,
    Mode,
    NamespaceInfo,
    TextPage,
)

# Threads that send the checks of one wave side by side. They only do HTTP (the throttle's
# slots are taken by the caller), so a small shared pool serves every client.
_WAVE_POOL = ThreadPoolExecutor(max_workers=16, thread_name_prefix="namespace-api-wave")


class NamespaceApiClient:
    """Client of one namespace API account. Thread-safe for use by one worker thread.

    The connection pool lives as long as the client: create one per worker and `close()` it
    (or use it as a context manager). `sleep` is how the client waits between tries (tests
    pass a function that records the delays instead).
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
        self.sleep = sleep
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
        message = error_message(body, response.text)
        retry_after = (
            parse_retry_after(response.headers.get("Retry-After")) if status == 429 else None
        )
        record = CallRecord(
            endpoint, ids_sent, status, latency, error=message[:1000], retry_after=retry_after
        )
        error = error_for_status(status, message, body, retry_after=retry_after)
        if isinstance(error, RateLimited) and throttled:
            # Everyone sharing the throttle waits, not only this caller.
            self.throttle.pause(self.retry.delay(0, retry_after))
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
                calls.append(call_of(exc))
                if attempt == self.retry.max_retries:
                    exc.calls = calls
                    raise
                retry_after = exc.retry_after if isinstance(exc, RateLimited) else None
                self.sleep(self.retry.delay(attempt, retry_after))
                continue
            except NamespaceApiError as exc:
                calls.append(call_of(exc))
                exc.calls = calls
                raise
            calls.append(record)
            return status, body, calls
        raise AssertionError("unreachable")  # pragma: no cover

    def list_namespaces(self) -> list[NamespaceInfo]:
        _, body, _ = self._read("GET", "/namespaces", endpoint="namespaces/list")
        return parse_namespace_list(body)

    def fetch_text_page(
        self, *, namespace: str, next_token: str | None = None, limit: int = FETCH_TEXT_PAGE_MAX
    ) -> TextPage:
        """One page of a text namespace's items (documents/fetch-text-data), from
        `next_token` (the start when None). Idempotent: retried like every read."""
        query = {"limit": str(limit)}
        if next_token is not None:
            query["next_token"] = next_token
        path = f"/namespaces/{_seg(namespace)}/documents/fetch-text-data?" + urlencode(query)
        _, body, _ = self._read("GET", path, endpoint="documents/fetch-text-data")
        return parse_text_page(body)

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
                try:
                    present.update(parse_present(answer, chunk))
                except UnexpectedResponse as exc:
                    raise _with_calls(exc, calls) from None
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
            answer = parse_delete(status, body)
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
        result. How each mode decides is in `attribution`.
        """
        return attribution.erase(
            self,
            namespace=namespace,
            kind=kind,
            ids=ids,
            mode=mode,
            prior_ambiguous=prior_ambiguous,
            known_present=known_present,
            on_present=on_present,
        )


_tls_lock = threading.Lock()
_tls: ssl.SSLContext | None = None


def _tls_context() -> ssl.SSLContext:
    """One TLS context per process: building one (loading the CA bundle) costs tens of
    milliseconds, and workers create a client per job. The lock keeps a worker's first
    jobs, starting together, from each building one."""
    global _tls
    with _tls_lock:
        if _tls is None:
            _tls = ssl.create_default_context(cafile=certifi.where())
        return _tls


def warm_up() -> None:
    """Pay a process's one-time costs of the first client now (the TLS context, the HTTP
    modules httpx imports on first use: about 0.1 s of CPU), not in its first jobs."""
    NamespaceApiClient(base_url="http://127.0.0.1").close()


def _seg(namespace: str) -> str:
    from urllib.parse import quote

    return quote(namespace, safe="")


def _ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)


def _with_call(error: NamespaceApiError, call: CallRecord) -> NamespaceApiError:
    error.call = call
    return error


def _with_calls(error: NamespaceApiError, calls: list[CallRecord]) -> NamespaceApiError:
    error.calls = calls
    return error
