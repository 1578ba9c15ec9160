"""The lifecycle (erasure.lifecycle): transitions, predicates and the state clocks that stuck
detection reads."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from erasure.actors import Actor
from erasure.errors import InvalidInput
from erasure.lifecycle import (
    OPEN_STATUSES,
    STATE_CLOCKS,
    TRANSITIONS,
    ItemOutcome,
    RequestStatus,
    can_transition,
    enter,
)
from erasure.models import AuditEvent, ErasureRequest
from erasure.selectors.requests import over_state_limit, request_outcome_counts
from erasure.services.execution.start import start_request
from erasure.services.requests import (
    MAX_REASON_LENGTH,
    request_approve,
    request_cancel,
    request_extend_deadline,
    request_file,
)
from erasure.services.sweeper import requests_sweep
from tests.services.execution.helpers import prepare

LEGAL = Actor.system("legal")


def test_every_status_has_its_transitions_and_every_open_one_a_clock():
    assert set(TRANSITIONS) == set(RequestStatus)
    assert set(STATE_CLOCKS) == set(OPEN_STATUSES)
    assert can_transition(RequestStatus.AWAITING_APPROVAL, RequestStatus.APPROVED)
    assert not can_transition(RequestStatus.RUNNING, RequestStatus.CANCELLED)
    assert not TRANSITIONS[RequestStatus.COMPLETED]


def test_enter_refuses_a_transition_the_table_does_not_list():
    request = ErasureRequest(status=RequestStatus.COMPLETED)
    with pytest.raises(RuntimeError, match="no transition from completed to running"):
        enter(request, RequestStatus.RUNNING)
    assert request.status == RequestStatus.COMPLETED
    held = ErasureRequest(status=RequestStatus.RUNNING)
    assert enter(held, RequestStatus.ON_HOLD) == held.status_changed_at
    assert held.status == RequestStatus.ON_HOLD


def stuck(request: ErasureRequest) -> bool:
    return ErasureRequest.objects.filter(over_state_limit(), pk=request.pk).exists()


@pytest.mark.django_db
def test_a_deadline_extension_does_not_restart_a_running_requests_clock(emulator, settings):
    request = prepare(emulator, texts=2, vectors=0)
    start_request(request.pk)
    request.refresh_from_db()
    assert request.status == RequestStatus.RUNNING
    long_ago = timezone.now() - timedelta(hours=settings.ERASURE_STATE_LIMIT_HOURS["running"] + 1)
    ErasureRequest.objects.filter(pk=request.pk).update(
        status_changed_at=long_ago, updated_at=long_ago
    )
    assert stuck(request)

    request_extend_deadline(
        request=request, actor=LEGAL, due_at=request.due_at + timedelta(days=3), reason="busy"
    )
    request.refresh_from_db()
    assert request.updated_at > long_ago  # the save happened ...
    assert stuck(request)  # ... and the request is still as stuck as before


@pytest.mark.django_db
def test_a_sweeper_requeue_does_not_restart_an_approved_requests_clock(emulator, settings):
    request = prepare(emulator, texts=2, vectors=0)
    long_ago = timezone.now() - timedelta(hours=settings.ERASURE_STATE_LIMIT_HOURS["approved"] + 1)
    ErasureRequest.objects.filter(pk=request.pk).update(
        status_changed_at=long_ago, updated_at=long_ago
    )
    # Its job is lost: the sweeper gives it a new one (and saves the request).
    from procrastinate.contrib.django.models import ProcrastinateJob

    ProcrastinateJob.objects.all().delete()
    assert requests_sweep().requeued == 1
    assert stuck(request)


@pytest.mark.django_db
def test_each_transition_restarts_the_clock(emulator):
    request = prepare(emulator, texts=1, vectors=0, approve=False)
    before = timezone.now()
    approver = get_user_model().objects.get_or_create(username="approver")[0]
    request = request_approve(request=request, actor=Actor.for_user(approver))
    request.refresh_from_db()
    assert request.status == RequestStatus.APPROVED
    assert request.status_changed_at >= before
    start_request(request.pk)
    started = ErasureRequest.objects.get(pk=request.pk)
    assert started.status == RequestStatus.RUNNING
    assert started.status_changed_at >= request.status_changed_at


@pytest.mark.django_db
def test_a_scheduled_request_counts_its_mapped_items(emulator):
    # A grace period keeps it `scheduled`; its items are expanded when its job starts.
    prepare(emulator, texts=3, vectors=2, approve=False)
    request = ErasureRequest.objects.get()
    request.grace_seconds = 3600
    request.save(update_fields=["grace_seconds"])
    approver = get_user_model().objects.get_or_create(username="approver")[0]
    request = request_approve(request=request, actor=Actor.for_user(approver))
    request.refresh_from_db()
    assert request.status == RequestStatus.SCHEDULED
    counts = request_outcome_counts(request=request)
    assert counts[ItemOutcome.PENDING] == counts["total"] == 5


@pytest.mark.django_db
def test_a_cancellation_reason_too_long_is_refused_not_cut_short(emulator):
    request = request_file(subject_key="someone", actor=LEGAL, source="api").request
    events = AuditEvent.objects.count()
    with pytest.raises(InvalidInput, match="too long"):
        request_cancel(request=request, actor=LEGAL, reason="x" * (MAX_REASON_LENGTH + 1))
    request.refresh_from_db()
    assert request.status == RequestStatus.AWAITING_APPROVAL
    assert AuditEvent.objects.count() == events
    cancelled = request_cancel(request=request, actor=LEGAL, reason="x" * MAX_REASON_LENGTH)
    assert cancelled.status == RequestStatus.CANCELLED
