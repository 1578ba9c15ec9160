"""REST API: authentication, scopes, four-eyes, and bad input (4xx, nothing written)."""

from __future__ import annotations

import uuid

import pytest

from erasure.models import AuditEvent, ErasureItem, ErasureRequest, ItemMapping, Subject

pytestmark = pytest.mark.django_db


def _counts() -> tuple[int, ...]:
    return (
        ErasureRequest.objects.count(),
        Subject.objects.count(),
        ItemMapping.objects.count(),
        ErasureItem.objects.count(),
        AuditEvent.objects.count(),
    )


def _error(response) -> dict:
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "fields"}, body
    assert body["error"]["message"]
    return body["error"]


@pytest.fixture
def filer(api_key_factory):
    return api_key_factory("filer", "requests:write", "requests:approve")


@pytest.fixture
def approver(api_key_factory):
    return api_key_factory("approver", "requests:approve")


def test_missing_wrong_and_malformed_keys_are_401(client, filer):
    from rest_framework.test import APIClient

    anonymous = APIClient()
    assert anonymous.post("/api/v1/requests", {"subject": "x"}, format="json").status_code == 401
    wrong = APIClient()
    wrong.credentials(HTTP_AUTHORIZATION="Bearer esk_not-a-key")
    response = wrong.post("/api/v1/requests", {"subject": "x"}, format="json")
    assert response.status_code == 401
    assert _error(response)["message"] == "invalid or revoked API key"
    malformed = APIClient()
    malformed.credentials(HTTP_AUTHORIZATION="Token abc def")
    assert malformed.get(f"/api/v1/requests/{uuid.uuid4()}").status_code == 401
    assert ErasureRequest.objects.count() == 0


def test_missing_scope_is_403(api_key_factory):
    reader = api_key_factory("reader", "audit:read")
    response = reader.post("/api/v1/requests", {"subject": "user-1"}, format="json")
    assert response.status_code == 403
    assert "requests:write" in _error(response)["message"]
    assert ErasureRequest.objects.count() == 0


def test_self_approval_is_refused_and_changes_nothing(filer):
    created = filer.post("/api/v1/requests", {"subject": "user-1"}, format="json").json()
    before = _counts()
    response = filer.post(f"/api/v1/requests/{created['id']}/approve")
    assert response.status_code == 403
    error = _error(response)
    assert error["code"] == "four_eyes"
    assert "someone other than who filed it" in error["message"]
    assert _counts() == before
    assert ErasureRequest.objects.get(pk=created["id"]).status == "awaiting_approval"


def test_approving_twice_is_a_conflict(filer, approver, emulator):
    created = filer.post("/api/v1/requests", {"subject": "user-1"}, format="json").json()
    assert approver.post(f"/api/v1/requests/{created['id']}/approve").status_code == 200
    before = _counts()
    response = approver.post(f"/api/v1/requests/{created['id']}/approve")
    assert response.status_code == 409
    assert _error(response)["code"] == "invalid_state"
    assert _counts() == before


def test_create_defaults_to_gdpr_with_a_one_month_deadline(filer):
    body = filer.post("/api/v1/requests", {"subject": "user-1"}, format="json").json()
    assert body["regulation"] == "gdpr"
    received, due = body["received_at"][:10], body["due_at"][:10]
    assert received != due  # one calendar month later; exact arithmetic in test_models_constraints


def test_duplicate_open_request_for_a_subject_returns_the_first(filer):
    first = filer.post("/api/v1/requests", {"subject": "user-1"}, format="json")
    second = filer.post("/api/v1/requests", {"subject": " user-1 "}, format="json")
    assert first.status_code == 201
    assert second.status_code == 200
    assert second.json()["id"] == first.json()["id"]
    assert ErasureRequest.objects.count() == 1


def test_idempotency_key_replays_the_first_answer_and_refuses_another_body(filer):
    headers = {"HTTP_IDEMPOTENCY_KEY": "req-42"}
    first = filer.post("/api/v1/requests", {"subject": "user-1"}, format="json", **headers)
    again = filer.post("/api/v1/requests", {"subject": "user-1"}, format="json", **headers)
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    other = filer.post("/api/v1/requests", {"subject": "user-2"}, format="json", **headers)
    assert other.status_code == 409
    assert _error(other)["code"] == "conflict"
    assert ErasureRequest.objects.count() == 1


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "subject"),
        ({"subject": ""}, "subject"),
        ({"subject": "   "}, "subject"),
        ({"subject": "x" * 513}, "subject"),
        ({"subject": 12}, None),
        ({"subject": "u", "regulation": "hipaa"}, "regulation"),
        ({"subject": "u", "auto_approve": "maybe"}, "auto_approve"),
        ({"subject": "u", "reason": "r" * 5001}, "reason"),
        (["subject", "u"], None),
    ],
)
def test_bad_request_bodies_are_400_and_write_nothing(filer, payload, field):
    before = _counts()
    response = filer.post("/api/v1/requests", payload, format="json")
    if payload == {"subject": 12}:
        # DRF accepts numbers for a CharField (as "12"): a legitimate numeric user id.
        assert response.status_code == 201
        return
    assert response.status_code == 400, response.content
    error = _error(response)
    if field:
        assert field in error["fields"], error
    assert _counts() == before


def test_malformed_json_is_400(filer):
    response = filer.post("/api/v1/requests", b"{not json", content_type="application/json")
    assert response.status_code == 400
    assert _error(response)["code"] == "parse_error"


def test_auto_approve_needs_the_approve_scope(api_key_factory):
    writer = api_key_factory("writer", "requests:write")
    before = _counts()
    response = writer.post(
        "/api/v1/requests", {"subject": "u", "auto_approve": True}, format="json"
    )
    assert response.status_code == 400
    assert "auto_approve" in _error(response)["fields"]
    assert _counts() == before


@pytest.mark.parametrize("request_id", ["not-a-uuid", str(uuid.uuid4()), "1%27%20OR%201=1"])
def test_unknown_request_ids_are_404(filer, request_id):
    for path in ("", "/items"):
        response = filer.get(f"/api/v1/requests/{request_id}{path}")
        assert response.status_code == 404
        assert _error(response)["code"] == "not_found"
    response = filer.post(f"/api/v1/requests/{request_id}/approve")
    assert response.status_code == 404


def test_items_filter_rejects_an_unknown_outcome(filer):
    created = filer.post("/api/v1/requests", {"subject": "user-1"}, format="json").json()
    response = filer.get(f"/api/v1/requests/{created['id']}/items?outcome=gone")
    assert response.status_code == 400
    assert "outcome" in _error(response)["fields"]


def test_cancel_before_running_and_not_after(filer):
    created = filer.post("/api/v1/requests", {"subject": "user-1"}, format="json").json()
    response = filer.post(f"/api/v1/requests/{created['id']}/cancel", {}, format="json")
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    again = filer.post(f"/api/v1/requests/{created['id']}/cancel", {}, format="json")
    assert again.status_code == 409


@pytest.mark.parametrize("payload", [{"subject": "user-1", "reason": ""}, {"subject": "user-1"}])
def test_the_reason_is_optional_and_may_be_empty(filer, payload):
    response = filer.post("/api/v1/requests", payload, format="json")
    assert response.status_code == 201, response.content
    filed = ErasureRequest.objects.get(pk=response.json()["id"])
    assert filed.reason == ""


def test_a_reason_of_5000_characters_is_kept_and_one_more_is_400(filer):
    response = filer.post(
        "/api/v1/requests", {"subject": "user-1", "reason": "r" * 5000}, format="json"
    )
    assert response.status_code == 201, response.content
    assert ErasureRequest.objects.get(pk=response.json()["id"]).reason == "r" * 5000
    before = _counts()
    response = filer.post(
        "/api/v1/requests", {"subject": "user-2", "reason": "r" * 5001}, format="json"
    )
    assert response.status_code == 400
    assert "reason" in _error(response)["fields"]
    assert _counts() == before


@pytest.mark.parametrize("payload", [{"reason": ""}, {}])
def test_the_cancel_reason_is_optional_and_may_be_empty(filer, payload):
    created = filer.post("/api/v1/requests", {"subject": "user-1"}, format="json").json()
    response = filer.post(f"/api/v1/requests/{created['id']}/cancel", payload, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "cancelled"
