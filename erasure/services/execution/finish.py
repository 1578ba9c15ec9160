"""Finishing: complete a request when nothing is pending, or wait for what backs off."""

from __future__ import annotations

import json
import uuid
from datetime import datetime

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from erasure import queue
from erasure.apis import namespace_label_sql
from erasure.lifecycle import ERASED_OUTCOMES, ItemOutcome, RequestStatus, enter
from erasure.liveness import lease_binds, lease_free
from erasure.models import AuditEvent, AuditEventType, ErasureRequest, LeaseProof, Subject
from erasure.services import scans
from erasure.services.audit import audit_record
from erasure.services.execution.base import WORKER
from erasure.services.execution.claims import claimable_exists, still_running
from erasure.services.expansion import items_expand
from erasure.services.locks import lock_request
from erasure.services.rechecks import rechecks_schedule
from erasure.transparency.verify import failed_items_digest


def pending_state(request_id: uuid.UUID | str) -> tuple[int, int, int, datetime]:
    """(pending, claimable now, exhausted: tried to the limit with no answer, next time
    something becomes claimable). Items of a refused API are not claimable before the
    refusal ends."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH i AS (
                SELECT i.namespace_id, i.not_before, i.attempts, i.lease_until,
                       {lease_binds("i")} AS leased
                FROM erasure_erasureitem i
                WHERE i.request_id = %(request)s AND i.outcome = %(pending)s
            ),
            -- Counted per namespace first: the namespace and its API's refusal are then
            -- joined a handful of times, not once per pending item.
            per AS (
                SELECT i.namespace_id,
                       count(*) AS pending,
                       count(*) FILTER (WHERE (i.not_before IS NULL OR i.not_before <= now())
                                          AND NOT coalesce(i.leased, false)
                                          AND i.attempts < %(max)s) AS free,
                       count(*) FILTER (WHERE i.attempts >= %(max)s
                                          AND NOT coalesce(i.leased, false)) AS exhausted,
                       -- A dead owner's lease ends now, a live one's when its time runs out.
                       min(greatest(coalesce(i.not_before, now()),
                                    CASE WHEN i.leased THEN i.lease_until ELSE now() END))
                           AS next_at
                FROM i GROUP BY i.namespace_id
            )
            SELECT coalesce(sum(per.pending), 0)::int,
                   coalesce(sum(per.free) FILTER (WHERE r.refused_until IS NULL), 0)::int,
                   coalesce(sum(per.exhausted), 0)::int,
                   min(greatest(per.next_at, coalesce(r.refused_until, now())))
            FROM per
            JOIN erasure_namespace n ON n.id = per.namespace_id
            -- The items of an API that refused our key wait until the refusal ends.
            LEFT JOIN erasure_apithrottle r ON r.name = n.api AND r.refused_until > now()
            """,  # noqa: S608 (a constant of liveness)
            {
                "request": request_id,
                "pending": ItemOutcome.PENDING,
                "max": settings.ERASURE_MAX_ATTEMPTS,
            },
        )
        return cursor.fetchone()


def finish_or_wait(request_id: uuid.UUID | str) -> str:
    """ "finished", "more" (work is claimable again), or "waiting" (retries back off, or
    other workers hold items; a wake-up job is scheduled).

    Only the last step takes the request's lock: deciding to wait or go on needs none, so
    the jobs of one request do not queue behind each other here.
    """
    if not still_running(request_id):
        return "finished"  # no longer ours to run (nothing can be claimed either)
    if claimable_exists(request_id):
        return "more"
    pending, claimable, exhausted, next_at = pending_state(request_id)
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
            fail_exhausted(request)
        pending, claimable, _, _ = pending_state(request_id)
        if claimable or pending:
            return "more" if claimable else "waiting"
        # About to complete: sweep in mappings registered while the request ran, which
        # mappings_register may have missed (it raced with the approval).
        if items_expand(request=request, actor=WORKER):
            return "more"
        # Namespaces with a subject field are scanned after the approval first: what the
        # scan discovers for the subject becomes its mappings, swept in above.
        missing = scans.request_scans_missing(request)
        if missing:
            scans.request_scans_wait(request, missing)
            return "waiting"
        complete(request)
        return "finished"


def fail_exhausted(request: ErasureRequest) -> None:
    """Items whose every try ended without a recorded answer (their workers died) end
    `failed`; an operator's retry sends them again."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE erasure_erasureitem
            SET outcome = %(failed)s, decided_at = now(), lease_owner = '', lease_until = NULL,
                last_error = 'no answer recorded after ' || attempts || ' tries'
            WHERE request_id = %(request)s AND outcome = %(pending)s AND attempts >= %(max)s
              AND {lease_free("erasure_erasureitem")}
            """,  # noqa: S608 (a constant of liveness)
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


def complete(request: ErasureRequest) -> None:
    with connection.cursor() as cursor:
        # The counts and the failed items (with their reasons) in one pass over the items,
        # grouped by namespace id before the namespace's label is made: grouped by the
        # label, every item's row was sorted (on disk, at 100,000 items: 113 ms, not 50).
        cursor.execute(
            f"""
            SELECT {namespace_label_sql("n")}, g.outcome, g.n, g.failed
            FROM (
                SELECT i.namespace_id, i.outcome, count(*) AS n,
                       coalesce(json_agg(json_build_array(i.item_id, i.last_error))
                                FILTER (WHERE i.outcome = %s), '[]')::text AS failed
                FROM erasure_erasureitem i
                WHERE i.request_id = %s GROUP BY 1, 2
            ) g
            JOIN erasure_namespace n ON n.id = g.namespace_id
            """,  # noqa: S608 (a constant of erasure.apis)
            [ItemOutcome.FAILED, request.pk],
        )
        by_namespace: dict[str, dict[str, int]] = {}
        counts: dict[str, int] = {}
        failed_items: list[tuple[str, str, str]] = []
        for name, outcome, count, failed in cursor.fetchall():
            by_namespace.setdefault(name, {})[outcome] = count
            counts[outcome] = counts.get(outcome, 0) + count
            failed_items.extend((name, item_id, error) for item_id, error in json.loads(failed))
    prior_events = list(
        AuditEvent.objects.filter(request=request).order_by("id").values_list("id", flat=True)
    )
    failed = counts.get(ItemOutcome.FAILED, 0)
    request.completed_at = enter(
        request, RequestStatus.COMPLETED_WITH_FAILURES if failed else RequestStatus.COMPLETED
    )
    request.last_error = ""
    request.save(
        update_fields=["status", "completed_at", "last_error", "status_changed_at", "updated_at"]
    )
    scans_used = scans.request_scans_used(request)
    # Data minimisation: the mappings of erased items, and the raw subject key, go now.
    # Each dispatch removed its own; this catches any left (a mapping registered again for
    # an item already erased). Driven from the subject's few remaining mappings, each
    # looked up among the request's items (`OFFSET 0` keeps that a probe per mapping):
    # without the CTE the planner went from the request's 100,000 erased items to the
    # mappings, one probe each, to find none left.
    with connection.cursor() as cursor:
        cursor.execute(
            """
            WITH m AS MATERIALIZED (
                SELECT id, namespace_id, item_id FROM erasure_itemmapping
                WHERE subject_id = %(subject)s
            )
            DELETE FROM erasure_itemmapping d USING m
            WHERE d.id = m.id
              AND EXISTS (
                  SELECT 1 FROM erasure_erasureitem i
                  WHERE i.request_id = %(request)s AND i.namespace_id = m.namespace_id
                    AND i.item_id = m.item_id AND i.outcome = ANY(%(erased)s) OFFSET 0)
            """,
            {
                "subject": request.subject_id,
                "request": request.pk,
                "erased": list(ERASED_OUTCOMES),
            },
        )
        mappings_removed = cursor.rowcount
    Subject.objects.filter(pk=request.subject_id).update(raw_key=None)
    # Proofs of presence left by workers that died: their items took them over.
    LeaseProof.objects.filter(request=request).delete()
    rechecks_schedule(request)
    audit_record(
        event_type=AuditEventType.REQUEST_COMPLETED,
        actor=WORKER,
        request=request,
        details={
            "status": request.status,
            "counts": counts,
            # What the certificate states, so that a bundle's certificate can be checked
            # against the log (erasure.transparency.verify).
            "by_namespace": by_namespace,
            "failed_items": {
                "count": len(failed_items),
                "sha256": failed_items_digest(failed_items),
            },
            # The request's events so far: a bundle that left one out is caught.
            "prior_events": prior_events,
            "mappings_removed": mappings_removed,
            # The scans the request waited for, and what they found for the subject.
            "scans": scans_used,
        },
    )
