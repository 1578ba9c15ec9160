"""Legal holds block execution until released; deadlines are extended with a reason, within
the regulation's limit; each is an audit event."""

from __future__ import annotations

from datetime import timedelta

import pytest

from erasure.actors import Actor
from erasure.clients import make_client
from erasure.errors import InvalidInput, InvalidTransition
from erasure.lifecycle import can_cancel
from erasure.models import AuditEvent, AuditEventType, ErasureItem, ErasureRequest
from erasure.services.execution import request_execute
from erasure.services.execution.claims import (
    claim,
    give_back,
    namespaces_with_claimable_items,
    new_owner,
    still_running,
)
from erasure.services.execution.start import start_request
from erasure.services.requests import (
    request_cancel,
    request_extend_deadline,
    request_hold,
    request_release,
)
from tests.services.execution.helpers import prepare

pytestmark = pytest.mark.django_db(transaction=True)
LEGAL = Actor.system("legal")


def test_a_hold_blocks_execution_until_released(emulator):
    request = prepare(emulator, texts=3, vectors=2)
    held = request_hold(request=request, actor=LEGAL, reason="litigation hold, case 42")
    assert (held.status, held.held_from) == ("on_hold", "approved")
    request_execute(request_id=request.pk)
    assert not [c for c in emulator.calls() if c["path"].endswith("/delete")]
    assert ErasureRequest.objects.get(pk=request.pk).status == "on_hold"

    released = request_release(request=held, actor=LEGAL, reason="case closed")
    assert released.status == "approved" and released.hold_reason == ""
    request_execute(request_id=request.pk)
    assert ErasureRequest.objects.get(pk=request.pk).status == "completed"
    events = list(
        AuditEvent.objects.filter(request=request)
        .filter(event_type__in=[AuditEventType.REQUEST_HELD, AuditEventType.REQUEST_RELEASED])
        .order_by("id")
    )
    assert [e.details["reason"] for e in events] == ["litigation hold, case 42", "case closed"]
    assert events[0].actor == "system:legal"


def test_a_running_request_put_on_hold_stops_claiming_and_resumes_where_it_was(emulator):
    request = prepare(emulator, texts=4, vectors=0)
    assert start_request(request.pk) == []  # running, items expanded
    held = request_hold(request=request, actor=LEGAL, reason="regulator inquiry")
    assert held.held_from == "running"
    # Held while running: part may be erased already, so it can only be resumed.
    assert not can_cancel(held)
    with pytest.raises(InvalidTransition):
        request_cancel(request=held, actor=LEGAL)
    summary = request_execute(request_id=request.pk)
    assert summary.batches == 0
    assert set(ErasureItem.objects.filter(request=request).values_list("outcome", flat=True)) == {
        "pending"
    }
    started = ErasureRequest.objects.get(pk=request.pk).started_at
    request_release(request=held, actor=LEGAL, reason="inquiry closed")
    request_execute(request_id=request.pk)
    done = ErasureRequest.objects.get(pk=request.pk)
    assert done.status == "completed" and done.started_at == started


def test_holds_and_releases_refuse_bad_states_and_empty_reasons(emulator):
    request = prepare(emulator, texts=1, vectors=0)
    with pytest.raises(InvalidInput, match="a reason is required"):
        request_hold(request=request, actor=LEGAL, reason="  ")
    with pytest.raises(InvalidTransition, match="only a request on hold can be released"):
        request_release(request=request, actor=LEGAL, reason="x")
    request_execute(request_id=request.pk)
    with pytest.raises(InvalidTransition, match="has not ended"):
        request_hold(request=ErasureRequest.objects.get(pk=request.pk), actor=LEGAL, reason="x")


def test_a_deadline_is_extended_with_a_reason_within_the_regulations_limit(emulator):
    request = prepare(emulator, texts=1, vectors=0, approve=False)
    legal_deadline = request.due_at
    later = legal_deadline + timedelta(days=30)
    extended = request_extend_deadline(
        request=request, actor=LEGAL, due_at=later, reason="complex request (Art. 12(3))"
    )
    assert extended.due_at == later and extended.original_due_at == legal_deadline
    event = AuditEvent.objects.get(event_type=AuditEventType.REQUEST_DEADLINE_EXTENDED)
    assert event.details["reason"] == "complex request (Art. 12(3))"
    assert event.details["from"] == legal_deadline.isoformat()

    # GDPR: at most three months from receipt in all.
    with pytest.raises(InvalidInput, match="at most 3 calendar months"):
        request_extend_deadline(
            request=extended,
            actor=LEGAL,
            due_at=request.received_at + timedelta(days=100),
            reason="more",
        )
    with pytest.raises(InvalidInput, match="must be later"):
        request_extend_deadline(request=extended, actor=LEGAL, due_at=later, reason="same")
    with pytest.raises(InvalidInput, match="a reason is required"):
        request_extend_deadline(
            request=extended, actor=LEGAL, due_at=later + timedelta(days=1), reason=""
        )
    # A second extension keeps the original legal deadline.
    again = request_extend_deadline(
        request=extended, actor=LEGAL, due_at=later + timedelta(days=5), reason="still complex"
    )
    assert again.original_due_at == legal_deadline
    assert (
        AuditEvent.objects.filter(event_type=AuditEventType.REQUEST_DEADLINE_EXTENDED).count() == 2
    )


def test_a_grace_period_keeps_the_request_cancellable_until_it_ends(emulator, settings):
    from django.utils import timezone

    from erasure.services.requests import request_approve, request_file
    from erasure.services.sweeper import requests_sweep

    request = prepare(emulator, texts=2, vectors=0, approve=False)
    ErasureRequest.objects.filter(pk=request.pk).update(grace_seconds=3600)
    approver = Actor.system("approver")
    scheduled = request_approve(request=request, actor=approver)
    assert scheduled.status == "scheduled"
    assert scheduled.scheduled_for > timezone.now() + timedelta(minutes=59)
    # A worker woken early leaves it alone: nothing is sent during the grace period.
    request_execute(request_id=request.pk)
    assert ErasureRequest.objects.get(pk=request.pk).status == "scheduled"
    assert not [c for c in emulator.calls() if c["path"].endswith("/delete")]
    assert requests_sweep().requeued == 0  # not due yet: the sweeper does not touch it
    assert AuditEvent.objects.filter(event_type=AuditEventType.REQUEST_SCHEDULED).count() == 1

    # Once it ends, the request is carried out.
    ErasureRequest.objects.filter(pk=request.pk).update(
        scheduled_for=timezone.now() - timedelta(seconds=1)
    )
    request_execute(request_id=request.pk)
    assert ErasureRequest.objects.get(pk=request.pk).status == "completed"

    # Another one is cancelled during its grace period: nothing is ever sent for it.
    other = request_file(
        subject_key="auth0|someone-else", actor=LEGAL, source="admin", grace_hours=2
    ).request
    assert other.grace_seconds == 7200
    request_approve(request=other, actor=approver)
    cancelled = request_cancel(request=other, actor=LEGAL, reason="subject withdrew")
    assert cancelled.status == "cancelled"


def test_a_grace_period_out_of_range_is_refused(emulator):
    from erasure.services.requests import request_file

    with pytest.raises(InvalidInput, match="grace_hours must be between 0 and 720"):
        request_file(subject_key="x", actor=LEGAL, source="admin", grace_hours=721)
    assert not ErasureRequest.objects.exists()


def test_a_paused_deadline_moves_by_the_time_it_was_paused(emulator):
    from django.utils import timezone

    from erasure.services.requests import request_pause_deadline, request_resume_deadline

    request = prepare(emulator, texts=1, vectors=0, approve=False)
    legal = request.due_at
    with pytest.raises(InvalidInput, match="a reason is required"):
        request_pause_deadline(request=request, actor=LEGAL, reason="")
    paused = request_pause_deadline(request=request, actor=LEGAL, reason="verifying identity")
    with pytest.raises(InvalidTransition, match="paused already"):
        request_pause_deadline(request=paused, actor=LEGAL, reason="again")
    # Paused for two days.
    ErasureRequest.objects.filter(pk=request.pk).update(
        deadline_paused_at=timezone.now() - timedelta(days=2)
    )
    resumed = request_resume_deadline(request=paused, actor=LEGAL, reason="identity verified")
    assert resumed.deadline_paused_at is None and resumed.original_due_at == legal
    assert abs((resumed.due_at - legal) - timedelta(days=2)) < timedelta(seconds=5)
    resumed_event = AuditEvent.objects.get(event_type=AuditEventType.REQUEST_DEADLINE_RESUMED)
    assert resumed_event.details["reason"] == "identity verified"
    assert 172_790 < resumed_event.details["paused_seconds"] < 172_810
    with pytest.raises(InvalidTransition, match="not paused"):
        request_resume_deadline(request=resumed, actor=LEGAL, reason="x")


def test_a_request_that_has_started_can_never_be_cancelled(emulator):
    request = prepare(emulator, texts=2, vectors=0)
    start_request(request.pk)
    held = request_hold(request=request, actor=LEGAL, reason="hold")
    released = request_release(request=held, actor=LEGAL, reason="lift")
    assert released.status == "approved"  # back in line, but it has started already
    assert not can_cancel(released)
    with pytest.raises(InvalidTransition):
        request_cancel(request=released, actor=LEGAL)


def test_a_cancelled_request_purges_the_raw_key(emulator):
    from erasure.models import Subject

    request = prepare(emulator, texts=1, vectors=0, approve=False)
    assert Subject.objects.get(pk=request.subject_id).raw_key
    request_cancel(request=request, actor=LEGAL, reason="withdrawn")
    assert Subject.objects.get(pk=request.subject_id).raw_key is None


def test_a_batch_claimed_before_a_hold_is_given_back_unsent(emulator):
    request = prepare(emulator, texts=3, vectors=0)
    start_request(request.pk)
    namespace = namespaces_with_claimable_items(request.pk)[0]
    owner = new_owner()
    with make_client() as client:
        batch = claim(request.pk, namespace, owner, client)
    assert batch is not None and len(batch.items) == 3
    request_hold(request=request, actor=LEGAL, reason="just in time")
    # What request_execute does between claiming and calling.
    assert not still_running(request.pk)
    give_back([item.pk for item in batch.items], owner)
    items = ErasureItem.objects.filter(request=request)
    assert set(items.values_list("attempts", "lease_owner", "maybe_applied")) == {(0, "", False)}
    assert not [c for c in emulator.calls() if c["path"].endswith("/delete")]
    # Released, the batch goes out once, as a first try: proven deleted.
    request_release(request=request, actor=LEGAL, reason="lift")
    request_execute(request_id=request.pk)
    assert set(items.values_list("outcome", "attempts")) == {("deleted", 1)}


def test_no_items_are_added_to_an_ended_request(emulator):
    from erasure.services.expansion import items_expand

    request = prepare(emulator, texts=1, vectors=0)
    request_execute(request_id=request.pk)
    done = ErasureRequest.objects.get(pk=request.pk)
    assert done.status == "completed"
    from erasure.services.mappings import MappingInput, mappings_register

    mappings_register(
        items=[MappingInput("auth0|crash-test-subject", "notes", "t-late")],
        actor=Actor.system("app"),
    )
    from django.db import transaction

    with transaction.atomic():
        assert items_expand(request=done, actor=LEGAL) == 0
    assert not ErasureItem.objects.filter(request=done, item_id="t-late").exists()


def test_a_release_clears_the_sweepers_stuck_flag(emulator):
    from django.utils import timezone

    request = prepare(emulator, texts=1, vectors=0)
    ErasureRequest.objects.filter(pk=request.pk).update(stuck_since=timezone.now(), wakeups=20)
    held = request_hold(request=request, actor=LEGAL, reason="look at it")
    released = request_release(request=held, actor=LEGAL, reason="fixed")
    assert released.stuck_since is None and released.wakeups == 0
