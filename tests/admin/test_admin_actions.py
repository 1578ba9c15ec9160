"""Admin buttons call the same services as the API, and refuse what the services refuse."""

from __future__ import annotations

import pytest

from erasure.actors import Actor
from erasure.models import AuditEvent, ErasureRequest
from erasure.services.requests import request_file

pytestmark = pytest.mark.django_db


@pytest.fixture
def officer(staff):
    return staff(
        "officer",
        "view_erasurerequest",
        "change_erasurerequest",
        "approve_erasurerequest",
        "cancel_erasurerequest",
        "retry_erasurerequest",
    )


def _request(status: str, officer) -> ErasureRequest:
    filed = request_file(subject_key="s-1", actor=Actor.system("test"), source="api").request
    ErasureRequest.objects.filter(pk=filed.pk).update(status=status)
    return ErasureRequest.objects.get(pk=filed.pk)


def test_retry_button_shows_for_failures_only_and_reopens_the_request(client, officer):
    client.force_login(officer)
    running = _request("running", officer)
    page = client.get(f"/admin/erasure/erasurerequest/{running.pk}/change/")
    assert b'id="retry-request"' not in page.content
    ErasureRequest.objects.filter(pk=running.pk).update(status="completed_with_failures")
    page = client.get(f"/admin/erasure/erasurerequest/{running.pk}/change/")
    assert b'id="retry-request"' in page.content
    response = client.post(f"/admin/erasure/erasurerequest/{running.pk}/retry/", follow=True)
    assert b"sent again" in response.content.lower()
    assert ErasureRequest.objects.get(pk=running.pk).status == "approved"
    assert AuditEvent.objects.filter(request=running, event_type="request.retried").exists()


def test_a_refused_action_shows_the_reason_and_changes_nothing(client, officer):
    client.force_login(officer)
    request = _request("running", officer)
    response = client.post(f"/admin/erasure/erasurerequest/{request.pk}/retry/", follow=True)
    # The admin capitalises messages.
    assert b"only a request that ended with failures" in response.content.lower()
    assert ErasureRequest.objects.get(pk=request.pk).status == "running"
    response = client.post(f"/admin/erasure/erasurerequest/{request.pk}/approve/", follow=True)
    assert b"only a request awaiting approval" in response.content.lower()


def test_without_the_approve_permission_the_buttons_are_forbidden(client, django_user_model):
    viewer = django_user_model.objects.create_user("viewer", password="pw", is_staff=True)
    client.force_login(viewer)
    request = _request("awaiting_approval", viewer)
    assert client.post(f"/admin/erasure/erasurerequest/{request.pk}/approve/").status_code == 403
    assert ErasureRequest.objects.get(pk=request.pk).status == "awaiting_approval"


def test_officers_find_a_request_by_the_subject_key_they_know(client, officer):
    client.force_login(officer)
    request = _request("awaiting_approval", officer)
    found = client.post("/admin/erasure/erasurerequest/find-subject/", {"subject_key": "s-1"})
    # The key travels in the body; the URL that follows carries only its keyed hash.
    assert found.status_code == 302
    assert "s-1" not in found.url
    assert str(request.pk)[:8].encode() in client.get(found.url).content
    missing = client.post(
        "/admin/erasure/erasurerequest/find-subject/", {"subject_key": "someone-else"}
    )
    assert str(request.pk)[:8].encode() not in client.get(missing.url).content
    form = client.get("/admin/erasure/erasurerequest/find-subject/")
    assert b'name="subject_key"' in form.content


def test_seed_demo_refuses_to_touch_a_real_namespace_api(settings, django_user_model):
    from django.core.management import call_command

    settings.NAMESPACE_API_URL = "https://api.moorcheh.ai/v1"
    call_command("seed_demo")
    assert not django_user_model.objects.filter(username__in=["officer", "approver"]).exists()


def test_a_namespace_mode_changed_in_the_admin_goes_through_the_service(client, staff):
    from erasure.models import Namespace

    namespace = Namespace.objects.create(name="docs", kind="text", attribution_mode="exact")
    client.force_login(staff("ops", "view_namespace", "change_namespace"))
    response = client.post(
        f"/admin/erasure/namespace/{namespace.pk}/change/", {"attribution_mode": "fast"}
    )
    assert response.status_code == 302, response.content
    namespace.refresh_from_db()
    assert namespace.attribution_mode == "fast"
    event = AuditEvent.objects.get(event_type="namespace.mode_changed")
    assert event.actor == "user:ops"
    assert event.details["from"] == "exact" and event.details["to"] == "fast"


def test_the_completeness_settings_change_in_the_admin_through_the_service(client, staff):
    from erasure.models import AuditEventType, Namespace

    namespace = Namespace.objects.create(name="docs", kind="text", attribution_mode="exact")
    client.force_login(staff("ops", "view_namespace", "change_namespace"))
    url = f"/admin/erasure/namespace/{namespace.pk}/change/"
    form = {"attribution_mode": "exact", "subject_field": "email", "subject_field_kind": "email"}
    response = client.post(url, {**form, "recheck_after_days": "90", "scan_interval_hours": ""})
    assert response.status_code == 302, response.content
    namespace.refresh_from_db()
    assert (namespace.subject_field, namespace.subject_field_kind) == ("email", "email")
    assert (namespace.recheck_after_days, namespace.scan_interval_hours) == (90, None)
    event = AuditEvent.objects.get(event_type=AuditEventType.NAMESPACE_CHANGED)
    assert event.actor == "user:ops"
    assert set(event.details["changes"]) == {
        "subject_field",
        "subject_field_kind",
        "recheck_after_days",
    }

    # A value the service refuses is a form error, and nothing changes.
    response = client.post(url, {**form, "subject_field_kind": "Not A Kind"})
    assert response.status_code == 200
    assert "alias kind" in response.content.decode()
    namespace.refresh_from_db()
    assert namespace.subject_field_kind == "email"
    assert AuditEvent.objects.filter(event_type=AuditEventType.NAMESPACE_CHANGED).count() == 1


def test_a_namespace_added_in_the_admin_goes_through_the_service_and_is_audited(client, staff):
    from erasure.models import AuditEventType, Namespace

    client.force_login(staff("ops", "view_namespace", "add_namespace"))
    response = client.post(
        "/admin/erasure/namespace/add/",
        {"name": "new-docs", "kind": "vector", "attribution_mode": "fast"},
    )
    assert response.status_code == 302, response.content
    namespace = Namespace.objects.get(name="new-docs")
    assert (namespace.kind, namespace.attribution_mode) == ("vector", "fast")
    event = AuditEvent.objects.get(event_type=AuditEventType.NAMESPACE_CREATED)
    assert event.actor == "user:ops"
    assert event.details == {
        "api": "default",
        "namespace": "new-docs",
        "kind": "vector",
        "attribution_mode": "fast",
    }


def test_a_namespace_name_the_service_refuses_is_a_form_error_and_adds_nothing(client, staff):
    from erasure.models import Namespace

    client.force_login(staff("ops", "view_namespace", "add_namespace"))
    events = AuditEvent.objects.count()
    # A bidirectional override prints nothing: the service refuses it in a name.
    response = client.post(
        "/admin/erasure/namespace/add/",
        {"name": "docs\u202etxt", "kind": "text", "attribution_mode": "exact"},
    )
    assert response.status_code == 200
    assert "printable characters only" in response.content.decode()
    assert not Namespace.objects.exists()
    assert AuditEvent.objects.count() == events
