"""Procrastinate tasks. Each takes ids, loads state, calls one service; safe to run twice."""

from __future__ import annotations

from django.db import close_old_connections
from procrastinate.contrib.django import app

from erasure.services import execution


@app.task(name="erasure.execute_request", queue="erasure")
def execute_request(request_id: str) -> None:
    # Sync tasks run in worker threads; each thread keeps its own Django connection, which
    # must not outlive a restart of the database.
    close_old_connections()
    try:
        execution.request_execute(request_id=request_id)
    finally:
        close_old_connections()
