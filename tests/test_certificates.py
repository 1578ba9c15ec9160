"""The certificate of erasure: its facts, as HTML and as a PDF whose text is read back."""

from __future__ import annotations

import io
import re

import pytest
from pypdf import PdfReader

from erasure.certificates import certificate_for, certificate_html, certificate_pdf
from erasure.errors import InvalidTransition
from erasure.models import AuditEvent, AuditEventType
from erasure.services.execution import request_execute
from tests.services.execution.helpers import prepare

pytestmark = pytest.mark.django_db(transaction=True)


def _pdf_text(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    return "\n".join(page.extract_text() for page in reader.pages)


def test_a_completed_request_with_failures_gets_a_certificate_that_says_so(emulator, settings):
    settings.ERASURE_MAX_ATTEMPTS = 1
    request = prepare(emulator, texts=4, vectors=3, absent=1)
    # Every vector delete is answered 500 and the retry budget is 1: those items fail.
    emulator.control("faults/next", {"namespace": "vecs", "fault": "server_error", "count": 4})
    request_execute(request_id=request.pk)
    request.refresh_from_db()
    assert request.status == "completed_with_failures"

    certificate = certificate_for(request)
    assert [(ns.name, ns.total) for ns in certificate.namespaces] == [("notes", 5), ("vecs", 4)]
    assert certificate.totals["failed"] == 4 and certificate.failed_total == 4
    completion = AuditEvent.objects.get(
        request=request, event_type=AuditEventType.REQUEST_COMPLETED
    )
    assert certificate.completion_event == completion

    html = certificate_html(certificate)
    assert request.subject.key_hash in html
    completion.refresh_from_db()
    assert f"leaf {completion.leaf_index} of the log" in html
    assert certificate.evidence["log"]["checkpoint"] in html
    assert "user filer" in html and "user approver" in html

    pdf = certificate_pdf(certificate)
    assert pdf.startswith(b"%PDF-")
    text = _pdf_text(pdf)
    flat = re.sub(r"\s+", "", text)
    assert "Certificate of erasure" in text
    assert "Completed with failures" in text
    assert request.subject.key_hash in flat
    assert certificate.evidence["log"]["root_hash"] in flat
    for n in range(3):
        assert f"v{n}" in text  # each failed ID is listed
    assert "crash-test-subject" not in text  # the raw subject key never appears


def test_no_certificate_before_completion(emulator):
    request = prepare(emulator, texts=1, vectors=0)
    with pytest.raises(InvalidTransition, match="once the request has completed"):
        certificate_for(request)
