"""GET /api/v1/namespaces and PATCH /api/v1/namespaces/{name} (attribution mode)."""

from __future__ import annotations

import pytest

from erasure.models import AuditEvent, AuditEventType, Namespace
from tests.api.helpers import error_of, written

pytestmark = pytest.mark.django_db


@pytest.fixture
def known():
    Namespace.objects.create(name="notes", kind="text", attribution_mode="exact")
    Namespace.objects.create(name="embeddings", kind="vector", attribution_mode="fast")


@pytest.fixture
def approver(api_key_factory):
    return api_key_factory("approver", "requests:approve")


def test_any_scope_lists_the_namespaces_by_name(api_key_factory, known):
    uploader = api_key_factory("uploader", "mappings:write")
    response = uploader.get("/api/v1/namespaces")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert [(n["name"], n["kind"], n["attribution_mode"]) for n in body["results"]] == [
        ("embeddings", "vector", "fast"),
        ("notes", "text", "exact"),
    ]


def test_setting_the_mode_records_an_audit_event(approver, known):
    response = approver.patch(
        "/api/v1/namespaces/embeddings", {"attribution_mode": "single"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["attribution_mode"] == "single"
    assert Namespace.objects.get(name="embeddings").attribution_mode == "single"
    event = AuditEvent.objects.get(event_type=AuditEventType.NAMESPACE_MODE_CHANGED)
    assert event.actor == "api_key:approver"
    assert event.details == {
        "api": "default",
        "namespace": "embeddings",
        "kind": "vector",
        "from": "fast",
        "to": "single",
    }
    # Setting the mode it has changes nothing and records nothing.
    before = written()
    again = approver.patch(
        "/api/v1/namespaces/embeddings", {"attribution_mode": "single"}, format="json"
    )
    assert again.status_code == 200
    assert written() == before


@pytest.mark.parametrize(
    "payload",
    [{}, {"attribution_mode": "slow"}, {"attribution_mode": None}, {"mode": "fast"}, ["fast"]],
)
def test_a_bad_mode_is_400_and_changes_nothing(approver, known, payload):
    before = written()
    error_of(approver.patch("/api/v1/namespaces/notes", payload, format="json"), 400)
    assert written() == before


def test_an_unknown_namespace_is_404(approver, known):
    before = written()
    response = approver.patch(
        "/api/v1/namespaces/nope", {"attribution_mode": "fast"}, format="json"
    )
    assert error_of(response, 404)["code"] == "not_found"
    assert written() == before


def test_only_the_approve_scope_may_change_a_mode(api_key_factory, known):
    writer = api_key_factory("writer", "requests:write", "mappings:write", "audit:read")
    before = written()
    response = writer.patch("/api/v1/namespaces/notes", {"attribution_mode": "fast"}, format="json")
    error_of(response, 403)
    assert written() == before


def test_a_patch_is_a_partial_update(approver, known):
    response = approver.patch(
        "/api/v1/namespaces/notes",
        {"subject_field": "user_id", "recheck_after_days": 90},
        format="json",
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["attribution_mode"], body["subject_field"], body["subject_field_kind"]) == (
        "exact",
        "user_id",
        "",
    )
    assert (body["recheck_after_days"], body["scan_interval_hours"]) == (90, None)
    # A field not sent keeps its value; null brings back the service's default.
    response = approver.patch(
        "/api/v1/namespaces/notes",
        {"subject_field_kind": "email", "recheck_after_days": None},
        format="json",
    )
    namespace = Namespace.objects.get(name="notes")
    assert (namespace.subject_field, namespace.subject_field_kind) == ("user_id", "email")
    assert namespace.recheck_after_days is None and namespace.attribution_mode == "exact"
    changes = [
        event.details["changes"]
        for event in AuditEvent.objects.filter(
            event_type=AuditEventType.NAMESPACE_CHANGED
        ).order_by("id")
    ]
    assert changes == [
        {
            "subject_field": {"from": "", "to": "user_id"},
            "recheck_after_days": {"from": None, "to": 90},
        },
        {
            "subject_field_kind": {"from": "", "to": "email"},
            "recheck_after_days": {"from": 90, "to": None},
        },
    ]


@pytest.mark.parametrize(
    "payload",
    [
        {"subject_field": "user_id", "subject_field_kind": "E Mail"},
        {"subject_field": 5},
        {"subject_field": "x" * 201},
        {"recheck_after_days": -1},
        {"recheck_after_days": 1.5},
        {"recheck_after_days": "30"},
        {"scan_interval_hours": True},
        {"scan_interval_hours": 10**9},
        {"name": "renamed"},
        {"kind": "vector"},
    ],
)
def test_a_bad_setting_is_400_and_nothing_is_written(approver, known, payload):
    before = written()
    error_of(approver.patch("/api/v1/namespaces/notes", payload, format="json"), 400)
    assert written() == before
    assert Namespace.objects.get(name="notes").subject_field == ""
