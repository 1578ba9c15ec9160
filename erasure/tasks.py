"""Procrastinate tasks. Each takes ids, loads state, calls one service; safe to run twice."""

from __future__ import annotations

from procrastinate.contrib.django import app

from erasure.api.idempotency import idempotency_records_prune
from erasure.services import execution, sweeper


@app.task(name="erasure.execute_request", queue="erasure")
def execute_request(request_id: str) -> None:
    execution.request_execute(request_id=request_id)


@app.periodic(cron="* * * * *", periodic_id="sweep")
@app.task(name="erasure.sweep", queue="erasure", queueing_lock="sweep")
def sweep(timestamp: int) -> None:
    sweeper.sweep()
    idempotency_records_prune()
