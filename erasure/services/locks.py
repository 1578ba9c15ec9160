"""Row locks that serialise the changes of one erasure request."""

from __future__ import annotations

import uuid

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
