"""The whole loop: mappings through the API, a request filed and approved (four-eyes), a
real Procrastinate worker process, the emulator over real HTTP, outcomes per item."""

from __future__ import annotations

import pytest
from django.db import connection

from erasure.hashing import subject_hash
from erasure.models import AuditEvent, ItemMapping, Subject
from erasure.services import audit_log
from tests.conftest import run_worker_once

pytestmark = pytest.mark.django_db(transaction=True)

ALICE = "okta|00u1alice"
BOB = "okta|00u1bob"


def _seed(emulator) -> None:
    emulator.seed(
        [
            {
                "name": "notes",
                "type": "text",
                "items": [
                    {"id": f"{who}-note-{n}", "text": f"note {n} of {who}"}
                    for who in ("alice", "bob")
                    for n in range(3)
                ],
            },
            {
                "name": "embeddings",
                "type": "vector",
                "vector_dimension": 3,
                "items": [
                    {"id": f"{who}-vec-{n}", "vector": [0.1, 0.2, 0.3]}
                    for who in ("alice", "bob")
                    for n in range(3)
                ],
            },
        ]
    )


def _mappings(subject: str, who: str) -> list[dict[str, str]]:
    return [
        {"subject": subject, "namespace": ns, "item_id": f"{who}-{kind}-{n}"}
        for ns, kind in (("notes", "note"), ("embeddings", "vec"))
        for n in range(3)
    ]


def test_request_filed_approved_and_carried_out_by_a_worker(emulator, api_key_factory):
    _seed(emulator)
    app = api_key_factory("uploader", "mappings:write")
    filer = api_key_factory("helpdesk", "requests:write", "requests:approve")
    approver = api_key_factory("dpo", "requests:approve")

    # Alice also owns a note that is already gone from the namespace.
    items = _mappings(ALICE, "alice") + _mappings(BOB, "bob")
    items.append({"subject": ALICE, "namespace": "notes", "item_id": "alice-note-gone"})
    response = app.post("/api/v1/mappings", {"items": items}, format="json")
    assert response.status_code == 200, response.content
    assert response.json() | {"received": 13, "created": 13, "added_to_open_requests": 0} == (
        response.json()
    )

    response = filer.post("/api/v1/requests", {"subject": ALICE}, format="json")
    assert response.status_code == 201, response.content
    request_id = response.json()["id"]
    assert response.json()["status"] == "awaiting_approval"
    assert response.json()["subject_hash"] == subject_hash(ALICE)

    refused = filer.post(f"/api/v1/requests/{request_id}/approve")
    assert refused.status_code == 403
    assert "four-eyes" in refused.json()["error"]["message"]

    approved = approver.post(f"/api/v1/requests/{request_id}/approve")
    assert approved.status_code == 200, approved.content
    assert approved.json()["status"] == "approved"
    assert approved.json()["counts"]["pending"] == 7

    run_worker_once(connection.settings_dict["NAME"], emulator)

    done = filer.get(f"/api/v1/requests/{request_id}").json()
    assert done["status"] == "completed"
    # Text namespace (adaptive, the default): one delete of 4 IDs that deleted 3, a mixed
    # answer: the counts cannot say which note was missing, so none is claimed.
    # Vector namespace (fast): all 3 sent were deleted by the call, the counts prove it.
    assert done["counts"] == {
        "pending": 0,
        "deleted": 3,
        "not_found": 0,
        "deleted_or_not_found": 4,
        "failed": 0,
        "total": 7,
    }
    rows = filer.get(f"/api/v1/requests/{request_id}/items").json()["results"]
    outcomes = {(r["namespace"], r["item_id"]): r["outcome"] for r in rows}
    assert outcomes[("notes", "alice-note-gone")] == "deleted_or_not_found"
    assert outcomes[("notes", "alice-note-0")] == "deleted_or_not_found"
    assert outcomes[("embeddings", "alice-vec-2")] == "deleted"
    assert all(r["decided_by_dispatch"] is not None for r in rows)
    assert all(r["attempts"] == 1 for r in rows)

    # The emulator holds Bob's items and none of Alice's.
    assert emulator.ids("notes") == {f"bob-note-{n}" for n in range(3)}
    assert emulator.ids("embeddings") == {f"bob-vec-{n}" for n in range(3)}
    # One delete call per namespace, to the endpoint of its kind.
    deletes = [c for c in emulator.calls() if c["path"].endswith("/delete")]
    assert sorted(c["path"] for c in deletes) == [
        "/v1/namespaces/embeddings/vectors/delete",
        "/v1/namespaces/notes/documents/delete",
    ]

    # Data minimisation: Alice's mappings and raw key are gone, Bob's mappings stay.
    alice = Subject.objects.get(key_hash=subject_hash(ALICE))
    assert alice.raw_key is None
    assert not ItemMapping.objects.filter(subject=alice).exists()
    assert ItemMapping.objects.filter(subject__key_hash=subject_hash(BOB)).count() == 6

    # The audit trail tells the story, in order, and the log verifies whole.
    events = list(AuditEvent.objects.filter(request_id=request_id).order_by("id"))
    types = [e.event_type for e in events]
    assert types[:4] == ["request.filed", "request.approved", "request.started", "items.expanded"]
    assert types.count("items.expanded") == 2  # one per namespace, expanded by the job
    assert types.count("dispatch.recorded") == 2
    assert types[-1] == "request.completed"
    audit_log.sequence_pending()
    verification = audit_log.audit_verify()
    assert verification.ok and verification.tree_size == AuditEvent.objects.count()
    assert verification.checkpoints_checked >= 1
