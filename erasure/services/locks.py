"""Row locks that serialise the changes of one erasure request."""

from __future__ import annotations

import uuid

from django.db import connection

from erasure.models import ErasureRequest


def lock_request(request_id: uuid.UUID | str) -> ErasureRequest | None:
    """The request, locked FOR NO KEY UPDATE until the caller's transaction ends (see
    erasure.services.audit on why not FOR UPDATE)."""
    return (
        ErasureRequest.objects.select_for_update(no_key=True, of=("self",))
        .select_related("subject")
        .filter(pk=request_id)
        .first()
    )


def share_request(request_id: uuid.UUID | str) -> str | None:
    """The request's status, its row locked FOR SHARE until the caller's transaction ends:
    no state change (FOR NO KEY UPDATE) happens meanwhile, while claims, which take the
    same share lock, go on. None when there is no such request."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT status FROM erasure_erasurerequest WHERE id = %s FOR SHARE", [request_id]
        )
        row = cursor.fetchone()
    return row[0] if row else None
