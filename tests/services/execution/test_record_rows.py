"""The record finds a batch's rows where the claim left them (their ctid), and by primary
key when they have moved since; a place taken meanwhile by another item of the batch is
never written with the first item's outcome. It removes the mappings of the items it
records erased, and only theirs."""

from __future__ import annotations

import pytest
from django.db import connection

from erasure.clients import ApiClients
from erasure.models import ErasureItem, ItemMapping, Namespace
from erasure.services.execution.base import Batch, ExecutionSummary
from erasure.services.execution.claims import claim, new_owner
from erasure.services.execution.outcomes import record_outcomes, text_array
from erasure.services.execution.start import start_request
from namespace_api.client import BatchResult
from namespace_api.client.types import CallRecord, IdResult, Outcome
from tests.services.execution.helpers import SUBJECT, prepare

pytestmark = pytest.mark.django_db


def _claimed(emulator, items: int) -> tuple[Batch, str]:
    request = prepare(emulator, texts=items, vectors=0, others=0)
    start_request(request.pk)
    namespace = Namespace.objects.get(name="notes")
    owner = new_owner()
    with ApiClients() as clients:
        batch = claim(request.pk, namespace, owner, clients.for_namespace(namespace))
    assert batch is not None and len(batch.items) == items
    return batch, owner


def _answer(outcomes: dict[str, Outcome]) -> BatchResult:
    call = CallRecord(
        endpoint="documents/delete", ids_sent=len(outcomes), http_status=200, latency_ms=1
    )
    return BatchResult(
        calls=[call],
        results={
            i: IdResult(outcome=o, call_index=0, http_status=200) for i, o in outcomes.items()
        },
    )


def _outcomes(batch: Batch) -> dict[str, str]:
    return dict(
        ErasureItem.objects.filter(pk__in=[i.pk for i in batch.items]).values_list(
            "item_id", "outcome"
        )
    )


def test_rows_moved_since_the_claim_are_recorded_by_primary_key(emulator):
    batch, owner = _claimed(emulator, 6)
    moved = [item.pk for item in batch.items[:3]]
    with connection.cursor() as cursor:
        # What a pre-check does to the items it saw: their rows get new versions elsewhere.
        cursor.execute(
            "UPDATE erasure_erasureitem SET seen_present = true WHERE id = ANY(%s)", [moved]
        )
    summary = ExecutionSummary()
    answer = _answer({item.item_id: Outcome.DELETED for item in batch.items})
    record_outcomes(batch, answer, owner, summary)
    assert set(_outcomes(batch).values()) == {"deleted"}
    assert not ErasureItem.objects.filter(pk__in=moved, seen_present=False).exists()
    # Recorded in two statements, the whole batch: its mappings are gone.
    assert _mapped(batch) == set()


def test_a_place_taken_by_another_item_of_the_batch_keeps_each_item_its_own_outcome(emulator):
    batch, owner = _claimed(emulator, 2)
    first, second = batch.items
    # The claim's place of `first` now holds `second`, and the other way round: what a row
    # that moved, then another that took the freed place, would leave.
    swapped = Batch(
        request=batch.request,
        namespace=batch.namespace,
        items=[first._replace(row=second.row), second._replace(row=first.row)],
    )
    answer = _answer({first.item_id: Outcome.DELETED, second.item_id: Outcome.NOT_FOUND})
    record_outcomes(swapped, answer, owner, ExecutionSummary())
    assert _outcomes(batch) == {first.item_id: "deleted", second.item_id: "not_found"}


def _mapped(batch: Batch) -> set[str]:
    return set(
        ItemMapping.objects.filter(
            namespace=batch.namespace, item_id__in=[i.item_id for i in batch.items]
        ).values_list("item_id", flat=True)
    )


def test_only_the_mappings_of_the_recorded_items_go_not_others_in_their_range(emulator):
    batch, owner = _claimed(emulator, 6)
    ordered = sorted(batch.items, key=lambda item: item.item_id)
    # An item between the batch's first and last that this record does not cover.
    skipped = ordered[2]
    part = Batch(
        request=batch.request,
        namespace=batch.namespace,
        items=[item for item in batch.items if item != skipped],
    )
    answer = _answer({item.item_id: Outcome.DELETED for item in part.items})
    record_outcomes(part, answer, owner, ExecutionSummary())
    assert _mapped(batch) == {skipped.item_id}
    assert _outcomes(batch)[skipped.item_id] == "pending"


def test_items_taken_over_by_another_worker_keep_the_group_s_mappings_for_the_completion(
    emulator,
):
    batch, owner = _claimed(emulator, 6)
    taken = [item.pk for item in batch.items[:2]]
    ErasureItem.objects.filter(pk__in=taken).update(lease_owner=new_owner())
    answer = _answer({item.item_id: Outcome.DELETED for item in batch.items})
    record_outcomes(batch, answer, owner, ExecutionSummary())
    outcomes = _outcomes(batch)
    assert sorted(outcomes.values()) == ["deleted"] * 4 + ["pending"] * 2
    # Not one mapping of the group goes before the other worker has recorded its items:
    # the completion removes those of the erased ones.
    assert _mapped(batch) == {item.item_id for item in batch.items}


AWKWARD = ["a,b", 'c"d', "e\\f", "{g}", "h i", " ", "NULL", "o'q", "ü", 'x\\"y']


def test_the_text_array_of_a_batch_s_ids_reads_back_as_they_are():
    with connection.cursor() as cursor:
        cursor.execute("SELECT %s::text[]", [text_array(AWKWARD)])
        assert cursor.fetchone()[0] == AWKWARD


def test_the_mappings_of_awkward_ids_go_with_their_items(emulator):
    from erasure.actors import Actor
    from erasure.services.mappings import MappingInput, mappings_register

    request = prepare(emulator, texts=0, vectors=0, others=0)
    mappings_register(
        items=[MappingInput(SUBJECT, "notes", i) for i in AWKWARD], actor=Actor.system("t")
    )
    start_request(request.pk)
    namespace = Namespace.objects.get(name="notes")
    owner = new_owner()
    with ApiClients() as clients:
        batch = claim(request.pk, namespace, owner, clients.for_namespace(namespace))
    assert sorted(i.item_id for i in batch.items) == sorted(AWKWARD)
    answer = _answer({item.item_id: Outcome.DELETED for item in batch.items})
    record_outcomes(batch, answer, owner, ExecutionSummary())
    assert set(_outcomes(batch).values()) == {"deleted"}
    assert _mapped(batch) == set()
