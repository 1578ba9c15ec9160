"""Refused transitions, operator retry of failed items only, and mappings swept in while a
request runs."""

from __future__ import annotations

import pytest
from django.db import connection

from erasure.actors import Actor
from erasure.clients import make_client
from erasure.errors import InvalidTransition
from erasure.models import (
    AuditEvent,
    AuditEventType,
    Dispatch,
    ErasureItem,
    ErasureRequest,
    ItemMapping,
)
from erasure.services.execution import request_execute
from erasure.services.execution.start import start_request
from erasure.services.mappings import MappingInput, mappings_register
from erasure.services.requests import request_approve, request_cancel, request_retry
from tests.services.execution.helpers import SUBJECT, prepare

pytestmark = pytest.mark.django_db(transaction=True)
OPERATOR = Actor.system("operator")


@pytest.mark.parametrize(
    ("status", "action", "message"),
    [
        ("completed", request_approve, "only a request awaiting approval can be approved"),
        ("running", request_retry, "only a request that ended with failures"),
        ("awaiting_approval", request_retry, "only a request that ended with failures"),
        ("running", request_cancel, "a running request cannot be cancelled"),
        ("completed", request_cancel, "a completed request cannot be cancelled"),
        ("cancelled", request_approve, "this one is cancelled"),
    ],
)
def test_bad_transitions_are_refused_with_a_clear_error(emulator, status, action, message):
    request = prepare(emulator, texts=1, vectors=0)
    ErasureRequest.objects.filter(pk=request.pk).update(status=status)
    before = (ErasureRequest.objects.get(pk=request.pk).status, Dispatch.objects.count())
    with pytest.raises(InvalidTransition, match=message):
        action(request=request, actor=OPERATOR)
    assert (ErasureRequest.objects.get(pk=request.pk).status, Dispatch.objects.count()) == before


def test_retry_sends_the_failed_items_again_and_nothing_else(emulator, settings):
    settings.ERASURE_MAX_ATTEMPTS = 1
    request = prepare(emulator, texts=0, vectors=20)
    # Every delete of the first run is answered 500: the items end failed (budget 1).
    emulator.control("faults/next", {"namespace": "vecs", "fault": "server_error", "count": 4})
    # A second namespace's items succeed on the first run.
    emulator.seed(
        [
            {
                "name": "more",
                "type": "vector",
                "vector_dimension": 2,
                "items": [{"id": "m1", "vector": [0, 1]}],
            }
        ]
    )
    mappings_register(items=[MappingInput(SUBJECT, "more", "m1")], actor=OPERATOR)
    request_execute(request_id=request.pk)
    request.refresh_from_db()
    assert request.status == "completed_with_failures"
    items = ErasureItem.objects.filter(request=request)
    assert items.filter(outcome="failed").count() == 20
    assert items.get(item_id="m1").outcome == "deleted"
    # Failed items keep their mappings (to be retried); the erased one's mapping is gone.
    assert ItemMapping.objects.filter(item_id="m1").count() == 0
    assert ItemMapping.objects.filter(item_id__startswith="v").count() == 20

    emulator.control("calls/clear", {})
    retried = request_retry(request=request, actor=OPERATOR)
    assert retried.status == "approved"
    request_execute(request_id=request.pk)
    request.refresh_from_db()
    assert request.status == "completed"
    # Only the 20 failed vectors were sent again; m1 was not.
    deletes = [c for c in emulator.calls() if c["path"].endswith("/delete")]
    assert [c["path"] for c in deletes] == ["/v1/namespaces/vecs/vectors/delete"]
    assert deletes[0]["ids_count"] == 20
    # The 500 may have been applied: absent now is all the counts can say... but these
    # were never deleted (500 without applying), so the resend's counts prove "deleted".
    assert set(items.filter(namespace__name="vecs").values_list("outcome", flat=True)) == {
        "deleted"
    }
    assert items.get(item_id="m1").outcome == "deleted"


def test_mappings_registered_while_the_request_runs_are_swept_in(emulator):
    request = prepare(emulator, texts=2, vectors=0)
    emulator.seed(
        [
            {
                "name": "notes",
                "type": "text",
                "items": [
                    {"id": "late-0", "text": "uploaded before the job started"},
                    {"id": "late-1", "text": "uploaded while erasing"},
                ],
            }
        ]
    )
    # Registered while the request is approved: its job expands it when it starts.
    result = mappings_register(items=[MappingInput(SUBJECT, "notes", "late-0")], actor=OPERATOR)
    assert result.added_to_open_requests == 0
    assert not ErasureItem.objects.filter(request=request).exists()
    # Registered through the service while the request runs: added at once.
    assert start_request(request.pk) == []  # started: both names are in one namespace
    assert ErasureItem.objects.filter(request=request).count() == 3
    result = mappings_register(items=[MappingInput(SUBJECT, "notes", "late-1")], actor=OPERATOR)
    assert result.added_to_open_requests == 1
    # Written behind the service's back (another process, a bulk import): swept in before
    # the request may complete.
    emulator.seed(
        [
            {
                "name": "notes",
                "type": "text",
                "items": [{"id": "late-2", "text": "uploaded while erasing"}],
            }
        ]
    )
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO erasure_itemmapping (subject_id, namespace_id, item_id, registered_at,
                                             registered_by)
            SELECT m.subject_id, m.namespace_id, 'late-2', now(), 'bulk'
            FROM erasure_itemmapping m WHERE m.item_id = 'late-1'
            """
        )
    request_execute(request_id=request.pk)
    request.refresh_from_db()
    assert request.status == "completed"
    outcomes = dict(ErasureItem.objects.filter(request=request).values_list("item_id", "outcome"))
    assert outcomes == {
        "t0": "deleted",
        "t1": "deleted",
        "late-0": "deleted",
        "late-1": "deleted",
        "late-2": "deleted",
    }
    assert "late-2" not in emulator.ids("notes")


def test_retry_through_the_api(emulator, api_key_factory, settings):
    settings.ERASURE_MAX_ATTEMPTS = 1
    request = prepare(emulator, texts=0, vectors=3)
    emulator.control("faults/next", {"namespace": "vecs", "fault": "server_error", "count": 4})
    request_execute(request_id=request.pk)
    client = api_key_factory("ops", "requests:write")
    response = client.post(f"/api/v1/requests/{request.pk}/retry")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "approved"
    assert response.json()["counts"]["pending"] == 3
    again = client.post(f"/api/v1/requests/{request.pk}/retry")
    assert again.status_code == 409


def test_a_dispatch_removes_its_erased_items_mappings_before_the_request_completes(
    emulator, settings
):
    # The vectors' first delete is answered 500 and backs off for a minute: the request is
    # still running when the text items' dispatch has been recorded.
    settings.ERASURE_RETRY_BASE_SECONDS = 60
    request = prepare(emulator, texts=12, vectors=8)
    emulator.control("faults/next", {"namespace": "vecs", "fault": "server_error", "count": 4})
    summary = request_execute(request_id=request.pk)
    request.refresh_from_db()
    assert not summary.finished
    assert request.status == "running"
    assert not ItemMapping.objects.filter(namespace__name="notes", item_id__startswith="t").exists()
    assert ItemMapping.objects.filter(namespace__name="vecs", item_id__startswith="v").count() == 8
    assert ItemMapping.objects.filter(item_id__startswith="other-").count() == 5
    removed = [
        event.details["mappings_removed"]
        for event in AuditEvent.objects.filter(
            request=request, event_type=AuditEventType.DISPATCH_RECORDED
        )
    ]
    assert sorted(removed) == [0, 12]


def _claims_of_three(monkeypatch):
    """Claims of three items (single mode's batch size), in a namespace whose start took
    its first two: what the claims expand shows a batch at a time."""
    from erasure.models import Namespace
    from erasure.services.execution import claims, start

    monkeypatch.setattr(start, "START_ITEMS_PER_NAMESPACE", 2)
    monkeypatch.setattr(claims, "SINGLE_MODE_BATCH", 3)
    Namespace.objects.update(attribution_mode="single")


def _started_with_two_owners(emulator, monkeypatch):
    """A started request of 8 text items claimed 3 at a time, its `notes` namespace and
    two lease owners (one to die, one to live)."""
    from erasure.models import Namespace
    from erasure.services.execution.claims import new_owner

    request = prepare(emulator, texts=8, vectors=0)
    _claims_of_three(monkeypatch)
    start_request(request.pk)
    return request, Namespace.objects.get(name="notes"), new_owner(), new_owner()


@pytest.mark.parametrize("added_meanwhile", [False, True])
def test_the_rest_of_a_namespace_is_expanded_by_the_claims_a_batch_at_a_time_already_leased(
    emulator, monkeypatch, added_meanwhile
):
    from erasure.liveness import owner_alive
    from erasure.models import Namespace
    from erasure.services.execution.claims import claim, new_owner

    request = prepare(emulator, texts=10, vectors=0)
    _claims_of_three(monkeypatch)
    items = ErasureItem.objects.filter(request=request)
    # The start took the first 2 of `notes`, pending.
    assert start_request(request.pk) == [(items.get(item_id="t1").namespace_id, "t1")]
    assert sorted(items.values_list("item_id", flat=True)) == ["t0", "t1"]
    if added_meanwhile:
        # As a registration for the running request expands its mapping at once: an item
        # past the start's last one exists before the claims get there.
        first = items.first()
        first.pk, first.item_id = None, "t8"
        first.save()
    notes = Namespace.objects.get(name="notes")
    owner = new_owner()
    with owner_alive(owner), make_client() as client:
        pending = claim(request.pk, notes, owner, client)
        expanded = claim(request.pk, notes, owner, client, after=pending.items[-1].item_id)
    # Pending items first (the start's two, and t8 if it was added), then the next
    # mappings past the namespace's last item, inserted leased: one write each.
    assert [i.item_id for i in pending.items] == ["t0", "t1"] + (["t8"] if added_meanwhile else [])
    if added_meanwhile:
        # t2..t7 lie before the last item: the sweep before completion takes them.
        assert [i.item_id for i in expanded.items] == ["t9"]
    else:
        assert [i.item_id for i in expanded.items] == ["t2", "t3", "t4"]
    leased = items.filter(item_id__in=[i.item_id for i in expanded.items])
    assert set(leased.values_list("lease_owner", "attempts", "outcome")) == {(owner, 1, "pending")}
    events = AuditEvent.objects.filter(request=request, event_type="items.expanded")
    assert [e.details["added"] for e in events.order_by("id")] == [2, len(expanded.items)]
    # The request then runs to its end as usual (the leases above end with their owner),
    # every item erased once.
    request_execute(request_id=request.pk)
    assert sorted(items.values_list("item_id", flat=True)) == sorted(f"t{n}" for n in range(10))
    assert set(items.values_list("outcome", flat=True)) == {"deleted"}
    added = sum(e.details["added"] for e in events) + (1 if added_meanwhile else 0)
    assert added == 10


def test_a_dead_workers_batch_is_taken_over_before_more_is_expanded(emulator, monkeypatch):
    from erasure.liveness import owner_alive
    from erasure.services.execution.claims import claim

    request, notes, dead, live = _started_with_two_owners(emulator, monkeypatch)
    with make_client() as client:
        with owner_alive(dead):
            lost = claim(request.pk, notes, dead, client)
            lost = claim(request.pk, notes, dead, client, after=lost.items[-1].item_id)
        # `dead` holds t2..t4, expanded by its claim; its lock is gone, so its lease is.
        assert [i.item_id for i in lost.items] == ["t2", "t3", "t4"]
        with owner_alive(live):
            first = claim(request.pk, notes, live, client, after="t4")
            second = claim(request.pk, notes, live, client, after=first.items[-1].item_id)
            third = claim(request.pk, notes, live, client, after=second.items[-1].item_id)
    # t0, t1 (the start's, leased to `dead` and free again) and then t2..t4: pending
    # items first, whether the start or a claim expanded them. Then t5..t7.
    assert [i.item_id for i in first.items] == ["t0", "t1", "t2"]
    assert [i.item_id for i in second.items] == ["t3", "t4"]
    assert [i.item_id for i in third.items] == ["t5", "t6", "t7"]
    taken = ErasureItem.objects.filter(request=request, item_id__in=["t2", "t3", "t4"])
    # Tried twice, the first try possibly applied (no answer was recorded).
    assert set(taken.values_list("lease_owner", "attempts", "maybe_applied")) == {(live, 2, True)}
    assert ErasureItem.objects.get(request=request, item_id="t5").attempts == 1


def test_between_looks_behind_a_claim_expands_and_takes_what_is_behind_at_the_end(
    emulator, monkeypatch
):
    """A claim looks behind its cursor only every few seconds (the walk from the
    namespace's start reads every item recorded since the last vacuum); in between it
    expands, and once nothing is left to expand it takes what is behind anyway."""
    from erasure.liveness import owner_alive
    from erasure.services.execution.claims import claim

    request, notes, dead, live = _started_with_two_owners(emulator, monkeypatch)
    with make_client() as client:
        with owner_alive(dead):
            claim(request.pk, notes, dead, client)  # t0, t1 (the start's), now free again
        with owner_alive(live):
            batches = []
            after = "t1"
            while batch := claim(request.pk, notes, live, client, after=after, behind=False):
                batches.append([i.item_id for i in batch.items])
                after = batch.items[-1].item_id
    assert batches == [["t2", "t3", "t4"], ["t5", "t6", "t7"], ["t0", "t1"]]


def test_what_the_claims_have_not_expanded_yet_counts_pending_and_stays_in_the_request(
    emulator, monkeypatch
):
    """The request's counts (API, case file, certificate) include the mappings its claims
    have yet to reach; a registration meanwhile is the request's wherever it lies;
    removing mappings meanwhile does not take them out of it."""
    from erasure.selectors.requests import request_counts_by_namespace, request_outcome_counts
    from erasure.services.mappings import mappings_remove

    request = prepare(emulator, texts=8, vectors=3)
    _claims_of_three(monkeypatch)
    start_request(request.pk)  # the first 2 of each namespace
    request.refresh_from_db()
    assert ErasureItem.objects.filter(request=request).count() == 4
    counts = request_outcome_counts(request=request)
    assert (counts["pending"], counts["total"]) == (11, 11)
    by_namespace = {
        ns["name"]: ns["counts"]["pending"] for ns in request_counts_by_namespace(request=request)
    }
    assert by_namespace == {"notes": 8, "vecs": 3}
    items = ErasureItem.objects.filter(request=request)
    # Registered for the running request, behind its claims (t00 sorts before t1, the
    # last item of `notes`) and ahead of them: both are the request's, the first an item
    # at once, the second when the claims get there.
    late = [{"id": i, "text": "late"} for i in ("t00", "t9")]
    emulator.seed([{"name": "notes", "type": "text", "items": late}])
    registered = mappings_register(
        items=[MappingInput(SUBJECT, "notes", "t00"), MappingInput(SUBJECT, "notes", "t9")],
        actor=OPERATOR,
    )
    assert registered.added_to_open_requests == 2
    assert items.filter(item_id="t00").exists() and not items.filter(item_id="t9").exists()
    assert request_outcome_counts(request=request)["total"] == 13
    # The application removes two mappings the claims have not reached: the request
    # expands the rest of them first, and erases them with the others.
    removed = mappings_remove(
        items=[MappingInput(SUBJECT, "notes", "t6"), MappingInput(SUBJECT, "vecs", "v2")],
        actor=OPERATOR,
    )
    assert removed.removed == 2
    assert items.count() == 13
    assert request_outcome_counts(request=request)["total"] == 13
    request_execute(request_id=request.pk)
    assert set(items.values_list("outcome", flat=True)) == {"deleted"}
    assert not emulator.ids("notes") & ({f"t{n}" for n in range(10)} | {"t00"})
    request.refresh_from_db()
    # Completed: nothing counts pending any more, whatever is mapped later.
    mappings_register(items=[MappingInput(SUBJECT, "notes", "t99")], actor=OPERATOR)
    assert request_outcome_counts(request=request)["pending"] == 0


def test_a_held_request_expands_nothing_more(emulator, monkeypatch):
    from erasure.liveness import owner_alive
    from erasure.models import Namespace
    from erasure.services.execution.claims import claim, new_owner

    request = prepare(emulator, texts=8, vectors=0)
    _claims_of_three(monkeypatch)
    start_request(request.pk)
    ErasureRequest.objects.filter(pk=request.pk).update(status="on_hold")
    owner = new_owner()
    with owner_alive(owner), make_client() as client:
        assert claim(request.pk, Namespace.objects.get(name="notes"), owner, client) is None
    assert ErasureItem.objects.filter(request=request).count() == 2


def test_a_batch_proven_present_whose_answers_were_lost_keeps_its_proof_for_the_retry(
    emulator,
):
    """The pre-check saw the whole batch present (one LeaseProof row for it); its delete
    was applied but every answer was lost, so the items go back to pending. The retry
    finds them absent and still reports them `deleted`, as the proof says, not
    `deleted_or_not_found` (what the 50,000-item soak in `exact` caught)."""
    from erasure.liveness import owner_alive
    from erasure.models import LeaseProof, Namespace
    from erasure.services.execution.base import ExecutionSummary
    from erasure.services.execution.claims import claim, new_owner
    from erasure.services.execution.dispatch import send_batch
    from erasure.services.execution.outcomes import record_outcomes
    from namespace_api.client.types import BatchResult, IdResult, Outcome

    request = prepare(emulator, texts=3, vectors=0, text_mode="exact")
    start_request(request.pk)
    owner = new_owner()
    with owner_alive(owner), make_client() as client:
        batch = claim(request.pk, Namespace.objects.get(name="notes"), owner, client)
        sent = send_batch(client, batch, owner)
        assert LeaseProof.objects.filter(owner=owner).exists()
        # What the engine is left with when the delete was applied and every answer to
        # it, and to the check after it, was lost: a retryable failure, maybe applied.
        lost = BatchResult(
            calls=sent.calls,
            results={
                item.item_id: IdResult(Outcome.FAILED, len(sent.calls) - 1, 500, "lost", True, True)
                for item in batch.items
            },
        )
        record_outcomes(batch, lost, owner, ExecutionSummary(), mode="exact")
    items = ErasureItem.objects.filter(request=request)
    assert set(items.values_list("outcome", "seen_present", "maybe_applied")) == {
        ("pending", True, True)
    }
    assert not LeaseProof.objects.exists()
    assert not {i for i in emulator.ids("notes") if not i.startswith("other-")}
    items.update(not_before=None)  # the retry is due now
    request_execute(request_id=request.pk)
    assert set(items.values_list("outcome", flat=True)) == {"deleted"}
