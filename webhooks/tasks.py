"""Procrastinate tasks of the webhooks. Safe to run twice, or on several workers at once:
the service claims received deliveries and due deferrals with SKIP LOCKED and settles each
in the transaction that acts on it."""

from __future__ import annotations

from procrastinate.contrib.django import app

from erasure import queue
from webhooks import services


@app.task(name=queue.PROCESS_WEBHOOKS_TASK, queue=queue.QUEUE)
def process_deliveries() -> None:
    services.deliveries_process(gather_seconds=services.GATHER_SECONDS)


# Also every minute: a delivery whose wake-up was lost (a worker died, the queue was
# unreachable just after its commit) waits at most that long.
@app.periodic(cron="* * * * *", periodic_id="webhooks-process-deliveries")
@app.task(
    name="webhooks.process_deliveries_periodically",
    queue=queue.QUEUE,
    queueing_lock="webhooks-process-deliveries-periodically",
)
def process_deliveries_periodically(timestamp: int) -> None:
    services.deliveries_process(gather_seconds=services.GATHER_SECONDS)


@app.periodic(cron="* * * * *", periodic_id="webhooks-file-due")
@app.task(name="webhooks.file_due", queue=queue.QUEUE, queueing_lock="webhooks-file-due")
def file_due(timestamp: int) -> None:
    services.deferred_file_due()
