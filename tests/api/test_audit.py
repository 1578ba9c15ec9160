"""GET /api/v1/audit/export: streamed CSV / JSON Lines, stable columns, a chain an auditor
can verify from the export alone, and an `export.created` event for every export."""

from __future__ import annotations

import base64
import csv
import io
import json
from datetime import timedelta

import pytest
from django.utils import timezone

from erasure.exports import COLUMNS
from erasure.models import AuditEvent, AuditEventType
from erasure.transparency.leaves import event_leaf_hash
from tests.api.helpers import error_of, written

pytestmark = pytest.mark.django_db


@pytest.fixture
def auditor(api_key_factory):
    return api_key_factory("auditor", "audit:read")


@pytest.fixture
def trail(api_key_factory):
    """A few events: keys created, requests filed (one with a reason) and cancelled."""
    filer = api_key_factory("filer", "requests:write")
    for i in range(3):
        filer.post("/api/v1/requests", {"subject": f"user-{i}"}, format="json")
    created = filer.post("/api/v1/requests", {"subject": "user-x"}, format="json").json()
    filer.post(
        f"/api/v1/requests/{created['id']}/cancel",
        {"reason": 'asked "twice",\nby phone; ünïcode'},
        format="json",
    )


def _body(response) -> str:
    assert response.status_code == 200, response.content
    assert response.streaming
    return b"".join(response.streaming_content).decode()


def _csv_rows(text: str) -> list[dict[str, str]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    assert tuple(reader.fieldnames or ()) == COLUMNS
    return list(reader)


def _recompute(row: dict) -> str:
    """The leaf hash of an exported row (erasure.transparency.leaves), base64."""
    leaf = dict(row, id=int(row["id"]), request_id=row["request_id"] or None)
    return base64.b64encode(event_leaf_hash(leaf)).decode()


def test_csv_export_has_one_row_per_event_and_a_verifiable_chain(auditor, trail):
    events = list(AuditEvent.objects.order_by("id"))
    response = auditor.get("/api/v1/audit/export?format=csv")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="audit-' in response["Content-Disposition"]
    text = _body(response)
    # Subjects appear as keyed hashes only.
    assert "user-1" not in text
    rows = _csv_rows(text)
    assert [int(r["id"]) for r in rows] == [e.id for e in events]
    # In log order, each row's leaf hash recomputed from its columns.
    assert [int(r["leaf_index"]) for r in rows] == list(range(len(rows)))
    for row in rows:
        row["details"] = json.loads(row["details"])
        assert _recompute(row) == row["leaf_hash"]
        assert row["prev_hash"] == row["hash"] == ""
    cancelled = next(r for r in rows if r["event_type"] == "request.cancelled")
    assert cancelled["details"]["reason"] == 'asked "twice",\nby phone; ünïcode'
    assert cancelled["request_id"]


def test_jsonl_export_has_the_same_rows_as_objects(auditor, trail):
    rows = [
        json.loads(line)
        for line in _body(auditor.get("/api/v1/audit/export?format=jsonl")).splitlines()
    ]
    assert rows
    for index, row in enumerate(rows):
        assert tuple(row) == COLUMNS
        assert isinstance(row["details"], dict)
        assert row["leaf_index"] == index
        assert _recompute(row) == row["leaf_hash"]
    assert any(r["request_id"] is None for r in rows)


def test_every_export_is_an_audit_event_and_covers_what_came_before_it(auditor, trail):
    before = AuditEvent.objects.count()
    response = auditor.get("/api/v1/audit/export?format=jsonl")
    # Recorded before the first row is read.
    event = AuditEvent.objects.order_by("-id").first()
    assert event.event_type == AuditEventType.EXPORT_CREATED
    assert event.actor == "api_key:auditor"
    assert event.details == {
        "what": "audit_trail",
        "format": "jsonl",
        "since": None,
        "until": None,
        "request": None,
    }
    assert response["X-Export-Event-Id"] == str(event.id)
    rows = _body(response).splitlines()
    assert len(rows) == before
    # The next export includes the first one's event.
    later = _body(auditor.get("/api/v1/audit/export?format=jsonl")).splitlines()
    assert json.loads(later[-1])["event_type"] == "export.created"


def test_since_is_inclusive_and_until_exclusive(auditor, trail):
    events = list(AuditEvent.objects.order_by("id"))
    middle = events[len(events) // 2]
    since = middle.occurred_at.isoformat()
    rows = _csv_rows(_body(auditor.get("/api/v1/audit/export", {"since": since})))
    assert [int(r["id"]) for r in rows] == [
        e.id for e in events if e.occurred_at >= middle.occurred_at
    ]
    rows = _csv_rows(_body(auditor.get("/api/v1/audit/export", {"until": since})))
    assert [int(r["id"]) for r in rows] == [
        e.id for e in events if e.occurred_at < middle.occurred_at
    ]
    future = (timezone.now() + timedelta(days=1)).isoformat()
    assert _csv_rows(_body(auditor.get("/api/v1/audit/export", {"since": future}))) == []


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"format": "xml"}, "format"),
        ({"format": "json"}, "format"),
        ({"since": "last week"}, "since"),
        ({"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"}, "until"),
        ({"since": "2026-01-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"}, "until"),
    ],
)
def test_bad_parameters_are_400_as_json_and_record_no_export(auditor, trail, query, field):
    before = written()
    response = auditor.get("/api/v1/audit/export", query)
    assert response["Content-Type"] == "application/json"
    assert field in error_of(response, 400)["fields"]
    assert written() == before


def test_rows_come_from_a_server_side_cursor_as_they_are_sent(trail):
    from django.db import connection

    from erasure import exports

    rows = exports.audit_export_rows()
    next(rows)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_cursors WHERE name LIKE '_django_curs_%%'")
        (open_cursors,) = cursor.fetchone()
    assert open_cursors == 1
    rows.close()
