"""Starting a request: approved → running, and the expansion of its items."""

from __future__ import annotations

import logging
import uuid

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from erasure import queue
from erasure.lifecycle import RequestStatus, enter
from erasure.models import AuditEventType, ErasureRequest, ItemMapping, Namespace
from erasure.services.audit import audit_record
from erasure.services.execution.base import WORKER
from erasure.services.expansion import items_expand_first, items_expand_rest
from erasure.services.locks import lock_request, share_request

logger = logging.getLogger(__name__)


# The start expands this many items of every namespace (a dispatch each, at most), so
# that the request's jobs spread over all its namespaces at once and the first calls go
# soon (the start's transaction is what the other jobs wait for); the rest follows in
# pieces while they work.
START_ITEMS_PER_NAMESPACE = 1_000


def start_request(request_id: uuid.UUID | str) -> list[tuple[int, str]] | None:
    """approved → running (once, with its audit event), and the first items of each
    namespace. None when there is nothing to do; else the namespaces this job must still
    expand, each with the last item the start took (empty unless this job started the
    request).

    Approval is a state change only: the items are expanded here, by the job, a piece
    of a namespace per transaction after the first items of each, so a request of millions of items
    neither holds up the approver's web request nor waits for the whole expansion before
    its first dispatch. Whatever a crash leaves unexpanded is swept in before the request
    can complete (`finish_or_wait`).
    """
    if ErasureRequest.objects.filter(pk=request_id, status=RequestStatus.RUNNING).exists():
        # Started already: as the locked read below would say, without waiting for the
        # lock behind the starting job's expansion (each piece holds a share lock).
        return []
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
        started = enter(request, RequestStatus.RUNNING)
        # Kept from the first start when a hold or a retry started it again.
        request.started_at = request.started_at or started
        request.save(update_fields=["status", "started_at", "status_changed_at", "updated_at"])
        audit_record(event_type=AuditEventType.REQUEST_STARTED, actor=WORKER, request=request)
        mapped = ItemMapping.objects.filter(
            subject_id=request.subject_id, namespace_id=OuterRef("pk")
        )
        namespace_ids = list(
            Namespace.objects.filter(Exists(mapped)).order_by("pk").values_list("pk", flat=True)
        )
        if not namespace_ids:
            return []
        # The namespaces that filled their first items have more, expanded by this job.
        return items_expand_first(
            request=request,
            actor=WORKER,
            namespace_ids=namespace_ids,
            first=START_ITEMS_PER_NAMESPACE,
        )


# The rest of each namespace is expanded this many items at a time, the namespaces in
# turn, so that all of them fill at once: jobs crowding into the one namespace expanded
# yet take turns at its claims while the calls they could make elsewhere wait.
EXPAND_CHUNK_ITEMS = 6_000


def expand_rest(request_id: uuid.UUID | str, to_expand: list[tuple[int, str]]) -> bool:
    """The rest of each namespace of `to_expand` (past the last item the start took), a
    chunk of each in turn, each chunk in a transaction of its own; False when the request
    is no longer running."""
    while to_expand:
        more = []
        for namespace_id, after in to_expand:
            running, last = expand_namespace(request_id, namespace_id, after)
            if not running:
                return False
            if last is not None:
                more.append((namespace_id, last))
        to_expand = more
    return True


def expand_namespace(
    request_id: uuid.UUID | str, namespace_id: int, after: str
) -> tuple[bool, str | None]:
    """The next EXPAND_CHUNK_ITEMS items of one namespace, past `after`, in a
    transaction of its own: (False, None) when the request is no longer running, else
    (True, the last item added when there may be more, else None)."""
    with transaction.atomic():
        # A share lock: holds and cancels wait for this namespace's insert, but the jobs
        # already claiming the first namespaces' items go on (they share it).
        if share_request(request_id) != RequestStatus.RUNNING:
            return False, None
        request = ErasureRequest.objects.select_related("subject").get(pk=request_id)
        last = items_expand_rest(
            request=request,
            actor=WORKER,
            namespace_id=namespace_id,
            after=after,
            limit=EXPAND_CHUNK_ITEMS,
        )
    return True, last
