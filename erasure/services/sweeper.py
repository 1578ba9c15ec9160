"""The sweeper: no request is left without a worker, and none loops forever.

Runs every 10 seconds (erasure.tasks.sweep) and can be run by hand. A running execution job
whose worker died (its lock is free, erasure.liveness) is re-queued at once; other jobs when
their worker's heartbeat is older than ERASURE_STALLED_JOB_SECONDS. Unfinished requests
(approved or running) without a queued or running job get one; a request woken up more than
ERASURE_MAX_WAKEUPS times is flagged for an operator (`stuck_since`) and left alone.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, TextField
from django.db.models.fields.json import KT
from django.db.models.functions import Cast
from django.utils import timezone
from procrastinate.contrib.django.models import ProcrastinateJob

from erasure import queue
from erasure.actors import Actor
from erasure.failpoints import failpoint
from erasure.models import AuditEventType, ErasureRequest, RequestStatus
from erasure.services.audit import audit_record
from erasure.services.locks import lock_request

SWEEPER = Actor.system("sweeper")


@dataclass
class SweepResult:
    stalled_jobs: int = 0
    requeued: int = 0
    flagged: int = 0


def sweep() -> SweepResult:
    """Re-queue the jobs of dead workers, then give every unfinished request a job."""
    stalled = queue.requeue_stalled_jobs(
        seconds_since_heartbeat=settings.ERASURE_STALLED_JOB_SECONDS
    )
    failpoint("sweeper.midway")
    result = requests_sweep()
    result.stalled_jobs = stalled
    return result


def requests_sweep() -> SweepResult:
    result = SweepResult()
    # Scheduled requests count once their grace period is over.
    due = Q(status__in=[RequestStatus.APPROVED, RequestStatus.RUNNING]) | Q(
        status=RequestStatus.SCHEDULED, scheduled_for__lte=timezone.now()
    )
    # One query, every 10 seconds: the unfinished requests with no queued or running job
    # (the check is repeated under each one's lock below).
    live_job = (
        ProcrastinateJob.objects.filter(task_name=queue.EXECUTE_TASK, status__in=["todo", "doing"])
        .annotate(request_id=KT("args__request_id"))
        .filter(request_id=Cast(OuterRef("pk"), output_field=TextField()))
    )
    candidates = (
        ErasureRequest.objects.filter(due, stuck_since__isnull=True)
        .filter(~Exists(live_job))
        .values_list("pk", flat=True)
    )
    for request_id in candidates:
        failpoint("sweeper.before_requeue")
        with transaction.atomic():
            request = lock_request(request_id)
            if (
                request is None
                or request.stuck_since is not None
                or not _due(request)
                or queue.has_live_execution_job(request_id)
            ):
                continue  # moved on since it was listed, or has a job
            if request.wakeups >= settings.ERASURE_MAX_WAKEUPS:
                request.stuck_since = timezone.now()
                request.last_error = (
                    f"re-queued {request.wakeups} times without finishing; an operator "
                    "must look at it (retry to resume)"
                )
                request.save(update_fields=["stuck_since", "last_error", "updated_at"])
                audit_record(
                    event_type=AuditEventType.REQUEST_FLAGGED_STUCK,
                    actor=SWEEPER,
                    request=request,
                    details={"wakeups": request.wakeups},
                )
                result.flagged += 1
                continue
            request.wakeups += 1
            request.save(update_fields=["wakeups", "updated_at"])
            audit_record(
                event_type=AuditEventType.REQUEST_REQUEUED,
                actor=SWEEPER,
                request=request,
                details={"wakeups": request.wakeups, "status": request.status},
            )
            queue.enqueue_execution(request_id=request.pk)
            result.requeued += 1
    return result


def _due(request: ErasureRequest) -> bool:
    """Still a request a worker should be carrying out now (read under its lock)."""
    if request.status in (RequestStatus.APPROVED, RequestStatus.RUNNING):
        return True
    return (
        request.status == RequestStatus.SCHEDULED
        and request.scheduled_for is not None
        and request.scheduled_for <= timezone.now()
    )
