"""POST /api/v1/aliases: bulk, idempotent, all or nothing, keyed hashes only."""

from __future__ import annotations

import pytest

from erasure.hashing import subject_hash
from erasure.models import AuditEvent, AuditEventType, SubjectAlias
from erasure.services.aliases import subject_for_alias
from tests.api.helpers import error_of, written

pytestmark = pytest.mark.django_db


@pytest.fixture
def uploader(api_key_factory):
    return api_key_factory("uploader", "mappings:write")


def test_registers_aliases_and_counts_conflicts(uploader):
    items = [
        {"subject": "user-1", "kind": "email", "alias": "Ann@Example.com"},
        {"subject": "user-1", "kind": "okta", "alias": "00u1"},
        {"subject": "user-2", "kind": "okta", "alias": "00u2"},
    ]
    response = uploader.post("/api/v1/aliases", {"items": items}, format="json")
    assert response.status_code == 200, response.content
    assert response.json() == {"received": 3, "created": 3, "conflicts": 0}
    assert subject_for_alias(kind="email", alias="ann@example.com").key_hash == subject_hash(
        "user-1"
    )
    again = uploader.post(
        "/api/v1/aliases",
        {"items": [*items, {"subject": "user-3", "kind": "okta", "alias": "00u2"}]},
        format="json",
    )
    assert again.json() == {"received": 4, "created": 0, "conflicts": 1}
    # Never moved to the other subject.
    assert subject_for_alias(kind="okta", alias="00u2").key_hash == subject_hash("user-2")
    assert SubjectAlias.objects.count() == 3
    assert not SubjectAlias.objects.filter(alias_hash__contains="@").exists()
    assert AuditEvent.objects.filter(event_type=AuditEventType.ALIASES_REGISTERED).count() == 2


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"items": []},
        {"items": {"subject": "u"}},
        {"items": [{"subject": "u", "kind": "email"}]},
        {"items": [{"subject": "", "kind": "email", "alias": "a@b.c"}]},
        {"items": [{"subject": "u", "kind": "Email!", "alias": "a@b.c"}]},
        {"items": [{"subject": "u", "kind": "k" * 41, "alias": "a"}]},
        {"items": [{"subject": "u", "kind": "email", "alias": "   "}]},
        {"items": [{"subject": "u", "kind": "email", "alias": "a" * 513}]},
        {"items": [{"subject": "u", "kind": "okta", "alias": "ok"}, {"subject": "u"}]},
    ],
)
def test_bad_items_are_400_and_nothing_is_written(uploader, payload):
    before = written()
    error = error_of(uploader.post("/api/v1/aliases", payload, format="json"), 400)
    assert error["fields"]
    assert written() == before
