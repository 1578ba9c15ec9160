"""Sending a claimed batch to the namespace API, outside any transaction."""

from __future__ import annotations

from django.db import connection

from erasure.models import Dispatch, ErasureRequest, Namespace, Replay
from erasure.services.execution.base import Batch
from erasure.throttle import api_note_status
from namespace_api.client import BatchResult, NamespaceApiClient
from namespace_api.client.types import CallRecord


def send_batch(
    client: NamespaceApiClient, batch: Batch, owner: str, *, mode: str | None = None
) -> BatchResult:
    """Erase the batch's items in `mode` (default: the namespace's)."""
    by_item_id = {item.item_id: item.pk for item in batch.items}

    def remember_present(present: set[str]) -> None:
        # Evidence that outlives a crash: these items existed before this erasure's delete.
        if present.issuperset(by_item_id):
            # The whole batch (a delete that deleted all it was sent): one row, not 1,000.
            with connection.cursor() as cursor:
                cursor.execute(
                    """
                    INSERT INTO erasure_leaseproof (owner, request_id, created_at)
                    VALUES (%s, %s, now()) ON CONFLICT (owner) DO NOTHING
                    """,
                    [owner, batch.request.pk],
                )
            return
        with connection.cursor() as cursor:
            cursor.execute(
                """
                UPDATE erasure_erasureitem SET seen_present = true
                WHERE id = ANY(string_to_array(%s, ',')::bigint[]) AND lease_owner = %s
                """,
                [",".join(str(by_item_id[i]) for i in present if i in by_item_id), owner],
            )

    return client.erase(
        namespace=batch.namespace.name,
        kind=batch.namespace.kind,
        ids=[item.item_id for item in batch.items],
        mode=mode or batch.namespace.attribution_mode,
        prior_ambiguous=[item.item_id for item in batch.items if item.maybe_applied],
        known_present=[item.item_id for item in batch.items if item.seen_present],
        on_present=remember_present,
    )


def dispatches_record(
    calls: list[CallRecord],
    *,
    namespace: Namespace,
    worker: str,
    request: ErasureRequest | None = None,
    replay: Replay | None = None,
) -> list[Dispatch]:
    """One dispatch row per call, for a request or a replay (in the caller's transaction);
    the API's last status is remembered for /readyz."""
    if calls:
        api_note_status(namespace.api, calls[-1].http_status)
    return Dispatch.objects.bulk_create(
        [
            Dispatch(
                request=request,
                replay=replay,
                namespace=namespace,
                endpoint=call.endpoint,
                ids_sent=call.ids_sent,
                http_status=call.http_status,
                requested_deletions=call.requested,
                actual_deletions=call.actual,
                unprocessed_count=call.unprocessed,
                error=call.error,
                latency_ms=call.latency_ms,
                worker=worker,
            )
            for call in calls
        ]
    )
