"""Re-checks after the vendor's retention window, and replays after a backup restore,
against the emulator: what the service reports is compared with the emulator's truth, and
the original requests' evidence is compared before and after."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from erasure.actors import Actor
from erasure.clients import make_client
from erasure.errors import InvalidInput
from erasure.models import (
    AuditEvent,
    AuditEventType,
    Dispatch,
    ErasureItem,
    ErasureRequest,
    Namespace,
    Recheck,
    ReplayItem,
    RequestSource,
)
from erasure.services import replays
from erasure.services.execution import request_execute
from erasure.services.rechecks import rechecks_run_due
from erasure.services.replays import replay_create, replay_plan, replay_run
from tests.services.execution.helpers import prepare

pytestmark = pytest.mark.django_db(transaction=True)
OPERATOR = Actor.system("test-operator")


def erased(emulator, *, texts: int = 4, vectors: int = 3) -> ErasureRequest:
    request = prepare(emulator, texts=texts, vectors=vectors)
    assert request_execute(request_id=request.pk).finished
    request.refresh_from_db()
    assert request.status == "completed"
    return request


def evidence(request: ErasureRequest) -> list[tuple]:
    """The original request's items and outcomes, and its dispatches."""
    items = ErasureItem.objects.filter(request=request).order_by("namespace_id", "item_id")
    return [
        *items.values_list("namespace_id", "item_id", "outcome", "decided_by_id", "decided_at"),
        *Dispatch.objects.filter(request=request).order_by("pk").values_list("pk", "http_status"),
    ]


def test_a_completed_request_schedules_a_recheck_per_namespace(emulator, settings):
    settings.ERASURE_RECHECK_DAYS = 30
    Namespace.objects.create(name="vecs", kind="vector", attribution_mode="fast")
    Namespace.objects.filter(name="vecs").update(recheck_after_days=90)
    request = erased(emulator)
    rechecks = {r.namespace.name: r for r in Recheck.objects.filter(request=request)}
    assert set(rechecks) == {"notes", "vecs"}
    assert rechecks["notes"].due_at - request.completed_at == pytest.approx(
        timedelta(days=30), abs=timedelta(seconds=5)
    )
    assert rechecks["vecs"].due_at - request.completed_at == pytest.approx(
        timedelta(days=90), abs=timedelta(seconds=5)
    )
    # Not due yet: nothing runs, nothing is asked of the API.
    emulator.control("calls/clear", {})
    assert rechecks_run_due() == 0 and emulator.calls() == []


def test_no_recheck_when_the_interval_is_zero(emulator, settings):
    settings.ERASURE_RECHECK_DAYS = 0
    erased(emulator)
    assert not Recheck.objects.exists()


def test_a_recheck_finds_a_reuploaded_item_and_a_follow_up_erases_it(emulator):
    request = erased(emulator)
    before = evidence(request)
    with make_client() as client:
        client.upload_documents(namespace="notes", documents=[{"id": "t1", "text": "back"}])
        client.upload_vectors(namespace="vecs", vectors=[{"id": "v2", "vector": [0.1, 0.2]}])
    assert "t1" in emulator.ids("notes") and "v2" in emulator.ids("vecs")

    assert rechecks_run_due(now=timezone.now() + timedelta(days=31)) == 2

    notes = Recheck.objects.get(request=request, namespace__name="notes")
    vecs = Recheck.objects.get(request=request, namespace__name="vecs")
    assert (notes.method, notes.checked, notes.reappeared) == ("documents/get", 4, 1)
    # Vector namespaces cannot be read: the re-delete's count says something came back,
    # and it is gone already.
    assert (vecs.method, vecs.checked) == ("re-delete", 3) and vecs.reappeared >= 1
    assert "v2" not in emulator.ids("vecs")
    follow_up = notes.follow_up
    assert follow_up is not None and vecs.follow_up == follow_up  # one open request
    assert follow_up.source == RequestSource.SYSTEM and str(request.pk) in follow_up.reason
    events = AuditEvent.objects.filter(request=request, event_type=AuditEventType.REQUEST_RECHECKED)
    assert sorted((e.details["namespace"], e.details["reappeared"]) for e in events) == [
        ("notes", 1),
        ("vecs", vecs.reappeared),
    ]

    assert request_execute(request_id=follow_up.pk).finished
    assert "t1" not in emulator.ids("notes")
    assert set(follow_up.items.values_list("item_id", flat=True)) >= {"t1", "v2"}
    assert evidence(request) == before  # the original's evidence is untouched
    # Done once: a later pass checks the follow-up's items, never the original's again.
    rechecks_run_due(now=timezone.now() + timedelta(days=32))
    assert events.count() == 2
    assert Recheck.objects.filter(request=follow_up, checked_at__isnull=False).count() == 2


def test_a_recheck_that_finds_nothing_files_nothing(emulator):
    request = erased(emulator)
    assert rechecks_run_due(now=timezone.now() + timedelta(days=31)) == 2
    assert [r.reappeared for r in Recheck.objects.filter(request=request)] == [0, 0]
    assert ErasureRequest.objects.count() == 1


def test_a_restored_snapshot_is_replayed(emulator):
    since = timezone.now()
    request = prepare(emulator, texts=5, vectors=3)
    emulator.control("snapshots", {"name": "nightly"})  # the vendor's backup
    assert request_execute(request_id=request.pk).finished
    before = evidence(request)
    emulator.control("snapshots/restore", {"name": "nightly"})  # ... restored
    assert {f"t{n}" for n in range(5)} <= emulator.ids("notes")

    assert replay_plan(since=since) == {"notes": 5, "vecs": 3}
    replay = replay_create(since=since, actor=OPERATOR, run_in_worker=False)
    with make_client() as client:
        replay = replay_run(replay, client=client)

    assert replay.state == "completed" and replay.items == 8
    # Text namespaces (exact): each came back; vectors (fast): all deleted by the counts.
    assert (replay.came_back, replay.absent, replay.unknown, replay.failed) == (8, 0, 0, 0)
    assert emulator.ids("notes") == {f"other-t{n}" for n in range(5)}
    assert emulator.ids("vecs") == {f"other-v{n}" for n in range(5)}
    assert evidence(request) == before
    assert Dispatch.objects.filter(replay=replay).exists()
    completed = AuditEvent.objects.get(event_type=AuditEventType.REPLAY_COMPLETED)
    assert completed.details["came_back"] == 8 and completed.request is None

    # Replayed again with nothing restored: nothing came back.
    again = replay_create(since=since, namespaces=["notes"], actor=OPERATOR, run_in_worker=False)
    with make_client() as client:
        again = replay_run(again, client=client)
    assert (again.items, again.came_back, again.absent) == (5, 0, 5)


def test_a_batch_sent_by_a_runner_that_died_is_never_reported_absent(emulator):
    since = timezone.now()
    erased(emulator, texts=3, vectors=0)
    replay = replay_create(since=since, namespaces=["notes"], actor=OPERATOR, run_in_worker=False)
    notes = Namespace.objects.get(name="notes")
    # A runner marked the batch sent, and died before recording any answer.
    replays._take(replay, notes, after="", size=1000)
    with make_client() as client:
        replay = replay_run(replay, client=client)
    outcomes = set(ReplayItem.objects.filter(replay=replay).values_list("outcome", flat=True))
    assert outcomes == {"deleted_or_not_found"}


@pytest.mark.parametrize(
    ("since_delta", "namespaces", "problem"),
    [(timedelta(days=1), [], "future"), (timedelta(0), ["nope"], "unknown namespace")],
)
def test_a_bad_replay_is_refused_and_writes_nothing(emulator, since_delta, namespaces, problem):
    erased(emulator, texts=1, vectors=0)
    events = AuditEvent.objects.count()
    with pytest.raises(InvalidInput, match=problem):
        replay_create(since=timezone.now() + since_delta, namespaces=namespaces, actor=OPERATOR)
    assert AuditEvent.objects.count() == events and not ReplayItem.objects.exists()
