"""Carrying out an approved request: expand, claim, dispatch, record, finish.

The database is the truth and every step can be re-run:

* items are claimed in dispatch-sized units with `FOR UPDATE SKIP LOCKED`, so several
  workers share one request without sending the same items twice;
* the claim, the HTTP calls, the outcomes, the dispatch rows and their audit event are one
  transaction: a worker that dies mid-batch leaves the items pending (its lock vanishes with
  its connection), and the next worker resends them. Deletes are idempotent; an item whose
  earlier call got no answer or a 5xx is never reported `not_found` afterwards, only
  `deleted_or_not_found`;
* outcomes are written with one set-based UPDATE per batch.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from erasure import queue
from erasure.actors import Actor
from erasure.models import (
    TERMINAL_OUTCOMES,
    AuditEventType,
    Dispatch,
    ErasureItem,
    ErasureRequest,
    ItemOutcome,
    Namespace,
    RequestStatus,
    Subject,
)
from erasure.services.audit import audit_record
from namespace_api.client import BatchResult, NamespaceApiClient

logger = logging.getLogger(__name__)

WORKER = Actor.system("worker")
# After an authentication failure nothing is sent until an operator fixes the key; look
# again after this delay.
AUTH_FAILURE_RECHECK_SECONDS = 300


def make_client() -> NamespaceApiClient:
    """A client configured from settings (read at call time, never at import)."""
    return NamespaceApiClient(
        base_url=settings.NAMESPACE_API_URL,
        api_key=settings.NAMESPACE_API_KEY,
        flavor=settings.NAMESPACE_API_FLAVOR,
        timeout=settings.NAMESPACE_API_TIMEOUT,
    )


def items_expand(*, request: ErasureRequest, actor: Actor) -> int:
    """Add an item for every mapping of the request's subject not yet in it (set-based).

    Runs at approval and again before finishing, so mappings registered while the request
    runs are swept in. Returns the number of items added.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO erasure_erasureitem
                (request_id, namespace_id, item_id, outcome, attempts, last_error)
            SELECT %s, m.namespace_id, m.item_id, %s, 0, ''
            FROM erasure_itemmapping m
            WHERE m.subject_id = %s
            ON CONFLICT (request_id, namespace_id, item_id) DO NOTHING
            """,
            [request.pk, ItemOutcome.PENDING, request.subject_id],
        )
        added = cursor.rowcount
    if added:
        audit_record(
            event_type=AuditEventType.ITEMS_EXPANDED,
            actor=actor,
            request=request,
            details={"added": added},
        )
    return added


@dataclass
class ExecutionSummary:
    batches: int = 0
    calls: int = 0
    finished: bool = False
    stopped: str = ""
    outcomes: Counter[str] = field(default_factory=Counter)


def request_execute(
    *, request_id: uuid.UUID | str, client: NamespaceApiClient | None = None
) -> ExecutionSummary:
    """Work on a request until it is finished, or until only backoff waits remain.

    Safe to run twice and concurrently: whatever another worker holds is skipped.
    """
    summary = ExecutionSummary()
    if not _start(request_id):
        return summary
    own_client = client is None
    client = client or make_client()
    try:
        while True:
            while _run_one_batch(request_id, client, summary):
                if summary.stopped:
                    return summary
            state = _finish_or_wait(request_id)
            if state == "more":
                continue
            if state == "finished":
                summary.finished = True
            return summary
    finally:
        if own_client:
            client.close()


def _start(request_id: uuid.UUID | str) -> bool:
    """approved → running (once, with its audit event). True when there is work to do."""
    with transaction.atomic():
        request = (
            ErasureRequest.objects.select_for_update()
            .select_related("subject")
            .filter(pk=request_id)
            .first()
        )
        if request is None:
            logger.warning("execute: request %s does not exist", request_id)
            return False
        if request.status == RequestStatus.RUNNING:
            return True
        if request.status != RequestStatus.APPROVED:
            return False
        request.status = RequestStatus.RUNNING
        request.started_at = timezone.now()
        request.save(update_fields=["status", "started_at", "updated_at"])
        audit_record(event_type=AuditEventType.REQUEST_STARTED, actor=WORKER, request=request)
    return True


@dataclass(frozen=True)
class _Claimed:
    pk: int
    item_id: str
    ambiguous: bool


def _claim(request_id: uuid.UUID | str, namespace_id: int, limit: int) -> list[_Claimed]:
    # A previous try is "ambiguous" when it may have been applied without our knowing:
    # no answer (NULL status), 429 after a resend, or a 5xx.
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT id, item_id,
                   attempts > 0 AND (last_http_status IS NULL OR last_http_status >= 429)
            FROM erasure_erasureitem
            WHERE request_id = %s AND namespace_id = %s AND outcome = %s
              AND (not_before IS NULL OR not_before <= now())
            ORDER BY id
            LIMIT %s
            FOR UPDATE SKIP LOCKED
            """,
            [request_id, namespace_id, ItemOutcome.PENDING, limit],
        )
        return [_Claimed(pk, item_id, bool(amb)) for pk, item_id, amb in cursor.fetchall()]


def _run_one_batch(
    request_id: uuid.UUID | str, client: NamespaceApiClient, summary: ExecutionSummary
) -> bool:
    """Claim, dispatch and record one batch. False when nothing is claimable now."""
    namespaces = list(
        Namespace.objects.filter(
            pk__in=ErasureItem.objects.filter(
                request_id=request_id, outcome=ItemOutcome.PENDING
            ).values("namespace_id")
        )
    )
    for namespace in namespaces:
        size = 100 if namespace.attribution_mode == "single" else client.flavor.delete_max
        with transaction.atomic():
            request = ErasureRequest.objects.select_related("subject").filter(pk=request_id).first()
            if request is None or request.status != RequestStatus.RUNNING:
                return False
            claimed = _claim(request_id, namespace.pk, size)
            if not claimed:
                continue
            result = client.erase(
                namespace=namespace.name,
                kind=namespace.kind,
                ids=[c.item_id for c in claimed],
                mode=namespace.attribution_mode,
                prior_ambiguous=[c.item_id for c in claimed if c.ambiguous],
            )
            _record(request, namespace, claimed, result, summary)
        if result.stop_reason:
            summary.stopped = result.stop_reason
            queue.enqueue_execution(
                request_id=request_id, delay_seconds=AUTH_FAILURE_RECHECK_SECONDS
            )
        return True
    return False


def _record(
    request: ErasureRequest,
    namespace: Namespace,
    claimed: list[_Claimed],
    result: BatchResult,
    summary: ExecutionSummary,
) -> None:
    """Dispatch rows, item outcomes and the audit event, in the caller's transaction."""
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
            )
            for call in result.calls
        ]
    )
    pks, outcomes, statuses, errors, deciders, retryables = [], [], [], [], [], []
    for item in claimed:
        outcome = result.results.get(item.item_id)
        if outcome is None:
            continue  # not attempted: the batch stopped before it
        pks.append(item.pk)
        outcomes.append(str(outcome.outcome))
        statuses.append(outcome.http_status)
        errors.append(outcome.error)
        deciders.append(dispatches[outcome.call_index].pk if outcome.call_index >= 0 else None)
        retryables.append(outcome.retryable)
    if pks:
        with connection.cursor() as cursor:
            cursor.execute(
                """
                WITH v AS (
                    SELECT * FROM unnest(
                        %s::bigint[], %s::text[], %s::int[], %s::text[], %s::bigint[],
                        %s::bool[]
                    ) AS v(id, outcome, http_status, error, dispatch_id, retryable)
                ), d AS (
                    SELECT v.*, i.attempts + 1 AS tries,
                           (v.outcome = 'failed' AND v.retryable
                            AND i.attempts + 1 < %s) AS again
                    FROM v JOIN erasure_erasureitem i ON i.id = v.id
                )
                UPDATE erasure_erasureitem AS i SET
                    attempts = d.tries,
                    last_http_status = d.http_status,
                    last_error = d.error,
                    outcome = CASE WHEN d.again THEN 'pending' ELSE d.outcome END,
                    not_before = CASE WHEN d.again
                        THEN now() + make_interval(secs => %s * power(2, d.tries - 1))
                        ELSE NULL END,
                    decided_by_id = CASE WHEN d.again THEN NULL ELSE d.dispatch_id END,
                    decided_at = CASE WHEN d.again THEN NULL ELSE now() END
                FROM d
                WHERE i.id = d.id
                """,
                [
                    pks,
                    outcomes,
                    statuses,
                    errors,
                    deciders,
                    retryables,
                    settings.ERASURE_MAX_ATTEMPTS,
                    settings.ERASURE_RETRY_BASE_SECONDS,
                ],
            )
    counts = Counter(outcomes)
    summary.batches += 1
    summary.calls += len(result.calls)
    summary.outcomes.update(counts)
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
            "items": len(claimed),
            "results": dict(counts),
            "stopped": result.stop_reason,
        },
    )


def _finish_or_wait(request_id: uuid.UUID | str) -> str:
    """ "finished", "more" (new work appeared), or "waiting" (retries are backing off or
    other workers hold items)."""
    with transaction.atomic():
        request = (
            ErasureRequest.objects.select_for_update()
            .select_related("subject")
            .filter(pk=request_id)
            .first()
        )
        if request is None or request.status != RequestStatus.RUNNING:
            return "finished"
        if items_expand(request=request, actor=WORKER):
            return "more"
        pending = request.items.filter(outcome=ItemOutcome.PENDING)
        next_retry = pending.order_by("not_before").values_list("not_before", flat=True).first()
        if pending.exists():
            if next_retry is None or next_retry <= timezone.now():
                # Held by another worker right now; it finishes the request.
                return "waiting"
            delay = (next_retry - timezone.now()).total_seconds()
            queue.enqueue_execution(request_id=request.pk, delay_seconds=max(delay, 0.5))
            return "waiting"
        _complete(request)
        return "finished"


def _complete(request: ErasureRequest) -> None:
    counts = dict(
        Counter(request.items.values_list("outcome", flat=True).iterator(chunk_size=10_000))
    )
    failed = counts.get(ItemOutcome.FAILED, 0)
    request.status = RequestStatus.COMPLETED_WITH_FAILURES if failed else RequestStatus.COMPLETED
    request.completed_at = timezone.now()
    request.last_error = ""
    request.save(update_fields=["status", "completed_at", "last_error", "updated_at"])
    # Data minimisation: the mappings of erased items, and the raw subject key, go now.
    erased = [o for o in TERMINAL_OUTCOMES if o != ItemOutcome.FAILED]
    with connection.cursor() as cursor:
        cursor.execute(
            """
            DELETE FROM erasure_itemmapping m
            USING erasure_erasureitem i
            WHERE i.request_id = %s AND i.outcome = ANY(%s)
              AND m.subject_id = %s AND m.namespace_id = i.namespace_id
              AND m.item_id = i.item_id
            """,
            [request.pk, erased, request.subject_id],
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
