"""The task queue, behind one small module so that the engine could change.

The database is the truth; a job only wakes a worker. Deferring uses Django's connection,
so a job deferred inside `transaction.atomic()` exists if and only if that transaction
commits.
"""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone
from procrastinate.contrib.django import app
from procrastinate.contrib.django.models import ProcrastinateJob
from procrastinate.exceptions import AlreadyEnqueued, UniqueViolation

from erasure.liveness import job_held
from erasure.prepared import prepared_cursor

# Jobs are deferred by task name: this module imports no task (erasure.tasks imports the
# services, which import this module).
EXECUTE_TASK = "erasure.execute_request"
QUEUE = "erasure"
SEQUENCE_AUDIT_TASK = "erasure.sequence_audit_log"
PUBLISH_CHECKPOINT_TASK = "erasure.publish_checkpoint"
SEQUENCE_LOCK = "sequence-audit-log"
SCAN_TASK = "erasure.scan_namespace"
REPLAY_TASK = "erasure.replay"
PROCESS_WEBHOOKS_TASK = "webhooks.process_deliveries"
PROCESS_WEBHOOKS_LOCK = "process-webhook-deliveries"


def enqueue_execution(
    *, request_id: uuid.UUID | str, delay_seconds: float = 0, slots: list[int] | None = None
) -> None:
    """Wake workers to carry out (or continue) a request. Harmless when jobs are queued.

    ERASURE_JOBS_PER_REQUEST jobs ("slots") work on one request side by side, each claiming
    its own batches; each slot has at most one queued job (Procrastinate's queueing lock).
    `slots` names some of them only. A wake-up only ever moves earlier: a slot whose job is
    queued for later than `delay_seconds` has it brought forward (one job may have planned
    for a lease's end while another, holding that lease, plans for a retry in 2 s).
    """
    taken = []
    for slot in range(settings.ERASURE_JOBS_PER_REQUEST) if slots is None else slots:
        options: dict = {"queueing_lock": f"execute-{request_id}-{slot}"}
        if delay_seconds > 0:
            options["schedule_in"] = {"seconds": delay_seconds}
        try:
            # A savepoint: the queueing lock is a unique index, and its violation would
            # otherwise abort the caller's transaction.
            with transaction.atomic():
                app.configure_task(EXECUTE_TASK, allow_unknown=False, queue=QUEUE, **options).defer(
                    request_id=str(request_id)
                )
        except AlreadyEnqueued:
            taken.append(options["queueing_lock"])
    if taken:
        # After the caller's commit: in a worker, a later defer of the same slot (on
        # Procrastinate's own connection) would otherwise wait on the row updated here.
        transaction.on_commit(lambda: _bring_forward(taken, delay_seconds))


def _bring_forward(locks: list[str], delay_seconds: float) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE procrastinate_jobs
            SET scheduled_at = now() + make_interval(secs => %s)
            WHERE task_name = %s AND status = 'todo' AND queueing_lock = ANY(%s)
              AND scheduled_at > now() + make_interval(secs => %s)
            """,
            [delay_seconds, EXECUTE_TASK, locks, delay_seconds],
        )


def wake_execution_now(*, request_id: uuid.UUID | str) -> None:
    """Wake a request's workers now: its jobs scheduled for later (a fallback wake-up
    while it waits, say) are brought forward, and the slots with no queued job get one.

    Only the empty slots are deferred: in a worker, Procrastinate defers on a connection
    of its own, whose insert of a job with the same queueing lock would wait on the rows
    this transaction has just updated, and this transaction on it.
    """
    locks = [f"execute-{request_id}-{slot}" for slot in range(settings.ERASURE_JOBS_PER_REQUEST)]
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE procrastinate_jobs SET scheduled_at = now()
            WHERE task_name = %s AND status = 'todo' AND queueing_lock = ANY(%s)
              AND scheduled_at > now()
            """,
            [EXECUTE_TASK, locks],
        )
        cursor.execute(
            """
            SELECT queueing_lock FROM procrastinate_jobs
            WHERE status = 'todo' AND queueing_lock = ANY(%s)
            """,
            [locks],
        )
        queued = {row[0] for row in cursor.fetchall()}
    enqueue_execution(
        request_id=request_id,
        slots=[slot for slot, lock in enumerate(locks) if lock not in queued],
    )


def enqueue_audit_sequencing() -> None:
    """Wake a worker to sequence the audit log. At most one such job waits in the queue
    (its queueing lock): a job that has not started yet will see every event committed
    before it starts, so a second one would find nothing to do."""
    _wake_once(SEQUENCE_AUDIT_TASK, SEQUENCE_LOCK)


def enqueue_webhook_processing() -> None:
    """Wake a worker to act on received webhook deliveries; at most one such job waits,
    as for the sequencer."""
    _wake_once(PROCESS_WEBHOOKS_TASK, PROCESS_WEBHOOKS_LOCK)


def _wake_once(task: str, lock: str) -> None:
    with prepared_cursor() as cursor:
        # Under load the job is nearly always queued already: one indexed read then spares
        # a refused insert (an ERROR line in PostgreSQL's log, and a dead row) per commit.
        # (Prepared: it runs after every audit event, twice a batch.)
        cursor.execute(
            "SELECT 1 FROM procrastinate_jobs WHERE queueing_lock = %s AND status = 'todo'",
            [lock],
        )
        if cursor.fetchone() is not None:
            return
    job = app.configure_task(task, allow_unknown=False, queue=QUEUE, queueing_lock=lock)
    try:
        if connection.in_atomic_block:
            with transaction.atomic():
                job.defer()
        else:
            job.defer()
    except AlreadyEnqueued:
        pass


def enqueue_scan(*, scan_id: int) -> None:
    """Wake a worker to carry a namespace scan on, in the caller's transaction; at most one
    job per scan waits (a scan is carried on from its cursor by whichever job runs)."""
    try:
        with transaction.atomic():
            app.configure_task(
                SCAN_TASK, allow_unknown=False, queue=QUEUE, queueing_lock=f"scan-{scan_id}"
            ).defer(scan_id=scan_id)
    except AlreadyEnqueued:
        pass


def enqueue_replay(*, replay_id: int) -> None:
    """Wake a worker to run a replay on, in the caller's transaction (one job waits)."""
    try:
        with transaction.atomic():
            app.configure_task(
                REPLAY_TASK, allow_unknown=False, queue=QUEUE, queueing_lock=f"replay-{replay_id}"
            ).defer(replay_id=replay_id)
    except AlreadyEnqueued:
        pass


def enqueue_checkpoint_publication(*, checkpoint_id: int, target: str) -> None:
    """Push a checkpoint to one witness target, in the caller's transaction."""
    app.configure_task(PUBLISH_CHECKPOINT_TASK, allow_unknown=False, queue=QUEUE).defer(
        checkpoint_id=checkpoint_id, target=target
    )


def has_live_execution_job(request_id: uuid.UUID | str) -> bool:
    """Whether a job for the request is queued or running (stalled ones included)."""
    return ProcrastinateJob.objects.filter(
        task_name=EXECUTE_TASK,
        status__in=["todo", "doing"],
        args__request_id=str(request_id),
    ).exists()


def execution_jobs_without_worker(*, settle_seconds: float = 0.5) -> set[int]:
    """Running execution jobs whose worker is gone: their lock (held by the job's
    connection while it runs, erasure.liveness) is free. Asked twice,
    `settle_seconds` apart, so that a job between its status change and its lock (starting,
    or finishing) is not taken for dead."""

    def free() -> set[int]:
        with connection.cursor() as cursor:
            cursor.execute(
                f"""
                SELECT j.id FROM procrastinate_jobs j
                WHERE j.status = 'doing' AND j.task_name = %s AND NOT {job_held("j")}
                """,  # noqa: S608 (a constant of liveness)
                [EXECUTE_TASK],
            )
            return {row[0] for row in cursor.fetchall()}

    first = free()
    if not first:
        return first
    time.sleep(settle_seconds)
    return first & free()


def requeue_stalled_jobs(*, seconds_since_heartbeat: float) -> int:
    """Put back in the queue the running jobs of dead workers: a stale heartbeat, or (for
    execution jobs, at once) a lock their worker no longer holds.

    Procrastinate leaves a dead worker's job in "doing" and documents this recipe (find the
    stalled jobs, retry them) for a periodic task of ours. The same test as its
    `select_stalled_jobs_by_heartbeat` query: no worker, or a heartbeat older than the limit.
    """
    limit = timezone.now() - timedelta(seconds=seconds_since_heartbeat)
    stalled = set(
        ProcrastinateJob.objects.filter(status="doing")
        .filter(Q(worker__isnull=True) | Q(worker__last_heartbeat__lt=limit))
        .values_list("id", flat=True)
    )
    stalled |= execution_jobs_without_worker()
    count = 0
    for job_id in sorted(stalled):
        try:
            with transaction.atomic():
                app.job_manager.retry_job_by_id(job_id=job_id, retry_at=timezone.now())
        except (IntegrityError, UniqueViolation):
            # A job of the same slot is queued already (its queueing lock is taken): it
            # does the work; the dead worker's job is closed instead of retried.
            ProcrastinateJob.objects.filter(id=job_id, status="doing").update(status="failed")
            continue
        count += 1
    return count
