"""GET /api/v1/audit/verify and GET /api/v1/requests/{id}/certificate."""

from __future__ import annotations

import io
import json

import pytest
from django.db import connection
from pypdf import PdfReader

from erasure.models import AuditEvent
from erasure.services import audit_log
from erasure.services.execution import request_execute
from tests.services.execution.helpers import prepare

pytestmark = pytest.mark.django_db(transaction=True)


def test_verify_reports_the_root_and_names_a_tampered_event(emulator, api_key_factory):
    auditor = api_key_factory("auditor", "audit:read")
    prepare(emulator, texts=2, vectors=1)
    pending = auditor.get("/api/v1/audit/verify").json()
    assert pending["ok"] is True and pending["pending"] == AuditEvent.objects.count()
    audit_log.sequence_pending()
    body = auditor.get("/api/v1/audit/verify").json()
    assert body["ok"] is True and body["first_bad_leaf"] is None and body["pending"] == 0
    assert body["tree_size"] == AuditEvent.objects.count()
    assert body["root_hash"] == audit_log.b64(audit_log.root_at(body["tree_size"]))
    assert body["checkpoints_checked"] >= 1

    victim = AuditEvent.objects.get(leaf_index=2)
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
        cursor.execute(
            "UPDATE erasure_auditevent SET details = %s WHERE id = %s",
            [json.dumps({"forged": True}), victim.pk],
        )
        cursor.execute("SET session_replication_role = DEFAULT")
    broken = auditor.get("/api/v1/audit/verify").json()
    assert broken["ok"] is False and broken["event_id"] == victim.pk
    assert broken["first_bad_leaf"] == broken["last_bad_leaf"] == 2
    assert "altered" in broken["reason"]

    writer = api_key_factory("writer", "requests:write")
    assert writer.get("/api/v1/audit/verify").status_code == 403


def test_the_certificate_downloads_as_pdf_and_html_once_complete(emulator, api_key_factory):
    reader = api_key_factory("reader", "audit:read")
    request = prepare(emulator, texts=3, vectors=2)
    early = reader.get(f"/api/v1/requests/{request.pk}/certificate")
    assert early.status_code == 409
    assert early.json()["error"]["code"] == "invalid_state"

    request_execute(request_id=request.pk)
    pdf = reader.get(f"/api/v1/requests/{request.pk}/certificate")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert f"erasure-certificate-{request.pk}.pdf" in pdf["Content-Disposition"]
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "Certificate of erasure" in text and "Completed" in text
    html = reader.get(f"/api/v1/requests/{request.pk}/certificate?format=html")
    assert html.status_code == 200 and html["Content-Type"].startswith("text/html")
    assert request.subject.key_hash in html.content.decode()

    assert reader.get(f"/api/v1/requests/{request.pk}/certificate?format=doc").status_code == 400
    missing = reader.get("/api/v1/requests/00000000-0000-0000-0000-000000000000/certificate")
    assert missing.status_code == 404
