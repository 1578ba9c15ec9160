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
from erasure.services.expansion import items_expand_first
from erasure.services.locks import lock_request

logger = logging.getLogger(__name__)


# The start expands this many items of every namespace (a dispatch each, at most), so
# that the request's jobs spread over all its namespaces at once and the first calls go
# soon (the start's transaction is what the other jobs wait for); the claims expand the
# rest as they go (`expansion.items_expand_leased`).
START_ITEMS_PER_NAMESPACE = 1_000


def start_request(request_id: uuid.UUID | str) -> list[tuple[int, str]] | None:
    """approved → running (once, with its audit event), and the first items of each
    namespace. None when there is nothing to do; else the namespaces with more than their
    first items, each with the last item the start took (empty unless this job started
    the request): the claims expand the rest.

    Approval is a state change only: the items are expanded by the jobs, the first ones of
    each namespace here, the rest a batch per claim, so a request of millions of items
    neither holds up the approver's web request nor waits for the whole expansion before
    its first dispatch. Whatever a crash leaves unexpanded is swept in before the request
    can complete (`finish_or_wait`).
    """
    if ErasureRequest.objects.filter(pk=request_id, status=RequestStatus.RUNNING).exists():
        # Started already: as the locked read below would say, without waiting for the
        # lock behind the starting job's transaction.
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
        # The namespaces that filled their first items have more, for the claims.
        return items_expand_first(
            request=request,
            actor=WORKER,
            namespace_ids=namespace_ids,
            first=START_ITEMS_PER_NAMESPACE,
        )
