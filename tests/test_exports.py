"""Exports of items and requests (per request and by date range, CSV and JSON Lines), and
an events export that verify_audit checks offline, all through the API's code path."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from erasure.exports import ITEM_COLUMNS, REQUEST_COLUMNS
from erasure.models import AuditEvent, ErasureRequest
from erasure.services import audit_log
from erasure.services.execution import request_execute
from tests.services.execution.helpers import prepare

pytestmark = pytest.mark.django_db(transaction=True)


def _get(client, query: str) -> str:
    response = client.get(f"/api/v1/audit/export?{query}")
    assert response.status_code == 200, response.content
    assert response.streaming
    return b"".join(
        chunk if isinstance(chunk, bytes) else chunk.encode()
        for chunk in response.streaming_content
    ).decode()


@pytest.fixture
def completed(emulator, settings):
    settings.ERASURE_MAX_ATTEMPTS = 1
    request = prepare(emulator, texts=6, vectors=4, absent=1, text_mode="exact")
    emulator.control("faults/next", {"namespace": "vecs", "fault": "server_error", "count": 4})
    request_execute(request_id=request.pk)
    request.refresh_from_db()
    assert request.status == "completed_with_failures"
    return request


def test_items_of_a_request_as_csv_and_jsonl(completed, api_key_factory):
    auditor = api_key_factory("auditor", "audit:read")
    text = _get(auditor, f"what=items&format=csv&request={completed.pk}")
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert tuple(rows[0].keys()) == ITEM_COLUMNS
    assert len(rows) == 12
    by_id = {row["item_id"]: row for row in rows}
    assert by_id["t0"]["outcome"] == "deleted" and by_id["t0"]["namespace_kind"] == "text"
    assert by_id["t6"]["outcome"] == "not_found"
    assert by_id["v0"]["outcome"] == "failed" and by_id["v0"]["last_http_status"] == "500"
    assert by_id["v0"]["last_error"]
    assert by_id["t0"]["decided_at"].endswith("+00:00") and "T" in by_id["t0"]["decided_at"]

    lines = _get(auditor, f"what=items&format=jsonl&request={completed.pk}").splitlines()
    objects = [json.loads(line) for line in lines]
    assert len(objects) == 12 and list(objects[0]) == list(ITEM_COLUMNS)
    assert {o["item_id"]: o["outcome"] for o in objects} == {
        r["item_id"]: r["outcome"] for r in rows
    }
    assert isinstance(objects[0]["attempts"], int)
    # Every export is itself an audit event, naming what was exported.
    event = AuditEvent.objects.filter(event_type="export.created").order_by("-id").first()
    assert event.details["what"] == "items" and event.details["request"] == str(completed.pk)
    assert event.actor == "api_key:auditor"


def test_requests_by_date_range(completed, api_key_factory):
    auditor = api_key_factory("auditor", "audit:read")
    # Free text as an officer types it: a comma, a quote, a line break.
    reason = 'Ticket SUP-7, "urgent"\nby e-mail'
    ErasureRequest.objects.filter(pk=completed.pk).update(reason=reason)
    now = timezone.now()
    since = (now - timedelta(hours=1)).isoformat()
    text = _get(auditor, f"what=requests&format=csv&since={since.replace('+', '%2B')}")
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert tuple(rows[0].keys()) == REQUEST_COLUMNS
    (row,) = rows
    assert row["id"] == str(completed.pk) and row["status"] == "completed_with_failures"
    assert (row["items"], row["deleted"], row["not_found"], row["failed"]) == ("12", "6", "1", "5")
    assert row["filed_by"] == "user:filer" and row["approved_by"] == "user:approver"
    assert row["subject_hash"] == completed.subject.key_hash
    assert row["reason"] == reason
    later = (now + timedelta(hours=1)).isoformat().replace("+", "%2B")
    assert _get(auditor, f"what=requests&format=csv&since={later}").count("\n") == 1


def test_an_events_export_verifies_offline(completed, api_key_factory, tmp_path):
    auditor = api_key_factory("auditor", "audit:read")
    export = tmp_path / "events.jsonl"
    export.write_text(_get(auditor, "format=jsonl"))
    # The export covers the events before its own export.created event, each with its
    # place in the log: a whole log up to a checkpoint of that size.
    export_event = AuditEvent.objects.filter(event_type="export.created").get()
    covered = AuditEvent.objects.filter(id__lt=export_event.pk).count()
    checkpoint = tmp_path / "checkpoint"
    audit_log.sequence_pending()
    cp = audit_log.AuditCheckpoint.objects.filter(tree_size=covered).first()
    key = audit_log.signer().verifier.encode()
    out = StringIO()
    if cp is not None:
        checkpoint.write_text(cp.note)
        call_command(
            "verify_audit",
            "--file",
            str(export),
            "--checkpoint",
            str(checkpoint),
            "--public-key",
            key,
            stdout=out,
        )
        assert "1 signed checkpoints held" in out.getvalue()
    else:
        call_command("verify_audit", "--file", str(export), stdout=out)
    assert out.getvalue().startswith(f"OK: {covered} events verified")
    root = audit_log.root_at(covered)
    assert f"root {audit_log.b64(root)}" in out.getvalue()


def test_an_unknown_export_is_a_400_and_records_nothing(api_key_factory):
    auditor = api_key_factory("auditor", "audit:read")
    response = auditor.get("/api/v1/audit/export?what=subjects")
    assert response.status_code == 400
    assert response.json()["error"]["fields"]["what"]
    response = auditor.get("/api/v1/audit/export?what=items&request=not-a-uuid")
    assert response.status_code == 400
    assert not AuditEvent.objects.filter(event_type="export.created").exists()
