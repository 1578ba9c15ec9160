"""How the outcome of each ID is decided: `erase()` under an attribution mode (section 6).

The modes, each drawn from namespace-api.md:

* `exact` for text (5.1): pre-check with `get_present`, delete only what is present, and
  post-verify (`_verify`) whenever an answer leaves doubt;
* `adaptive` for text: delete first, one call per chunk, and let the counts settle every
  ID when they can: all deleted when the API deleted as many as were sent, all absent when
  it deleted none. An answer in between ("mixed") leaves its IDs `deleted_or_not_found`
  and is counted (`BatchResult.mixed_answers`), so that the caller can switch the
  namespace to `exact` when mixed answers keep coming;
* `fast` (5.2): delete in chunks and attribute by the counts of each answer (on a text
  namespace this is `adaptive`'s rule, without the switch);
* `single` (5.2): `fast` with one ID per call, so that the counts are exact;
* on-prem, whatever the mode (3.1): the answer lists `not_found_ids`, so it is exact;
  a post-verify settles a chunk whose counts do not add up.

Deletes are resent here, not inside the client (`_delete_with_retries`), because a resend
changes what can be claimed: after an ambiguous answer (no answer, a 5xx, a 429 that was
resent) the counts are not trusted and "absent now" is at most `deleted_or_not_found`
(5.0). `_Batch` holds the calls made and the result per ID; its `apply_listed` turns the
IDs an answer names (a 207's `unprocessed_ids`, `not_found_ids`, `deleted_ids`) into
outcomes before the counts decide the rest. The HTTP calls themselves are the client's
raw calls (`get_present`, `delete_once`); the answers are read in `answers`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from namespace_api.client.answers import DeleteAnswer, PresenceCheck
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
    call_of,
)
from namespace_api.client.ids import chunked, normalize_ids
from namespace_api.client.retry import RetryPolicy
from namespace_api.client.types import (
    KIND_TEXT,
    BatchResult,
    CallRecord,
    Flavor,
    IdResult,
    Mode,
    Outcome,
)


class NamespaceApiClient(Protocol):
    """The raw calls the modes are made of (namespace_api.client.client has them): this
    module decides outcomes and never speaks HTTP itself."""

    flavor: Flavor
    retry: RetryPolicy
    sleep: Callable[[float], None]

    def get_present(self, *, namespace: str, ids: Sequence[str]) -> PresenceCheck: ...

    def delete_once(
        self, *, namespace: str, kind: str, ids: Sequence[str]
    ) -> tuple[DeleteAnswer, CallRecord]: ...


def erase(
    api: NamespaceApiClient,
    *,
    namespace: str,
    kind: str,
    ids: Iterable[object],
    mode: str,
    prior_ambiguous: Iterable[str],
    known_present: Iterable[str],
    on_present: Callable[[set[str]], None] | None,
) -> BatchResult:
    """`NamespaceApiClient.erase()` (which states the contract), through `api`'s raw calls."""
    batch = _Batch(
        ids=normalize_ids(ids),
        prior=frozenset(prior_ambiguous),
        known_present=frozenset(known_present),
        on_present=on_present,
    )
    try:
        if api.flavor.name == "onprem":
            _erase_listed(api, batch, namespace=namespace, kind=kind)
        elif mode == Mode.SINGLE:
            for item_id in batch.ids:
                _erase_counted(api, batch, namespace=namespace, kind=kind, chunk=[item_id])
        elif mode == Mode.EXACT and kind == KIND_TEXT:
            _erase_exact(api, batch, namespace=namespace, kind=kind)
        elif mode not in (Mode.EXACT, Mode.ADAPTIVE, Mode.FAST):
            raise ValueError(f"unknown attribution mode {mode!r}")
        else:
            # `adaptive` on text keeps `exact`'s guarantee across a crash: what an answer
            # proves deleted is reported (`on_present`) before the outcomes are recorded.
            prove = mode == Mode.ADAPTIVE and kind == KIND_TEXT
            for chunk in chunked(batch.ids, api.flavor.delete_max):
                _erase_counted(api, batch, namespace=namespace, kind=kind, chunk=chunk, prove=prove)
    except AuthenticationFailed as exc:
        batch.result.stop_reason = f"authentication failed (HTTP {exc.status}): {exc.message}"
        batch.result.stop_status = exc.status
    return batch.result


def _delete_with_retries(
    api: NamespaceApiClient, batch: _Batch, *, namespace: str, kind: str, chunk: list[str]
) -> tuple[DeleteAnswer | None, bool]:
    """Send one delete, resending after 429/5xx/no answer up to the retry budget.

    Returns (answer or None when every try failed, whether the answer is ambiguous, i.e.
    an earlier try may have been applied). Non-retryable errors become failures here;
    authentication errors propagate.
    """
    ambiguous = False
    for attempt in range(api.retry.max_retries + 1):
        try:
            answer, record = api.delete_once(namespace=namespace, kind=kind, ids=chunk)
        except AuthenticationFailed as exc:
            batch.result.calls.append(call_of(exc))
            raise
        except (BadRequest, NamespaceNotFound, ApiStatusError) as exc:
            index = batch.record(call_of(exc))
            if isinstance(exc, RateLimited | ServerError):
                ambiguous = True
                if attempt < api.retry.max_retries:
                    retry_after = exc.retry_after if isinstance(exc, RateLimited) else None
                    api.sleep(api.retry.delay(attempt, retry_after))
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
            index = batch.record(call_of(exc))
            ambiguous = True
            if attempt < api.retry.max_retries:
                api.sleep(api.retry.delay(attempt))
                continue
            batch.fail(chunk, index, None, str(exc), True, maybe_applied=True)
            return None, ambiguous
        batch.record(record)
        return answer, ambiguous
    raise AssertionError("unreachable")  # pragma: no cover


def _erase_counted(
    api: NamespaceApiClient,
    batch: _Batch,
    *,
    namespace: str,
    kind: str,
    chunk: list[str],
    prove: bool = False,
) -> None:
    """`adaptive`, `fast` and `single`: attribute by the counts of the answer (section 5.2).
    With `prove`, IDs the answer proves deleted are passed to `on_present` first."""
    answer, ambiguous = _delete_with_retries(
        api, batch, namespace=namespace, kind=kind, chunk=chunk
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
        if prove and batch.on_present is not None:
            batch.on_present(set(rest))
        batch.set_all(rest, Outcome.DELETED, index, answer.http_status)
    elif answer.actual == 0 and answer.http_status == 200:
        batch.set_absent(rest, index, answer.http_status, ambiguous=ambiguous)
    else:
        # Some were there and some were not: the counts cannot say which. Each is gone now;
        # one this erasure saw present before was deleted.
        batch.result.mixed_answers += 1
        seen = batch.known_present
        status = answer.http_status
        batch.set_all([i for i in rest if i in seen], Outcome.DELETED, index, status)
        unsure = [i for i in rest if i not in seen]
        batch.set_all(unsure, Outcome.DELETED_OR_NOT_FOUND, index, status)


def _erase_listed(api: NamespaceApiClient, batch: _Batch, *, namespace: str, kind: str) -> None:
    """On-prem: `not_found_ids` names the absent IDs, so attribution is exact."""
    for chunk in chunked(batch.ids, api.flavor.delete_max):
        answer, ambiguous = _delete_with_retries(
            api, batch, namespace=namespace, kind=kind, chunk=chunk
        )
        if answer is None:
            continue
        index = len(batch.result.calls) - 1
        rest = batch.apply_listed(chunk, answer, index, ambiguous=ambiguous)
        if answer.not_found is not None and answer.actual == len(rest):
            batch.set_all(rest, Outcome.DELETED, index, answer.http_status)
        else:
            _verify(api, batch, namespace=namespace, ids=rest, present_before=None)


def _erase_exact(api: NamespaceApiClient, batch: _Batch, *, namespace: str, kind: str) -> None:
    """`exact` for text: pre-check, delete what is present, verify when in doubt (5.1)."""
    try:
        check = api.get_present(namespace=namespace, ids=batch.ids)
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
    for chunk in chunked(targets, api.flavor.delete_max):
        answer, ambiguous = _delete_with_retries(
            api, batch, namespace=namespace, kind=kind, chunk=chunk
        )
        if answer is None:
            if ambiguous:
                # An earlier try may have been applied: ask the namespace.
                _verify(api, batch, namespace=namespace, ids=chunk, present_before=present)
            continue
        index = len(batch.result.calls) - 1
        rest = batch.apply_listed(chunk, answer, index, ambiguous=ambiguous)
        if not ambiguous and answer.actual == len(rest):
            batch.set_all(rest, Outcome.DELETED, index, answer.http_status)
        elif rest:
            _verify(api, batch, namespace=namespace, ids=rest, present_before=present)


def _verify(
    api: NamespaceApiClient,
    batch: _Batch,
    *,
    namespace: str,
    ids: list[str],
    present_before: set[str] | None,
) -> None:
    """Post-verify: still present → failed (retryable); gone → deleted when it was
    present before (else deleted_or_not_found)."""
    if not ids:
        return
    try:
        check = api.get_present(namespace=namespace, ids=ids)
    except AuthenticationFailed:
        raise
    except NamespaceApiError as exc:
        indexes = [batch.record(c) for c in exc.calls]
        status = exc.status if isinstance(exc, ApiStatusError) else None
        # The delete before this check may have been applied.
        batch.fail(ids, indexes[-1] if indexes else -1, status, str(exc), True, maybe_applied=True)
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
