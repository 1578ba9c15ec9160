"""Carrying out an approved request: expand, claim, dispatch, record, finish.

The database is the truth, and every step can be re-run by any worker:

1. **Claim** (short transaction): up to one dispatch of pending items of one namespace,
   taken with `FOR UPDATE SKIP LOCKED` and leased to this worker (`lease_owner`,
   `lease_until`). The claim counts an attempt and clears the last status, so that a worker
   dying before it records anything leaves a trace: "tried, no answer recorded".
2. **Call** the namespace API, outside any transaction (no row stays locked while waiting
   on the network). In `exact` mode, what the pre-check saw present is written down
   (`seen_present`) before anything is deleted.
3. **Record** (one transaction): the dispatch rows, every item's outcome in one set-based
   UPDATE, and the audit event. Only items still leased to this worker are written: a
   worker whose lease ran out (and whose items another worker took over) records nothing
   for them, so no outcome is ever written twice.
4. **Finish**: sweep in mappings registered meanwhile, complete the request when no item is
   pending, or schedule a wake-up for the earliest retry.

A crash anywhere loses nothing: claimed items come back when their lease ends (the
sweeper, or any worker, takes them), deletes are idempotent, and an item whose earlier try
may have been applied is never reported `not_found` afterwards: `deleted` when this erasure
saw it present, else `deleted_or_not_found`.
"""

from __future__ import annotations

import logging
import math
import os
import random
import socket
import threading
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from erasure import queue
from erasure.actors import Actor
from erasure.clients import make_client
from erasure.failpoints import failpoint
from erasure.lifecycle import ERASED_OUTCOMES
from erasure.models import (
    AuditEventType,
    Dispatch,
    ErasureItem,
    ErasureRequest,
    ItemMapping,
    ItemOutcome,
    Namespace,
    RequestStatus,
    Subject,
)
from erasure.services.audit import audit_record
from erasure.services.expansion import items_expand
from erasure.services.locks import lock_request
from namespace_api.client import BatchResult, NamespaceApiClient

logger = logging.getLogger(__name__)

WORKER = Actor.system("worker")
# After an authentication failure nothing is sent until an operator fixes the key; look
# again after this delay.
AUTH_FAILURE_RECHECK_SECONDS = 300
SINGLE_MODE_BATCH = 100


@dataclass
class ExecutionSummary:
    batches: int = 0
    calls: int = 0
    finished: bool = False
    stopped: str = ""
    outcomes: Counter[str] = field(default_factory=Counter)


def new_owner() -> str:
    """A lease owner name: unique per call, readable in the admin (host, pid, thread)."""
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}:{uuid.uuid4().hex[:8]}"


def request_execute(
    *, request_id: uuid.UUID | str, client: NamespaceApiClient | None = None
) -> ExecutionSummary:
    """Work on a request until nothing is claimable, then finish it or schedule a wake-up.

    Safe to run twice and concurrently: each run claims its own batches.
    """
    summary = ExecutionSummary()
    to_expand = _start(request_id)
    if to_expand is None:
        return summary
    owner = new_owner()
    own_client = client is None
    client = client or make_client()
    try:
        # The job that started the request expands the namespaces left after the first,
        # while the other jobs already work on the first one.
        for namespace_id in to_expand:
            if not _expand_namespace(request_id, namespace_id):
                break
        while True:
            for namespace in _namespaces_with_claimable_items(request_id):
                after = _start_position(request_id, namespace, client.flavor.delete_max)
                while True:
                    started = time.perf_counter()
                    batch = _claim(request_id, namespace, owner, client, after=after)
                    if batch is None:
                        break
                    # Next claim starts past this batch: no rescan of finished items.
                    after = batch.items[-1].item_id
                    failpoint("execution.after_claim")
                    if not _still_running(request_id):
                        # Held or cancelled since the claim: nothing is sent.
                        _give_back([item.pk for item in batch.items], owner)
                        summary.stopped = "the request is no longer running"
                        return summary
                    claimed = time.perf_counter()
                    result = _call(client, batch, owner)
                    failpoint("execution.after_answer")
                    called = time.perf_counter()
                    _record(batch, result, owner, summary)
                    logger.debug(
                        "request %s: %d items of %s: claim %.0f ms, calls %.0f ms, record %.0f ms",
                        request_id,
                        len(batch.items),
                        namespace.name,
                        (claimed - started) * 1000,
                        (called - claimed) * 1000,
                        (time.perf_counter() - called) * 1000,
                    )
                    if result.stop_reason:
                        summary.stopped = result.stop_reason
                        queue.enqueue_execution(
                            request_id=request_id, delay_seconds=AUTH_FAILURE_RECHECK_SECONDS
                        )
                        return summary
            state = _finish_or_wait(request_id)
            if state != "more":
                summary.finished = state == "finished"
                return summary
    finally:
        if own_client:
            client.close()


def _start(request_id: uuid.UUID | str) -> list[int] | None:
    """approved → running (once, with its audit event), and the items of its first
    namespace. None when there is nothing to do; else the namespaces this job must still
    expand (empty unless this job started the request).

    Approval is a state change only: the items are expanded here, by the job, one namespace
    per transaction, so a request of millions of items neither holds up the approver's web
    request nor waits for the whole expansion before its first dispatch. Whatever a crash
    leaves unexpanded is swept in before the request can complete (`_finish_or_wait`).
    """
    with transaction.atomic():
        request = lock_request(request_id)
        if request is None:
            logger.warning("execute: request %s does not exist", request_id)
            return None
        if request.status == RequestStatus.RUNNING:
            return []
        if request.status == RequestStatus.SCHEDULED:
            left = (
                (request.scheduled_for - timezone.now()).total_seconds()
                if (request.scheduled_for)
                else 0
            )
            if left > 0:
                # Woken early (a sweep, a duplicate job): come back when the grace ends.
                queue.enqueue_execution(request_id=request_id, delay_seconds=left)
                return None
        elif request.status != RequestStatus.APPROVED:
            return None
        request.status = RequestStatus.RUNNING
        # Kept from the first start when a hold or a retry started it again.
        request.status_changed_at = timezone.now()
        request.started_at = request.started_at or request.status_changed_at
        request.save(update_fields=["status", "started_at", "status_changed_at", "updated_at"])
        audit_record(event_type=AuditEventType.REQUEST_STARTED, actor=WORKER, request=request)
        mapped = ItemMapping.objects.filter(
            subject_id=request.subject_id, namespace_id=OuterRef("pk")
        )
        namespace_ids = list(
            Namespace.objects.filter(Exists(mapped)).order_by("pk").values_list("pk", flat=True)
        )
        if namespace_ids:
            items_expand(request=request, actor=WORKER, namespace_ids=namespace_ids[:1])
    return namespace_ids[1:]


def _expand_namespace(request_id: uuid.UUID | str, namespace_id: int) -> bool:
    """One namespace's items, in a transaction of its own; False when the request is no
    longer running."""
    with transaction.atomic():
        request = lock_request(request_id)
        if request is None or request.status != RequestStatus.RUNNING:
            return False
        items_expand(request=request, actor=WORKER, namespace_ids=[namespace_id])
    return True


def _namespaces_with_claimable_items(request_id: uuid.UUID | str) -> list[Namespace]:
    """Namespaces where the request has pending items: one index probe per namespace we
    know of (a handful), not a walk over every pending item."""
    pending = ErasureItem.objects.filter(
        request_id=uuid.UUID(str(request_id)),
        namespace_id=OuterRef("pk"),
        outcome=ItemOutcome.PENDING,
    )
    namespaces = list(Namespace.objects.filter(Exists(pending)).order_by("name"))
    if settings.ERASURE_JOBS_PER_REQUEST <= 1 or len(namespaces) <= 1:
        return namespaces  # one job: name order, predictable
    # Jobs of one request start in different namespaces (a random rotation of the list),
    # instead of all crowding into the first one.
    turn = random.randrange(len(namespaces))  # noqa: S311 - spreading, not security
    return namespaces[turn:] + namespaces[:turn]


def _start_position(request_id: uuid.UUID | str, namespace: Namespace, batch_size: int) -> str:
    """Where a job starts sweeping a namespace: a random batch boundary, so that the jobs of
    one request spread over it instead of all scanning past each other's claims. Starting
    on a boundary keeps every claim a full batch: jobs meeting each other's territory still
    take whole, adjacent batches, so the call count stays at the floor."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM erasure_erasureitem WHERE request_id = %s AND namespace_id = %s",
            [request_id, namespace.pk],
        )
        total = cursor.fetchone()[0]
        if total <= batch_size:
            return ""
        offset = random.randrange(math.ceil(total / batch_size)) * batch_size  # noqa: S311
        if offset == 0:
            return ""
        cursor.execute(
            """
            SELECT item_id FROM erasure_erasureitem
            WHERE request_id = %s AND namespace_id = %s
            ORDER BY item_id OFFSET %s LIMIT 1
            """,
            [request_id, namespace.pk, offset - 1],
        )
        row = cursor.fetchone()
    return row[0] if row else ""


@dataclass(frozen=True)
class _Item:
    pk: int
    item_id: str
    maybe_applied: bool
    seen_present: bool


@dataclass(frozen=True)
class _Batch:
    request: ErasureRequest
    namespace: Namespace
    items: list[_Item]


def _claim(
    request_id: uuid.UUID | str,
    namespace: Namespace,
    owner: str,
    client: NamespaceApiClient,
    *,
    after: str = "",
) -> _Batch | None:
    """Lease one dispatch of claimable items to `owner` (committed before any call).

    Items are taken in `item_id` order from `after` on (the pending index's order); when
    nothing is left past `after`, the namespace is scanned again from its start once, for
    retries that came due behind the cursor.
    """
    batch = _claim_from(request_id, namespace, owner, client, after=after)
    if batch is None and after:
        batch = _claim_from(request_id, namespace, owner, client, after="")
    return batch


def _claim_from(
    request_id: uuid.UUID | str,
    namespace: Namespace,
    owner: str,
    client: NamespaceApiClient,
    *,
    after: str,
) -> _Batch | None:
    size = client.flavor.delete_max
    if namespace.attribution_mode == "single":
        size = SINGLE_MODE_BATCH
    with transaction.atomic():
        # FOR SHARE: a hold (or any state change, FOR NO KEY UPDATE) in progress is waited
        # for, and its outcome seen: no batch is claimed for a request held meanwhile.
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT 1 FROM erasure_erasurerequest WHERE id = %s AND status = %s FOR SHARE",
                [request_id, RequestStatus.RUNNING],
            )
            if cursor.fetchone() is None:
                return None
        request = _request_cache.get(str(request_id))
        if request is None:
            # What a batch needs of its request (its id and subject) never changes: read
            # once per thread and request.
            request = ErasureRequest.objects.select_related("subject").get(pk=request_id)
            _request_cache.set(str(request_id), request)
        with connection.cursor() as cursor:
            # The claim counts an attempt and clears the last status: a worker that dies
            # before recording leaves "tried, no answer", which the next claim turns into
            # `maybe_applied` (the call may have gone out and been applied).
            cursor.execute(
                """
                UPDATE erasure_erasureitem i
                SET lease_owner = %(owner)s,
                    lease_until = now() + make_interval(secs => %(lease)s),
                    maybe_applied = i.maybe_applied
                        OR (i.attempts > 0 AND i.last_http_status IS NULL),
                    attempts = i.attempts + 1,
                    last_http_status = NULL,
                    last_error = ''
                -- ARRAY(...) makes the outer update an index lookup by primary key.
                WHERE i.id = ANY(ARRAY(
                    SELECT id FROM erasure_erasureitem
                    WHERE request_id = %(request)s AND namespace_id = %(namespace)s
                      AND item_id > %(after)s
                      AND outcome = %(pending)s
                      AND (not_before IS NULL OR not_before <= now())
                      AND (lease_until IS NULL OR lease_until < now())
                      AND attempts < %(max_attempts)s
                    ORDER BY item_id
                    LIMIT %(size)s
                    FOR UPDATE SKIP LOCKED
                ))
                RETURNING i.id, i.item_id, i.maybe_applied, i.seen_present
                """,
                {
                    "request": request.pk,
                    "namespace": namespace.pk,
                    "pending": ItemOutcome.PENDING,
                    "max_attempts": settings.ERASURE_MAX_ATTEMPTS,
                    "size": size,
                    "owner": owner,
                    "lease": settings.ERASURE_LEASE_SECONDS,
                    "after": after,
                },
            )
            rows = cursor.fetchall()
    if not rows:
        return None
    items = sorted((_Item(*row) for row in rows), key=lambda item: item.item_id)
    return _Batch(request=request, namespace=namespace, items=items)


class _RequestCache(threading.local):
    """The request object of the last claims, per worker thread (one entry)."""

    def __init__(self) -> None:
        self.key = ""
        self.value: ErasureRequest | None = None

    def get(self, key: str) -> ErasureRequest | None:
        return self.value if self.key == key else None

    def set(self, key: str, value: ErasureRequest) -> None:
        self.key, self.value = key, value


_request_cache = _RequestCache()


def _still_running(request_id: uuid.UUID | str) -> bool:
    return ErasureRequest.objects.filter(pk=request_id, status=RequestStatus.RUNNING).exists()


def _give_back(item_pks: list[int], owner: str, *, status: int | None = None) -> None:
    """Release claimed items that were never sent: the attempt is returned, and the items
    are marked answered (`status`, else 0 after an earlier try) so that the claim is not
    taken for a try without an answer."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE erasure_erasureitem
            SET attempts = attempts - 1,
                last_http_status = coalesce(%(status)s, CASE WHEN attempts > 1 THEN 0 END),
                lease_owner = '', lease_until = NULL
            WHERE id = ANY(%(ids)s) AND lease_owner = %(owner)s
            """,
            {"status": status, "ids": item_pks, "owner": owner},
        )


def _call(client: NamespaceApiClient, batch: _Batch, owner: str) -> BatchResult:
    by_item_id = {item.item_id: item.pk for item in batch.items}

    def remember_present(present: set[str]) -> None:
        # Evidence that outlives a crash: these items existed before this erasure's delete.
        with connection.cursor() as cursor:
            cursor.execute(
                """
                UPDATE erasure_erasureitem SET seen_present = true
                WHERE id = ANY(string_to_array(%s, ',')::bigint[]) AND lease_owner = %s
                """,
                [",".join(str(by_item_id[i]) for i in present if i in by_item_id), owner],
            )

    return client.erase(
        namespace=batch.namespace.name,
        kind=batch.namespace.kind,
        ids=[item.item_id for item in batch.items],
        mode=batch.namespace.attribution_mode,
        prior_ambiguous=[item.item_id for item in batch.items if item.maybe_applied],
        known_present=[item.item_id for item in batch.items if item.seen_present],
        on_present=remember_present,
    )


def _record(batch: _Batch, result: BatchResult, owner: str, summary: ExecutionSummary) -> None:
    """Dispatch rows, item outcomes and the audit event: one transaction."""
    request, namespace = batch.request, batch.namespace
    outcomes: list[str] = []
    untried = []
    with transaction.atomic():
        dispatches = Dispatch.objects.bulk_create(
            [
                Dispatch(
                    request=request,
                    namespace=namespace,
                    endpoint=call.endpoint,
                    ids_sent=call.ids_sent,
                    http_status=call.http_status,
                    requested_deletions=call.requested,
                    actual_deletions=call.actual,
                    unprocessed_count=call.unprocessed,
                    error=call.error,
                    latency_ms=call.latency_ms,
                    worker=owner,
                )
                for call in result.calls
            ]
        )
        # Items sharing an outcome (usually the whole batch) are written by one UPDATE
        # whose only per-item parameter is the list of their ids.
        groups: dict[tuple, list[int]] = defaultdict(list)
        for item in batch.items:
            outcome = result.results.get(item.item_id)
            if outcome is None:
                untried.append(item.pk)  # the batch stopped before this item
                continue
            dispatch_id = dispatches[outcome.call_index].pk if outcome.call_index >= 0 else None
            key = (
                str(outcome.outcome),
                outcome.http_status,
                outcome.error,
                dispatch_id,
                outcome.retryable,
                outcome.maybe_applied,
            )
            groups[key].append(item.pk)
        written = 0
        with connection.cursor() as cursor:
            for (outcome, status, error, dispatch_id, retryable, applied), pks in groups.items():
                again = outcome == ItemOutcome.FAILED and retryable
                cursor.execute(
                    """
                    UPDATE erasure_erasureitem SET
                        last_http_status = %(status)s,
                        last_error = %(error)s,
                        maybe_applied = maybe_applied OR %(applied)s,
                        outcome = CASE WHEN %(again)s AND attempts < %(max_attempts)s
                                       THEN %(pending)s ELSE %(outcome)s END,
                        not_before = CASE WHEN %(again)s AND attempts < %(max_attempts)s
                            THEN now() + make_interval(secs => %(base)s * power(2, attempts - 1))
                            ELSE NULL END,
                        decided_by_id = CASE WHEN %(again)s AND attempts < %(max_attempts)s
                                             THEN NULL ELSE %(dispatch)s END,
                        decided_at = CASE WHEN %(again)s AND attempts < %(max_attempts)s
                                          THEN NULL ELSE now() END,
                        lease_owner = '',
                        lease_until = NULL
                    WHERE id = ANY(string_to_array(%(ids)s, ',')::bigint[])
                      AND lease_owner = %(owner)s
                    """,
                    {
                        "status": status,
                        "error": error,
                        "applied": applied,
                        "again": again,
                        "pending": ItemOutcome.PENDING,
                        "outcome": outcome,
                        "dispatch": dispatch_id,
                        "max_attempts": settings.ERASURE_MAX_ATTEMPTS,
                        "base": settings.ERASURE_RETRY_BASE_SECONDS,
                        "ids": ",".join(map(str, pks)),
                        "owner": owner,
                    },
                )
                written += cursor.rowcount
                outcomes.extend([outcome] * len(pks))
            if untried:
                # Nothing was sent for these: authentication stopped the batch.
                _give_back(untried, owner, status=401)
            # Data minimisation as soon as the data is gone: the mappings of this batch's
            # erased items (the completion removes any left over).
            cursor.execute(
                """
                DELETE FROM erasure_itemmapping m
                USING erasure_erasureitem i
                WHERE i.id = ANY(string_to_array(%(ids)s, ',')::bigint[])
                  AND i.outcome = ANY(%(erased)s)
                  AND m.subject_id = %(subject)s AND m.namespace_id = i.namespace_id
                  AND m.item_id = i.item_id
                """,
                {
                    "ids": ",".join(str(item.pk) for item in batch.items),
                    "erased": list(ERASED_OUTCOMES),
                    "subject": request.subject_id,
                },
            )
            mappings_removed = cursor.rowcount
        if written < len(outcomes):
            logger.warning(
                "request %s: %d items were taken over by another worker before this one "
                "recorded them; their outcomes come from that worker",
                request.pk,
                len(outcomes) - written,
            )
        counts = Counter(outcomes)
        if result.stop_reason:
            ErasureRequest.objects.filter(pk=request.pk).update(last_error=result.stop_reason)
        audit_record(
            event_type=AuditEventType.DISPATCH_RECORDED,
            actor=WORKER,
            request=request,
            details={
                "namespace": namespace.name,
                "dispatch_ids": [d.pk for d in dispatches],
                "calls": [
                    {"endpoint": c.endpoint, "ids": c.ids_sent, "status": c.http_status}
                    for c in result.calls
                ],
                "items": len(batch.items),
                "results": dict(counts),
                "recorded": written,
                "mappings_removed": mappings_removed,
                "stopped": result.stop_reason,
            },
        )
        failpoint("execution.before_commit")
    summary.batches += 1
    summary.calls += len(result.calls)
    summary.outcomes.update(counts)


def _pending_state(request_id: uuid.UUID | str) -> tuple[int, int, int, datetime]:
    """(pending, claimable now, exhausted: tried to the limit with no answer, next time
    something becomes claimable)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT count(*),
                   count(*) FILTER (WHERE (not_before IS NULL OR not_before <= now())
                                      AND (lease_until IS NULL OR lease_until < now())
                                      AND attempts < %(max)s),
                   count(*) FILTER (WHERE attempts >= %(max)s
                                      AND (lease_until IS NULL OR lease_until < now())),
                   min(greatest(coalesce(not_before, now()), coalesce(lease_until, now())))
            FROM erasure_erasureitem
            WHERE request_id = %(request)s AND outcome = %(pending)s
            """,
            {
                "request": request_id,
                "pending": ItemOutcome.PENDING,
                "max": settings.ERASURE_MAX_ATTEMPTS,
            },
        )
        return cursor.fetchone()


def _finish_or_wait(request_id: uuid.UUID | str) -> str:
    """ "finished", "more" (work is claimable again), or "waiting" (retries back off, or
    other workers hold items; a wake-up job is scheduled).

    Only the last step takes the request's lock: deciding to wait or go on needs none, so
    the jobs of one request do not queue behind each other here.
    """
    if not _still_running(request_id):
        return "finished"  # no longer ours to run (nothing can be claimed either)
    pending, claimable, exhausted, next_at = _pending_state(request_id)
    if claimable:
        return "more"
    if pending > exhausted:
        # Retries back off, or other workers hold the rest (they finish the request).
        delay = max((next_at - timezone.now()).total_seconds(), 0.5)
        queue.enqueue_execution(request_id=request_id, delay_seconds=delay)
        return "waiting"
    with transaction.atomic():
        request = lock_request(request_id)
        if request is None or request.status != RequestStatus.RUNNING:
            return "finished"
        if exhausted:
            _fail_exhausted(request)
        pending, claimable, _, _ = _pending_state(request_id)
        if claimable or pending:
            return "more" if claimable else "waiting"
        # About to complete: sweep in mappings registered while the request ran, which
        # mappings_register may have missed (it raced with the approval).
        if items_expand(request=request, actor=WORKER):
            return "more"
        _complete(request)
        return "finished"


def _fail_exhausted(request: ErasureRequest) -> None:
    """Items whose every try ended without a recorded answer (their workers died) end
    `failed`; an operator's retry sends them again."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE erasure_erasureitem
            SET outcome = %(failed)s, decided_at = now(), lease_owner = '', lease_until = NULL,
                last_error = 'no answer recorded after ' || attempts || ' tries'
            WHERE request_id = %(request)s AND outcome = %(pending)s AND attempts >= %(max)s
              AND (lease_until IS NULL OR lease_until < now())
            """,
            {
                "request": request.pk,
                "failed": ItemOutcome.FAILED,
                "pending": ItemOutcome.PENDING,
                "max": settings.ERASURE_MAX_ATTEMPTS,
            },
        )
        failed = cursor.rowcount
    if failed:
        audit_record(
            event_type=AuditEventType.ITEMS_FAILED,
            actor=WORKER,
            request=request,
            details={
                "failed": failed,
                "reason": "no answer recorded after the maximum number of tries",
            },
        )


def _complete(request: ErasureRequest) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT outcome, count(*) FROM erasure_erasureitem WHERE request_id = %s "
            "GROUP BY outcome",
            [request.pk],
        )
        counts = dict(cursor.fetchall())
    failed = counts.get(ItemOutcome.FAILED, 0)
    request.status = RequestStatus.COMPLETED_WITH_FAILURES if failed else RequestStatus.COMPLETED
    request.completed_at = request.status_changed_at = timezone.now()
    request.last_error = ""
    request.save(
        update_fields=["status", "completed_at", "last_error", "status_changed_at", "updated_at"]
    )
    # Data minimisation: the mappings of erased items, and the raw subject key, go now.
    # Each dispatch removed its own; this catches any left (driven from the few mappings
    # the subject still has, not from every item of the request).
    with connection.cursor() as cursor:
        cursor.execute(
            """
            DELETE FROM erasure_itemmapping m
            WHERE m.subject_id = %s
              AND EXISTS (
                  SELECT 1 FROM erasure_erasureitem i
                  WHERE i.request_id = %s AND i.namespace_id = m.namespace_id
                    AND i.item_id = m.item_id AND i.outcome = ANY(%s))
            """,
            [request.subject_id, request.pk, list(ERASED_OUTCOMES)],
        )
        mappings_removed = cursor.rowcount
    Subject.objects.filter(pk=request.subject_id).update(raw_key=None)
    audit_record(
        event_type=AuditEventType.REQUEST_COMPLETED,
        actor=WORKER,
        request=request,
        details={
            "status": request.status,
            "counts": counts,
            "mappings_removed": mappings_removed,
        },
    )
