"""GET /api/v1/requests: newest first, filters that combine, pages of 100, and 400 for
a filter that makes no sense."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from erasure.hashing import subject_hash
from erasure.models import ErasureRequest
from tests.api.helpers import error_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def filer(api_key_factory):
    return api_key_factory("filer", "requests:write")


@pytest.fixture
def auditor(api_key_factory):
    return api_key_factory("auditor", "audit:read")


def _file(client, subject: str, **extra) -> dict:
    response = client.post("/api/v1/requests", {"subject": subject, **extra}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def _ids(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [r["id"] for r in response.json()["results"]]


def test_lists_newest_first_with_the_summary_of_each(filer, auditor):
    first = _file(filer, "user-1")
    second = _file(filer, "user-2", regulation="ccpa")
    ErasureRequest.objects.filter(pk=first["id"]).update(
        received_at=timezone.now() - timedelta(days=2)
    )
    response = auditor.get("/api/v1/requests")
    body = response.json()
    assert body["count"] == 2
    assert _ids(response) == [second["id"], first["id"]]
    row = body["results"][0]
    assert row["subject_hash"] == subject_hash("user-2")
    assert row["regulation"] == "ccpa"
    assert row["status"] == "awaiting_approval"
    assert row["source"] == "api"
    # Never the raw subject key.
    assert "user-2" not in response.content.decode()


def test_filters_combine(filer, auditor):
    gdpr = _file(filer, "user-1")
    ccpa = _file(filer, "user-2", regulation="ccpa")
    old = _file(filer, "user-3")
    ErasureRequest.objects.filter(pk=old["id"]).update(
        received_at=timezone.now() - timedelta(days=10)
    )
    filer.post(f"/api/v1/requests/{gdpr['id']}/cancel", {}, format="json")

    def ids(query: str) -> set[str]:
        return set(_ids(auditor.get(f"/api/v1/requests?{query}")))

    assert ids("status=cancelled") == {gdpr["id"]}
    assert ids("status=awaiting_approval") == {ccpa["id"], old["id"]}
    assert ids("regulation=ccpa") == {ccpa["id"]}
    assert ids("regulation=gdpr&status=awaiting_approval") == {old["id"]}
    assert ids("source=api") == {gdpr["id"], ccpa["id"], old["id"]}
    assert ids("source=admin") == set()
    cutoff = (timezone.now() - timedelta(days=1)).isoformat().replace("+00:00", "Z")
    assert ids(f"received_after={cutoff}") == {gdpr["id"], ccpa["id"]}
    assert ids(f"received_before={cutoff}") == {old["id"]}
    assert ids(f"subject_hash={subject_hash('user-2')}") == {ccpa["id"]}
    assert ids(f"subject_hash={subject_hash('nobody')}") == set()


def test_pages_of_one_hundred(filer, auditor):
    for i in range(101):
        _file(filer, f"user-{i}")
    first = auditor.get("/api/v1/requests").json()
    assert first["count"] == 101
    assert len(first["results"]) == 100
    assert first["next"].endswith("/api/v1/requests?page=2")
    second = auditor.get("/api/v1/requests?page=2").json()
    assert len(second["results"]) == 1
    assert not {r["id"] for r in first["results"]} & {r["id"] for r in second["results"]}
    error_of(auditor.get("/api/v1/requests?page=3"), 404)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("status=lost", "status"),
        ("source=fax", "source"),
        ("regulation=hipaa", "regulation"),
        ("received_after=yesterday", "received_after"),
        ("received_before=2026-13-01", "received_before"),
        ("subject_hash=user-1", "subject_hash"),
        ("subject_hash=" + "A" * 64, "subject_hash"),
    ],
)
def test_bad_filters_are_400_naming_the_field(auditor, query, field):
    error = error_of(auditor.get(f"/api/v1/requests?{query}"), 400)
    assert field in error["fields"]
