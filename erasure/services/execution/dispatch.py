"""Sending a claimed batch to the namespace API, outside any transaction."""

from __future__ import annotations

from django.db import connection

from erasure.services.execution.base import Batch
from namespace_api.client import BatchResult, NamespaceApiClient


def send_batch(client: NamespaceApiClient, batch: Batch, owner: str) -> BatchResult:
    by_item_id = {item.item_id: item.pk for item in batch.items}

    def remember_present(present: set[str]) -> None:
        # Evidence that outlives a crash: these items existed before this erasure's delete.
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
        mode=batch.namespace.attribution_mode,
        prior_ambiguous=[item.item_id for item in batch.items if item.maybe_applied],
        known_present=[item.item_id for item in batch.items if item.seen_present],
        on_present=remember_present,
    )
