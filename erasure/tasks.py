"""Procrastinate tasks. Each takes ids, loads state, calls one service; safe to run twice."""

from __future__ import annotations

from asgiref.sync import sync_to_async
from django.conf import settings
from procrastinate.contrib.django import app

from erasure.services import execution, sweeper


@app.task(name="erasure.execute_request", queue="erasure")
def execute_request(request_id: str) -> None:
    execution.request_execute(request_id=request_id)


@app.periodic(cron="* * * * *", periodic_id="sweep")
@app.task(name="erasure.sweep", queue="erasure", queueing_lock="sweep")
async def sweep(timestamp: int) -> None:
    # Procrastinate's documented recipe for jobs of dead workers: find the stalled ones
    # (no heartbeat for a while) and put them back in the queue.
    stalled = await app.job_manager.get_stalled_jobs(
        seconds_since_heartbeat=settings.ERASURE_STALLED_JOB_SECONDS
    )
    for job in stalled:
        await app.job_manager.retry_job(job)
    await sync_to_async(sweeper.requests_sweep, thread_sensitive=False)()
