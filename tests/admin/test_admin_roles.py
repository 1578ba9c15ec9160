"""Roles in the admin: holds and extensions with a reason for approvers, refused to
officers; overdue and due-soon requests marked on the list; auditors export, change
nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from erasure.actors import Actor
from erasure.models import AuditEvent, AuditEventType, ErasureRequest
from erasure.roles import APPROVER, AUDITOR, OFFICER
from erasure.services.requests import request_file

pytestmark = pytest.mark.django_db


def _filed(key: str = "s-1") -> ErasureRequest:
    return request_file(subject_key=key, actor=Actor.system("test"), source="api").request


def _page(client, obj) -> str:
    return client.get(f"/admin/erasure/erasurerequest/{obj.pk}/change/").content.decode()


def test_an_approver_holds_and_releases_with_a_reason(client, role_user):
    client.force_login(role_user("ann", APPROVER))
    request = _filed()
    assert 'id="hold-request"' in _page(client, request)
    url = f"/admin/erasure/erasurerequest/{request.pk}/hold/"
    refused = client.post(url, {"reason": ""})
    assert refused.status_code == 200 and "This field is required" in refused.content.decode()
    assert ErasureRequest.objects.get(pk=request.pk).status == "awaiting_approval"

    assert client.post(url, {"reason": "litigation hold"}).status_code == 302
    held = ErasureRequest.objects.get(pk=request.pk)
    assert (held.status, held.hold_reason) == ("on_hold", "litigation hold")
    page = _page(client, held)
    assert 'id="release-request"' in page and 'id="hold-request"' not in page

    release = f"/admin/erasure/erasurerequest/{request.pk}/release/"
    assert client.post(release, {"reason": "lifted"}).status_code == 302
    assert ErasureRequest.objects.get(pk=request.pk).status == "awaiting_approval"
    actors = set(
        AuditEvent.objects.filter(
            event_type__in=[AuditEventType.REQUEST_HELD, AuditEventType.REQUEST_RELEASED]
        ).values_list("actor", flat=True)
    )
    assert actors == {"user:ann"}


def test_an_extension_beyond_the_limit_is_refused_with_the_reason(client, role_user):
    client.force_login(role_user("ann", APPROVER))
    request = _filed()
    url = f"/admin/erasure/erasurerequest/{request.pk}/extend/"
    too_late = (request.received_at + timedelta(days=120)).strftime("%Y-%m-%d %H:%M")
    response = client.post(url, {"due_at": too_late, "reason": "complex"})
    assert response.status_code == 200
    assert "allows at most 3 calendar months" in response.content.decode()
    assert ErasureRequest.objects.get(pk=request.pk).due_at == request.due_at

    later = (request.due_at + timedelta(days=20)).strftime("%Y-%m-%d %H:%M")
    assert client.post(url, {"due_at": later, "reason": "complex"}).status_code == 302
    extended = ErasureRequest.objects.get(pk=request.pk)
    assert extended.original_due_at == request.due_at
    assert extended.due_at.strftime("%Y-%m-%d %H:%M") == later


def test_an_officer_has_neither_hold_nor_extend(client, role_user):
    client.force_login(role_user("otto", OFFICER))
    request = _filed()
    page = _page(client, request)
    assert 'id="hold-request"' not in page and 'id="extend-deadline"' not in page
    assert 'id="approve-request"' not in page
    for action in ("hold", "extend", "approve"):
        response = client.post(
            f"/admin/erasure/erasurerequest/{request.pk}/{action}/", {"reason": "x"}
        )
        assert response.status_code == 403, action
    assert ErasureRequest.objects.get(pk=request.pk).status == "awaiting_approval"


def test_the_list_marks_overdue_and_due_soon(client, role_user):
    client.force_login(role_user("otto", OFFICER))
    overdue, soon, _later = _filed("a"), _filed("b"), _filed("c")
    now = timezone.now()
    ErasureRequest.objects.filter(pk=overdue.pk).update(due_at=now - timedelta(days=1))
    ErasureRequest.objects.filter(pk=soon.pk).update(due_at=now + timedelta(days=3))
    page = client.get("/admin/erasure/erasurerequest/").content.decode()
    assert page.count("· overdue") == 1 and page.count("· due soon") == 1


def test_an_auditor_exports_but_changes_nothing(client, role_user):
    client.force_login(role_user("audrey", AUDITOR))
    request = _filed()
    page = _page(client, request)
    assert 'id="export-items"' in page
    for control in ("approve-request", "cancel-request", "hold-request", "extend-deadline"):
        assert f'id="{control}"' not in page
    response = client.get(f"/admin/erasure/erasurerequest/{request.pk}/export/?what=events")
    assert response.status_code == 200
    body = b"".join(response.streaming_content).decode()
    assert body.startswith("id,occurred_at,event_type")
    assert "request.filed" in body
    assert client.post(f"/admin/erasure/erasurerequest/{request.pk}/cancel/").status_code == 403
    assert client.get("/admin/erasure/erasurerequest/add/").status_code == 403
    export = client.get(
        "/admin/erasure/auditevent/export/", {"what": "requests", "format": "jsonl"}
    )
    assert export.status_code == 200 and export["Content-Type"].startswith("application/jsonl")
    assert AuditEvent.objects.filter(event_type="export.created", actor="user:audrey").count() == 2


def test_an_officer_cannot_export(client, role_user):
    client.force_login(role_user("otto", OFFICER))
    request = _filed()
    assert 'id="export-items"' not in _page(client, request)
    assert client.get(f"/admin/erasure/erasurerequest/{request.pk}/export/").status_code == 403
    assert client.get("/admin/erasure/auditevent/export/").status_code == 403
    assert not AuditEvent.objects.filter(event_type="export.created").exists()


def test_the_progress_endpoint_reports_status_and_counts(client, role_user):
    client.force_login(role_user("audrey", AUDITOR))
    request = _filed()
    body = client.get(f"/admin/erasure/erasurerequest/{request.pk}/progress/").json()
    assert body["status"] == "awaiting_approval" and body["live"] is False
    assert body["counts"]["total"] == 0
    client.logout()
    assert client.get(f"/admin/erasure/erasurerequest/{request.pk}/progress/").status_code == 302


def test_an_officer_previews_and_files_by_alias(client, role_user):
    from erasure.hashing import subject_hash
    from erasure.services.aliases import AliasInput, aliases_register

    client.force_login(role_user("otto", OFFICER))
    aliases_register(
        items=[AliasInput("user-77", "email", "Pat@Example.com")], actor=Actor.system("app")
    )
    preview = client.post(
        "/admin/erasure/erasurerequest/preview/",
        {"subject_key": "pat@example.com", "alias_kind": "email", "regulation": "ccpa"},
    ).json()
    assert preview["subject_known"] and preview["items"] == 0 and preview["open_request"] is None
    assert preview["subject_hash"] == subject_hash("user-77")[:12]
    assert client.get("/admin/erasure/erasurerequest/preview/").status_code == 405

    unknown = client.post(
        "/admin/erasure/erasurerequest/add/",
        {"subject_key": "nobody@example.com", "alias_kind": "email", "regulation": "gdpr"},
    )
    assert (
        unknown.status_code == 200 and "no subject has this email alias" in unknown.content.decode()
    )
    assert not ErasureRequest.objects.exists()

    # Nothing is mapped to the subject yet: filing says so, and needs "File it anyway".
    form = {"subject_key": "PAT@example.com", "alias_kind": "email", "regulation": "gdpr"}
    refused = client.post("/admin/erasure/erasurerequest/add/", form).content.decode()
    assert "No item is mapped to this subject, so the request would erase nothing" in refused
    assert not ErasureRequest.objects.exists()
    filed = client.post(
        "/admin/erasure/erasurerequest/add/", {**form, "confirm_nothing_mapped": "on"}
    )
    assert filed.status_code == 302
    request = ErasureRequest.objects.get()
    assert request.subject.key_hash == subject_hash("user-77")
    assert request.subject.raw_key is None  # found by alias: the raw key is not known


def test_requests_over_their_states_limit_are_flagged_and_listed(client, role_user, settings):
    from erasure.selectors.requests import over_state_limit

    client.force_login(role_user("otto", OFFICER))
    now = timezone.now()
    waiting_long, waiting_short, running_long = _filed("a"), _filed("b"), _filed("c")
    ErasureRequest.objects.filter(pk=waiting_long.pk).update(received_at=now - timedelta(hours=73))
    # A running request is timed from when it entered its state (erasure.lifecycle
    # STATE_CLOCKS), not from its last save.
    ErasureRequest.objects.filter(pk=running_long.pk).update(
        status="running",
        started_at=now - timedelta(hours=25),
        status_changed_at=now - timedelta(hours=25),
        updated_at=now - timedelta(hours=25),
    )
    flagged = set(ErasureRequest.objects.filter(over_state_limit()).values_list("pk", flat=True))
    assert flagged == {waiting_long.pk, running_long.pk}
    # The limits are settings.
    settings.ERASURE_STATE_LIMIT_HOURS = {**settings.ERASURE_STATE_LIMIT_HOURS, "running": 48}
    assert not ErasureRequest.objects.filter(over_state_limit(), pk=running_long.pk).exists()
    settings.ERASURE_STATE_LIMIT_HOURS = {**settings.ERASURE_STATE_LIMIT_HOURS, "running": 24}

    listed = client.get("/admin/erasure/erasurerequest/?stuck=yes").content.decode()
    assert str(waiting_long.pk)[:8] in listed and str(running_long.pk)[:8] in listed
    assert str(waiting_short.pk)[:8] not in listed


def test_an_approver_pauses_and_resumes_the_deadline(client, role_user):
    client.force_login(role_user("ann", APPROVER))
    request = _filed()
    assert 'id="pause-deadline"' in _page(client, request)
    url = f"/admin/erasure/erasurerequest/{request.pk}/pause/"
    assert client.post(url, {"reason": "waiting for ID"}).status_code == 302
    paused = ErasureRequest.objects.get(pk=request.pk)
    assert paused.deadline_paused_at is not None
    assert 'id="resume-deadline"' in _page(client, paused)
    resume = f"/admin/erasure/erasurerequest/{request.pk}/resume/"
    assert client.post(resume, {"reason": "ID checked"}).status_code == 302
    assert ErasureRequest.objects.get(pk=request.pk).deadline_paused_at is None
    assert AuditEvent.objects.filter(event_type="request.deadline_paused").exists()


def test_a_malformed_request_id_is_a_404_not_a_500(client, role_user):
    client.force_login(role_user("ann", APPROVER))
    for action in ("hold", "certificate", "progress", "approve"):
        response = client.post(f"/admin/erasure/erasurerequest/not-a-uuid/{action}/", {})
        assert response.status_code == 404, action


def test_a_filing_reason_over_the_services_limit_is_a_form_error_and_files_nothing(
    client, role_user
):
    from erasure.services.requests import MAX_REASON_LENGTH

    client.force_login(role_user("otto", OFFICER))
    events = AuditEvent.objects.count()
    response = client.post(
        "/admin/erasure/erasurerequest/add/",
        {"subject_key": "s-9", "regulation": "gdpr", "reason": "x" * (MAX_REASON_LENGTH + 1)},
    )
    assert response.status_code == 200
    assert f"at most {MAX_REASON_LENGTH} characters" in response.content.decode()
    assert not ErasureRequest.objects.exists()
    assert AuditEvent.objects.count() == events


@pytest.mark.parametrize("action", ["hold", "release", "extend", "pause", "resume"])
def test_an_action_reason_over_the_services_limit_is_a_form_error_and_changes_nothing(
    client, role_user, action
):
    from erasure.services.requests import MAX_REASON_LENGTH, request_hold, request_pause_deadline

    client.force_login(role_user("ann", APPROVER))
    request = _filed()
    if action == "release":
        request_hold(request=request, actor=Actor.system("test"), reason="held")
    if action == "resume":
        request_pause_deadline(request=request, actor=Actor.system("test"), reason="paused")
    before = ErasureRequest.objects.filter(pk=request.pk).values().get()
    events = AuditEvent.objects.count()
    later = (request.due_at + timedelta(days=3)).strftime("%Y-%m-%d %H:%M")
    response = client.post(
        f"/admin/erasure/erasurerequest/{request.pk}/{action}/",
        {"due_at": later, "reason": "x" * (MAX_REASON_LENGTH + 1)},
    )
    assert response.status_code == 200
    assert f"at most {MAX_REASON_LENGTH} characters" in response.content.decode()
    assert ErasureRequest.objects.filter(pk=request.pk).values().get() == before
    assert AuditEvent.objects.count() == events
