"""Certificates of erasure: one page per completed request, as HTML and as PDF.

A certificate states the request's facts (hashed subject, regulation, dates, who filed and
who approved it), the items per namespace and outcome, every item that could not be erased
and why, and the hash of the request's completion event: the audit chain head at
completion, so an auditor can tie the certificate to the trail (`verify_audit`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.http import HttpResponse
from django.template.loader import render_to_string
from django.utils import timezone

from erasure.errors import InvalidTransition
from erasure.models import (
    AuditEvent,
    AuditEventType,
    ErasureItem,
    ErasureRequest,
    ItemOutcome,
    RequestStatus,
)
from erasure.selectors.requests import request_counts_by_namespace
from erasure.services.audit import audit_chain_head

# Failed items listed on the certificate itself; the export lists every one.
MAX_FAILED_LISTED = 500
OUTCOME_COLUMNS = [o for o in ItemOutcome.values if o != ItemOutcome.PENDING]


@dataclass
class NamespaceCounts:
    name: str
    kind: str
    counts: dict[str, int]
    total: int


@dataclass
class Certificate:
    request: ErasureRequest
    filed_by: str
    approved_by: str
    namespaces: list[NamespaceCounts]
    totals: dict[str, int]
    total: int
    failed: list[ErasureItem]
    failed_total: int
    completion_event: AuditEvent | None
    chain_head_now: str
    issued_at: datetime
    outcome_columns: list[str] = field(default_factory=lambda: list(OUTCOME_COLUMNS))


def _who(user: Any, api_key: Any, *, auto: bool = False) -> str:
    if auto:
        return "automatically (by its source's policy)"
    if user is not None:
        return f"user {user.get_username()}"
    if api_key is not None:
        return f"API key {api_key.name}"
    return "—"


def certificate_for(request: ErasureRequest) -> Certificate:
    """The facts of a completed request's certificate (read-only)."""
    if request.status not in (RequestStatus.COMPLETED, RequestStatus.COMPLETED_WITH_FAILURES):
        raise InvalidTransition(
            "a certificate is issued once the request has completed; this one is "
            f"{request.get_status_display().lower()}"
        )
    namespaces = [
        NamespaceCounts(
            name=ns["name"],
            kind=ns["kind"],
            counts={o: ns["counts"][o] for o in OUTCOME_COLUMNS},
            total=ns["total"],
        )
        for ns in request_counts_by_namespace(request=request)
    ]
    totals = {o: sum(ns.counts[o] for ns in namespaces) for o in OUTCOME_COLUMNS}
    failed_items = ErasureItem.objects.filter(
        request=request, outcome=ItemOutcome.FAILED
    ).select_related("namespace")
    failed = list(failed_items.order_by("namespace__name", "item_id")[:MAX_FAILED_LISTED])
    completion = (
        AuditEvent.objects.filter(request=request, event_type=AuditEventType.REQUEST_COMPLETED)
        .order_by("-id")
        .first()
    )
    return Certificate(
        request=request,
        filed_by=_who(request.filed_by, request.filed_by_api_key)
        if request.filed_by or request.filed_by_api_key
        else f"{request.get_source_display()}",
        approved_by=_who(
            request.approved_by, request.approved_by_api_key, auto=request.auto_approved
        ),
        namespaces=namespaces,
        totals=totals,
        total=sum(totals.values()),
        failed=failed,
        failed_total=failed_items.count() if len(failed) == MAX_FAILED_LISTED else len(failed),
        completion_event=completion,
        chain_head_now=audit_chain_head(),
        issued_at=timezone.now(),
    )


def certificate_html(certificate: Certificate) -> str:
    return render_to_string(
        "erasure/certificate.html", {"c": certificate, "max_failed": MAX_FAILED_LISTED}
    )


def certificate_pdf(certificate: Certificate) -> bytes:
    """The same page as PDF (WeasyPrint: HTML and CSS to PDF, no browser involved)."""
    from weasyprint import HTML  # imported here: it loads Pango, needed only for PDFs

    pdf = HTML(string=certificate_html(certificate)).write_pdf()
    assert pdf is not None  # write_pdf() without a target returns the bytes
    return pdf


def certificate_response(certificate: Certificate, *, as_html: bool = False) -> HttpResponse:
    """The certificate as a PDF download, or as its HTML page: for the API and the admin."""
    if as_html:
        return HttpResponse(certificate_html(certificate), content_type="text/html; charset=utf-8")
    response = HttpResponse(certificate_pdf(certificate), content_type="application/pdf")
    filename = f"erasure-certificate-{certificate.request.pk}.pdf"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
