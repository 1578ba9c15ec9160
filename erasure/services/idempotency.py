"""The stored answers of `Idempotency-Key` calls (erasure.api.idempotency stores them)."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from erasure.models import IdempotencyRecord

# Keys are remembered at least this long (README, "Idempotency").
RETENTION = timedelta(hours=24)


def idempotency_records_prune(*, older_than: timedelta = RETENTION) -> int:
    """Forget the answers stored more than `older_than` ago; returns how many.

    A key sent again after this runs the call again; POST /requests still finds its request
    by the key kept on the request.
    """
    deleted, _ = IdempotencyRecord.objects.filter(
        created_at__lt=timezone.now() - older_than
    ).delete()
    return deleted
