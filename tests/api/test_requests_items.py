"""GET /api/v1/requests/{id}/items: per-item outcomes, 100 per page, filtered by outcome
and namespace."""

from __future__ import annotations

import pytest

from erasure.models import ErasureItem, ErasureRequest, Namespace
from tests.api.helpers import error_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def auditor(api_key_factory):
    return api_key_factory("auditor", "audit:read")


@pytest.fixture
def request_with_items(api_key_factory):
    """A filed request with 150 items in two namespaces and three outcomes (rows written
    directly: what is under test is reading them)."""
    filer = api_key_factory("filer", "requests:write")
    request_id = filer.post("/api/v1/requests", {"subject": "user-1"}, format="json").json()["id"]
    notes = Namespace.objects.create(name="notes", kind="text", attribution_mode="exact")
    vectors = Namespace.objects.create(name="vectors", kind="vector", attribution_mode="fast")
    request = ErasureRequest.objects.get(pk=request_id)
    outcomes = ["deleted", "not_found", "failed"]
    ErasureItem.objects.bulk_create(
        ErasureItem(
            request=request,
            namespace=notes if i < 120 else vectors,
            item_id=f"item-{i:03}",
            outcome=outcomes[i % 3],
            attempts=1,
            last_http_status=200,
        )
        for i in range(150)
    )
    return request_id


def test_items_come_in_pages_of_one_hundred(auditor, request_with_items):
    first = auditor.get(f"/api/v1/requests/{request_with_items}/items").json()
    assert first["count"] == 150
    assert len(first["results"]) == 100
    second = auditor.get(f"/api/v1/requests/{request_with_items}/items?page=2").json()
    assert len(second["results"]) == 50
    ids = [r["item_id"] for r in first["results"] + second["results"]]
    assert sorted(ids) == sorted(set(ids)) and len(ids) == 150
    row = first["results"][0]
    assert set(row) == {
        "namespace",
        "item_id",
        "outcome",
        "attempts",
        "last_http_status",
        "last_error",
        "decided_by_dispatch",
        "decided_at",
    }
    error_of(auditor.get(f"/api/v1/requests/{request_with_items}/items?page=3"), 404)


def test_items_filter_by_outcome_and_namespace(auditor, request_with_items):
    def count(query: str) -> int:
        response = auditor.get(f"/api/v1/requests/{request_with_items}/items?{query}")
        assert response.status_code == 200
        return response.json()["count"]

    assert count("outcome=failed") == 50
    assert count("namespace=vectors") == 30
    assert count("namespace=vectors&outcome=deleted") == 10
    assert count("namespace=unknown") == 0
    assert count("outcome=pending") == 0
    detail = auditor.get(f"/api/v1/requests/{request_with_items}").json()
    assert detail["counts"] == {
        "pending": 0,
        "deleted": 50,
        "not_found": 50,
        "deleted_or_not_found": 0,
        "failed": 50,
        "total": 150,
    }
