"""The REST API with two namespace APIs: the registry and the mapping endpoints take an
optional `api` (default: the default API), so that a name in two APIs is never ambiguous,
and a one-API deployment sees no change."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from erasure.models import AuditEvent, AuditEventType, ItemMapping, Namespace
from erasure.services.namespaces import namespaces_sync
from tests.api.helpers import error_of, written

pytestmark = pytest.mark.django_db


@pytest.fixture
def uploader(api_key_factory):
    return api_key_factory("uploader", "mappings:write")


@pytest.fixture
def approver(api_key_factory):
    return api_key_factory("approver", "requests:approve")


@pytest.fixture
def both(emulator, onprem):
    emulator.seed([{"name": "notes", "type": "text", "items": []}])
    onprem.seed(
        [
            {"name": "notes", "type": "text", "items": []},
            {"name": "local-only", "type": "text", "items": []},
        ]
    )


def test_mappings_name_their_api_and_the_default_is_todays(uploader, both):
    response = uploader.post(
        "/api/v1/mappings",
        {
            "items": [
                {"subject": "u1", "namespace": "notes", "item_id": "a"},
                {"subject": "u1", "namespace": "notes", "item_id": "a", "api": "onprem"},
                {"subject": "u1", "namespace": "local-only", "item_id": "b", "api": "onprem"},
            ]
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["created"] == 3
    assert sorted(
        ItemMapping.objects.values_list("namespace__api", "namespace__name", "item_id")
    ) == [("default", "notes", "a"), ("onprem", "local-only", "b"), ("onprem", "notes", "a")]

    removed = uploader.post(
        "/api/v1/mappings/remove",
        {"items": [{"subject": "u1", "namespace": "notes", "item_id": "a", "api": "onprem"}]},
        format="json",
    )
    assert removed.json()["removed"] == 1
    assert ItemMapping.objects.filter(namespace__api="default", item_id="a").exists()


def test_a_namespace_of_another_api_or_an_unknown_api_is_a_clear_400(uploader, both):
    # `local-only` exists in the on-prem API only: without `api` it is unknown (the
    # default API's list is asked, and what it lists is learned).
    response = uploader.post(
        "/api/v1/mappings",
        {"items": [{"subject": "u1", "namespace": "local-only", "item_id": "b"}]},
        format="json",
    )
    assert "unknown namespaces: local-only" in error_of(response, 400)["message"]
    assert ItemMapping.objects.count() == 0
    before = written()
    response = uploader.post(
        "/api/v1/mappings",
        {"items": [{"subject": "u1", "namespace": "notes", "item_id": "b", "api": "mars"}]},
        format="json",
    )
    error = error_of(response, 400)
    assert error["message"] == (
        "no namespace API named 'mars' is configured (configured: default, onprem)"
    )
    assert written() == before


def test_the_registry_lists_filters_and_changes_a_namespace_by_api(approver, both):
    # Learned from both APIs' lists.
    assert len(namespaces_sync()) == 3
    listed = approver.get("/api/v1/namespaces").json()["results"]
    assert [(n["api"], n["name"]) for n in listed] == [
        ("onprem", "local-only"),
        ("default", "notes"),
        ("onprem", "notes"),
    ]
    only = approver.get("/api/v1/namespaces?api=onprem").json()["results"]
    assert {n["name"] for n in only} == {"notes", "local-only"}
    error_of(approver.get("/api/v1/namespaces?api=mars"), 400)

    changed = approver.patch(
        "/api/v1/namespaces/notes?api=onprem", {"subject_field": "user_id"}, format="json"
    )
    assert changed.status_code == 200, changed.content
    assert changed.json()["api"] == "onprem"
    fields = dict(Namespace.objects.filter(name="notes").values_list("api", "subject_field"))
    assert fields == {"default": "", "onprem": "user_id"}
    event = AuditEvent.objects.get(event_type=AuditEventType.NAMESPACE_CHANGED)
    assert event.details["api"] == "onprem"

    # Without `api`, a name known only elsewhere is a 404 that says where it is.
    missing = error_of(approver.get("/api/v1/namespaces/local-only/coverage"), 404)
    assert missing["message"] == (
        "no namespace named 'local-only' is known in API default "
        "(it is known in API onprem: name the API)"
    )
    coverage = approver.get("/api/v1/namespaces/local-only/coverage?api=onprem")
    assert coverage.status_code == 200 and coverage.json()["api"] == "onprem"


def test_the_namespace_api_command_lists_every_api_without_a_key(emulator, onprem):
    out = io.StringIO()
    call_command("namespace_api", "list", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith(f"default: cloud {emulator.url}; key from NAMESPACE_API_KEY")
    assert lines[1].startswith(f"onprem: onprem {onprem.url}; key from no key (on-prem)")
    assert "test-emulator-key" not in out.getvalue()
    with pytest.raises(CommandError, match="no namespace API named 'mars'") as refused:
        call_command("namespace_api", "resume", "mars", stdout=io.StringIO())
    assert refused.value.returncode == 2
    out = io.StringIO()
    call_command("namespace_api", "resume", "onprem", stdout=out)
    assert out.getvalue().strip() == "onprem: not refused, nothing to do"


@pytest.mark.parametrize(
    "query", ["x" * 10_000, "on%00prem", "%ED%A0%80"]
)  # %ED%A0%80: a surrogate
def test_a_hostile_api_name_is_a_short_400(approver, both, query):
    error = error_of(approver.get(f"/api/v1/namespaces?api={query}"), 400)
    assert error["message"].startswith("no namespace API named ")
    assert len(error["message"]) < 200
