"""The task queue, behind one small module so that the engine could change.

The database is the truth; a job only wakes a worker. Deferring uses Django's connection,
so a job deferred inside `transaction.atomic()` exists if and only if that transaction
commits.
"""

from __future__ import annotations

import uuid

from django.db import transaction
from procrastinate.exceptions import AlreadyEnqueued


def enqueue_execution(*, request_id: uuid.UUID | str, delay_seconds: float = 0) -> None:
    """Wake a worker to carry out (or continue) a request. Harmless when one is queued."""
    from erasure.tasks import execute_request

    options: dict = {"queueing_lock": f"execute-{request_id}"}
    if delay_seconds > 0:
        options["schedule_in"] = {"seconds": delay_seconds}
    try:
        # A savepoint: the queueing lock is a unique index, and its violation would
        # otherwise abort the caller's transaction.
        with transaction.atomic():
            execute_request.configure(**options).defer(request_id=str(request_id))
    except AlreadyEnqueued:
        pass
