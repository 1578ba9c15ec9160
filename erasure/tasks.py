"""Procrastinate tasks. Each takes ids, loads state, calls one service; safe to run twice.

Names are stable (jobs in the queue refer to them); erasure.queue defers by name.
"""

from __future__ import annotations

from procrastinate import JobContext, RetryStrategy
from procrastinate.contrib.django import app

from erasure import queue
from erasure.liveness import job_alive
from erasure.services import (
    audit_log,
    execution,
    idempotency,
    rechecks,
    replays,
    scans,
    sweeper,
    witnesses,
)
from erasure.services.witnesses import WitnessError


@app.task(name=queue.EXECUTE_TASK, queue=queue.QUEUE, pass_context=True)
def execute_request(context: JobContext, request_id: str) -> None:
    # The job's lock says "a live worker runs me": the sweeper re-queues the job at once
    # when the worker dies (erasure.liveness).
    with job_alive(context.job.id if context.job else None):
        execution.request_execute(request_id=request_id)


# Every 10 seconds (croniter's sixth field): a dead worker's job is re-queued within that.
@app.periodic(cron="* * * * * */10", periodic_id="sweep")
@app.task(name="erasure.sweep", queue=queue.QUEUE, queueing_lock="sweep")
def sweep(timestamp: int) -> None:
    sweeper.sweep()


@app.periodic(cron="17 * * * *", periodic_id="prune-idempotency-records")
@app.task(
    name="erasure.prune_idempotency_records",
    queue=queue.QUEUE,
    queueing_lock="prune-idempotency-records",
)
def prune_idempotency_records(timestamp: int) -> None:
    idempotency.idempotency_records_prune()


@app.task(name=queue.SCAN_TASK, queue=queue.QUEUE)
def scan_namespace(scan_id: int) -> None:
    scans.scan_carry_on(scan_id=scan_id)


@app.periodic(cron="*/10 * * * *", periodic_id="scan-due-namespaces")
@app.task(name="erasure.scan_due_namespaces", queue=queue.QUEUE, queueing_lock="scan-due")
def scan_due_namespaces(timestamp: int) -> None:
    scans.scans_due()


@app.periodic(cron="23 * * * *", periodic_id="recheck-due-requests")
@app.task(name="erasure.recheck_due_requests", queue=queue.QUEUE, queueing_lock="recheck-due")
def recheck_due_requests(timestamp: int) -> None:
    rechecks.rechecks_run_due()


@app.task(name=queue.REPLAY_TASK, queue=queue.QUEUE)
def replay(replay_id: int) -> None:
    replays.replay_carry_on(replay_id=replay_id)


@app.task(name=queue.SEQUENCE_AUDIT_TASK, queue=queue.QUEUE)
def sequence_audit_log() -> None:
    audit_log.sequence_pending()


# Also every minute: an event whose wake-up was lost (a worker died, the queue was
# unreachable just after its commit) waits at most that long.
@app.periodic(cron="* * * * *", periodic_id="sequence-audit-log")
@app.task(
    name="erasure.sequence_audit_log_periodically",
    queue=queue.QUEUE,
    queueing_lock="sequence-audit-log-periodically",
)
def sequence_audit_log_periodically(timestamp: int) -> None:
    audit_log.sequence_pending()


@app.task(
    name=queue.PUBLISH_CHECKPOINT_TASK,
    queue=queue.QUEUE,
    # Waits of 2**(n+1) s between tries: about a day and a half in all.
    retry=RetryStrategy(max_attempts=16, exponential_wait=2, retry_exceptions=[WitnessError]),
)
def publish_checkpoint(checkpoint_id: int, target: str) -> None:
    witnesses.checkpoint_publish(checkpoint_id=checkpoint_id, target=target)
