"""Re-checks: a completed request's erased items, checked again once the vendor's retention
window has passed (vendors keep deleted data for a while, and a restored backup brings it
back).

When a request completes, a re-check is scheduled for every namespace where it erased
items, `recheck_after_days` later (the namespace's own, else ERASURE_RECHECK_DAYS; 0 turns
it off). A periodic task runs those due:

* text namespaces: `documents/get` on the items; the ones present came back;
* vector namespaces cannot be read by ID: the items are deleted again (idempotent), and
  deletion counts above zero mean something came back.

Each re-check is a `request.rechecked` event on the original request, with counts. What
came back is mapped to the subject again and erased by a follow-up request (source
`system`, its reason naming the original); the original request's items, outcomes and
certificate facts are never changed.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from erasure.actors import Actor
from erasure.apis import ApiKeyMissing
from erasure.clients import ApiClients
from erasure.lifecycle import ERASED_OUTCOMES, ItemOutcome, RequestStatus
from erasure.models import (
    AuditEventType,
    ErasureRequest,
    NamespaceKind,
    Recheck,
    RequestSource,
)
from erasure.services.audit import audit_record
from erasure.services.expansion import items_expand
from erasure.services.requests import request_file
from namespace_api.client import NamespaceApiClient
from namespace_api.client.errors import NamespaceApiError

logger = logging.getLogger("erasure.rechecks")

RECHECKER = Actor.system("recheck")
# Re-checks run per pass of the periodic task, at most (the rest wait for the next pass).
RECHECKS_PER_PASS = 100
METHOD_GET = "documents/get"
METHOD_REDELETE = "re-delete"


def rechecks_schedule(request: ErasureRequest) -> int:
    """Schedule the re-checks of a request that has just completed (in its transaction):
    one per namespace where it erased items, unless that namespace's interval is 0."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO erasure_recheck
                (request_id, namespace_id, due_at, method, checked, reappeared, error)
            SELECT %(request)s, n.id,
                   now() + make_interval(days => coalesce(n.recheck_after_days, %(days)s)),
                   '', 0, 0, ''
            FROM erasure_namespace n
            WHERE coalesce(n.recheck_after_days, %(days)s) > 0
              AND EXISTS (SELECT 1 FROM erasure_erasureitem i
                          WHERE i.request_id = %(request)s AND i.namespace_id = n.id
                            AND i.outcome = ANY(%(erased)s))
            ON CONFLICT (request_id, namespace_id) DO NOTHING
            """,
            {
                "request": request.pk,
                "days": settings.ERASURE_RECHECK_DAYS,
                "erased": list(ERASED_OUTCOMES),
            },
        )
        return cursor.rowcount


def rechecks_run_due(
    *, now: datetime | None = None, client: NamespaceApiClient | None = None
) -> int:
    """Run the re-checks that are due (the periodic task); returns how many ran. One that
    the API could not answer keeps its error and is tried again on the next pass."""
    now = now or timezone.now()
    due = list(
        Recheck.objects.filter(checked_at__isnull=True, due_at__lte=now)
        .select_related("request__subject", "namespace")
        .order_by("due_at")[:RECHECKS_PER_PASS]
    )
    if not due:
        return 0
    ran = 0
    clients = ApiClients(given=client)
    try:
        for recheck in due:
            try:
                recheck_run(recheck, client=clients.for_namespace(recheck.namespace))
                ran += 1
            except (NamespaceApiError, ApiKeyMissing) as exc:
                Recheck.objects.filter(pk=recheck.pk).update(error=str(exc)[:1000])
                logger.warning(
                    "re-check %s (%s) could not be done: %s",
                    recheck.pk,
                    recheck.namespace.name,
                    exc.__class__.__name__,
                )
    finally:
        clients.close()
    return ran


def recheck_run(recheck: Recheck, *, client: NamespaceApiClient) -> Recheck:
    """Check one request's erased items in one namespace again; what came back is erased
    by a follow-up request. Returns the re-check as recorded."""
    namespace = recheck.namespace
    vector = namespace.kind == NamespaceKind.VECTOR
    checked = 0
    back: list[str] = []
    batch = client.flavor.delete_max
    after = ""
    while True:
        ids = _erased_ids(recheck, after=after, limit=batch)
        if not ids:
            break
        after = ids[-1]
        checked += len(ids)
        if vector:
            result = client.erase(namespace=namespace.name, kind=namespace.kind, ids=ids)
            deleted = sum(call.actual or 0 for call in result.calls)
            if result.stop_reason:
                raise NamespaceApiError(result.stop_reason)
            if deleted:
                # The counts cannot say which: the batch is erased again by the follow-up.
                back.extend(
                    item_id
                    for item_id, outcome in result.results.items()
                    if str(outcome.outcome) != ItemOutcome.NOT_FOUND
                )
        else:
            back.extend(sorted(client.get_present(namespace=namespace.name, ids=ids).present))
    with transaction.atomic():
        locked = Recheck.objects.select_for_update().get(pk=recheck.pk)
        if locked.checked_at is not None:
            return locked  # another runner recorded it first
        follow_up = _follow_up(recheck, back) if back else None
        locked.checked_at = timezone.now()
        locked.method = METHOD_REDELETE if vector else METHOD_GET
        locked.checked = checked
        locked.reappeared = len(back)
        locked.follow_up = follow_up
        locked.error = ""
        locked.save()
        audit_record(
            event_type=AuditEventType.REQUEST_RECHECKED,
            actor=RECHECKER,
            request=recheck.request,
            details={
                "namespace": namespace.name,
                "kind": namespace.kind,
                "method": locked.method,
                "due_at": locked.due_at.isoformat(),
                "checked": checked,
                "reappeared": len(back),
                "follow_up_request": str(follow_up.pk) if follow_up else None,
            },
        )
    logger.info(
        "re-check %s of request %s in %s: %d checked, %d re-appeared",
        locked.pk,
        recheck.request_id,
        namespace.name,
        checked,
        len(back),
    )
    return locked


def _erased_ids(recheck: Recheck, *, after: str, limit: int) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT item_id FROM erasure_erasureitem
            WHERE request_id = %s AND namespace_id = %s AND outcome = ANY(%s) AND item_id > %s
            ORDER BY item_id LIMIT %s
            """,
            [recheck.request_id, recheck.namespace_id, list(ERASED_OUTCOMES), after, limit],
        )
        return [row[0] for row in cursor.fetchall()]


def _follow_up(recheck: Recheck, item_ids: list[str]) -> ErasureRequest:
    """Map what came back to the subject again and file a request that erases it (or let
    the subject's open request take it)."""
    original = recheck.request
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO erasure_itemmapping
                (subject_id, namespace_id, item_id, registered_at, registered_by)
            SELECT %s, %s, v.item_id, now(), %s FROM unnest(%s::text[]) AS v(item_id)
            ON CONFLICT (subject_id, namespace_id, item_id) DO NOTHING
            """,
            [original.subject_id, recheck.namespace_id, RECHECKER.label, item_ids],
        )
    filed = request_file(
        subject_key="",
        subject=original.subject,
        actor=RECHECKER,
        source=RequestSource.SYSTEM,
        regulation=original.regulation,
        reason=(
            f"re-check of erasure request {original.pk}: {len(item_ids)} item(s) "
            f"re-appeared in {recheck.namespace.name}"
        ),
        auto_approve=True,
    )
    request = filed.request
    if request.status == RequestStatus.RUNNING:
        items_expand(request=request, actor=RECHECKER, namespace_ids=[recheck.namespace_id])
    return request
