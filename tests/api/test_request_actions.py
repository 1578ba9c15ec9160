"""Holds, releases, deadline extensions and pauses through the API: the same services as
the admin, with the approver's scope, a required reason, and the one error shape."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils.dateparse import parse_datetime

from erasure.models import AuditEvent, AuditEventType
from tests.api.helpers import error_of, written

pytestmark = pytest.mark.django_db


@pytest.fixture
def filed(api_key_factory):
    writer = api_key_factory("writer", "requests:write")
    return writer.post("/api/v1/requests", {"subject": "user-1"}, format="json").json()


def test_hold_and_release_with_a_reason(api_key_factory, filed):
    approver = api_key_factory("approver", "requests:approve")
    url = f"/api/v1/requests/{filed['id']}"
    before = written()
    error = error_of(approver.post(f"{url}/hold", {}, format="json"), 400)
    assert "reason" in error["fields"]
    assert written() == before

    held = approver.post(f"{url}/hold", {"reason": "litigation"}, format="json")
    assert held.status_code == 200, held.content
    assert held.json()["status"] == "on_hold" and held.json()["hold_reason"] == "litigation"
    # Approving a held request is refused: it must be released first.
    error_of(approver.post(f"{url}/approve"), 409)
    released = approver.post(f"{url}/release", {"reason": "lifted"}, format="json")
    assert released.json()["status"] == "awaiting_approval"
    error_of(approver.post(f"{url}/release", {"reason": "again"}, format="json"), 409)
    events = AuditEvent.objects.filter(
        event_type__in=[AuditEventType.REQUEST_HELD, AuditEventType.REQUEST_RELEASED]
    )
    assert set(events.values_list("actor", flat=True)) == {"api_key:approver"}


def test_holds_need_the_approve_scope(api_key_factory, filed):
    writer = api_key_factory("writer2", "requests:write")
    before = written()
    error_of(
        writer.post(f"/api/v1/requests/{filed['id']}/hold", {"reason": "x"}, format="json"), 403
    )
    assert written() == before


def test_extend_pause_and_resume_the_deadline(api_key_factory, filed):
    approver = api_key_factory("approver", "requests:approve")
    url = f"/api/v1/requests/{filed['id']}/deadline"
    due = parse_datetime(filed["due_at"])
    too_late = (parse_datetime(filed["received_at"]) + timedelta(days=120)).isoformat()
    error = error_of(approver.post(url, {"due_at": too_late, "reason": "x"}, format="json"), 400)
    assert "due_at" in error["fields"]

    later = (due + timedelta(days=10)).isoformat()
    extended = approver.post(url, {"due_at": later, "reason": "complex"}, format="json").json()
    assert parse_datetime(extended["due_at"]) == due + timedelta(days=10)
    assert parse_datetime(extended["original_due_at"]) == due

    paused = approver.post(f"{url}/pause", {"reason": "verifying identity"}, format="json")
    assert paused.json()["deadline_paused_at"] is not None
    error_of(approver.post(f"{url}/pause", {"reason": "again"}, format="json"), 409)
    resumed = approver.post(f"{url}/resume", {"reason": "verified"}, format="json").json()
    assert resumed["deadline_paused_at"] is None
    assert parse_datetime(resumed["due_at"]) >= due + timedelta(days=10)


def test_a_hold_replays_under_the_same_idempotency_key(api_key_factory, filed):
    approver = api_key_factory("approver", "requests:approve")
    url = f"/api/v1/requests/{filed['id']}/hold"
    first = approver.post(url, {"reason": "x"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = approver.post(url, {"reason": "x"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == again.status_code == 200
    assert again["Idempotent-Replayed"] == "true"
    assert AuditEvent.objects.filter(event_type=AuditEventType.REQUEST_HELD).count() == 1


def test_approve_takes_an_optional_comment_for_the_audit_event(api_key_factory, filed):
    approver = api_key_factory("approver", "requests:approve")
    url = f"/api/v1/requests/{filed['id']}/approve"
    before = written()
    error = error_of(approver.post(url, {"comment": "x" * 5001}, format="json"), 400)
    assert "comment" in error["fields"]
    assert written() == before
    approved = approver.post(url, {"comment": "ticket SUP-9 checked"}, format="json")
    assert approved.status_code == 200, approved.content
    event = AuditEvent.objects.get(event_type=AuditEventType.REQUEST_APPROVED)
    assert event.details == {"auto": False, "comment": "ticket SUP-9 checked"}


def test_approve_without_a_body_records_no_comment(api_key_factory, filed):
    approver = api_key_factory("approver", "requests:approve")
    assert approver.post(f"/api/v1/requests/{filed['id']}/approve").status_code == 200
    event = AuditEvent.objects.get(event_type=AuditEventType.REQUEST_APPROVED)
    assert event.details == {"auto": False}
