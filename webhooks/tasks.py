"""Procrastinate tasks of the webhooks. Safe to run twice: the service claims each due
deferral with SKIP LOCKED and settles it in the transaction that files its request."""

from __future__ import annotations

from procrastinate.contrib.django import app

from webhooks import services


@app.periodic(cron="* * * * *", periodic_id="webhooks-file-due")
@app.task(name="webhooks.file_due", queue="erasure", queueing_lock="webhooks-file-due")
def file_due(timestamp: int) -> None:
    services.deferred_file_due()
