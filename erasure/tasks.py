"""Procrastinate tasks. Each takes ids, loads state, calls one service; safe to run twice.

Names are stable (jobs in the queue refer to them); erasure.queue defers by name.
"""

from __future__ import annotations

from procrastinate.contrib.django import app

from erasure import queue
from erasure.services import execution, idempotency, sweeper


@app.task(name=queue.EXECUTE_TASK, queue=queue.QUEUE)
def execute_request(request_id: str) -> None:
    execution.request_execute(request_id=request_id)


@app.periodic(cron="* * * * *", periodic_id="sweep")
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
