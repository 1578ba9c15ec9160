"""Certificates of erasure: one page per completed request, as HTML and as PDF.

A certificate names the organisation that erased (ORGANISATION_NAME) and states the
request's facts (hashed subject, regulation, reason or ticket reference, dates, who filed
and who approved it), the items per namespace and outcome under human labels with a legend
of what each outcome means, every item that could not be erased and why, its completeness
per namespace (the last scan and what it found for the subject, the coverage counts, the
re-check after the vendor's retention window), and the signed checkpoint of the audit log
that its events are proven in. The PDF carries the request's evidence bundle
(erasure.evidence) as an attached file, which `verify_audit --bundle` checks offline: the
signature, every event's inclusion proof, and that the counts printed here are those the
completion event recorded. Every download is an audit event (`certificate.downloaded`).

A request that completed with no items at all (nothing was mapped to its subject when it
ran) says so in words instead of a table of zeros: such a certificate proves that the
request was carried out, not that anything was removed. The HTML page, when an admin user
who may view requests reads it, links back to the request's admin page; the PDF, a
document that leaves the service, carries no link.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from erasure.actors import Actor
from erasure.apis import apis
from erasure.errors import InvalidTransition
from erasure.evidence import request_evidence
from erasure.models import (
    AuditEvent,
    AuditEventType,
    ErasureItem,
    ErasureRequest,
    ItemOutcome,
    RequestStatus,
)
from erasure.selectors.completeness import NamespaceCompleteness, request_completeness
from erasure.selectors.requests import request_counts_by_namespace
from erasure.services.audit import audit_record

# Failed items listed on the certificate itself; the export lists every one.
MAX_FAILED_LISTED = 500
OUTCOME_COLUMNS = [o for o in ItemOutcome.values if o != ItemOutcome.PENDING]
# What each outcome means, in one sentence for a reader without the README (README, "Item
# outcomes"; product.md, "Item outcomes").
OUTCOME_MEANINGS: dict[str, str] = {
    ItemOutcome.DELETED: "the item existed before this request's call and is gone after it: "
    "the namespace API confirmed the deletion.",
    ItemOutcome.NOT_FOUND: "the item did not exist when it was checked: it was already gone "
    "before this erasure.",
    ItemOutcome.DELETED_OR_NOT_FOUND: "the item is gone after the call, but the API's answer "
    "cannot tell whether this call deleted it or it was already absent (a vector namespace, "
    "a delete that found some of its IDs and not others, or a call that got no answer).",
    ItemOutcome.FAILED: "the item could not be erased after every retry, or the API refused "
    "it for good; the reason is recorded with it.",
}


@dataclass(frozen=True)
class OutcomeColumn:
    """An outcome as the certificate prints it: its label over the column, its meaning in
    the legend."""

    value: str
    label: str
    meaning: str


def outcome_columns() -> list[OutcomeColumn]:
    return [
        OutcomeColumn(value=o, label=ItemOutcome(o).label, meaning=OUTCOME_MEANINGS[o])
        for o in OUTCOME_COLUMNS
    ]


@dataclass
class NamespaceCounts:
    name: str
    kind: str
    counts: dict[str, int]
    total: int
    api: str = ""


@dataclass
class ApiUsed:
    """A namespace API the request's items were erased in, as the certificate names it."""

    name: str
    flavor: str
    host: str
    namespaces: int


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
    evidence: dict[str, Any]
    issued_at: datetime
    organisation: str = ""
    completeness: list[NamespaceCompleteness] = field(default_factory=list)
    apis: list[ApiUsed] = field(default_factory=list)
    outcome_columns: list[OutcomeColumn] = field(default_factory=outcome_columns)

    @property
    def nothing_mapped(self) -> bool:
        """Completed with no item at all: nothing was mapped to the subject when the
        request ran, so nothing was erased (and no namespace API was called)."""
        return self.total == 0


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
            api=ns["api"],
        )
        for ns in request_counts_by_namespace(request=request)
    ]
    totals = {o: sum(ns.counts[o] for ns in namespaces) for o in OUTCOME_COLUMNS}
    failed_items = ErasureItem.objects.filter(
        request=request, outcome=ItemOutcome.FAILED
    ).select_related("namespace")
    failed = list(
        failed_items.order_by("namespace__name", "namespace__api", "item_id")[:MAX_FAILED_LISTED]
    )
    # The bundle first: it sequences the request's events, so the completion event read
    # next has its place in the log.
    evidence = request_evidence(request)
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
        evidence=evidence,
        issued_at=timezone.now(),
        organisation=settings.ORGANISATION_NAME,
        completeness=request_completeness(request=request),
        apis=_apis_used(namespaces),
    )


def _apis_used(namespaces: list[NamespaceCounts]) -> list[ApiUsed]:
    """The APIs of the request's namespaces, with their flavour and host (never a key); an
    API no longer configured is still named."""
    configured = apis()
    used: dict[str, int] = {}
    for ns in namespaces:
        used[ns.api] = used.get(ns.api, 0) + 1
    found = []
    for name, count in sorted(used.items()):
        config = configured.get(name)
        found.append(
            ApiUsed(
                name=name,
                flavor=config.flavor if config else "?",
                host=(urlsplit(config.url).hostname or "") if config else "(no longer configured)",
                namespaces=count,
            )
        )
    return found


def certificate_html(certificate: Certificate, *, request: HttpRequest | None = None) -> str:
    """The certificate's page; with `request`, as served (its style carries the response's
    Content-Security-Policy nonce, and it links back to the request's admin page when the
    reader may follow that link)."""
    return render_to_string(
        "erasure/certificate.html",
        {
            "c": certificate,
            "max_failed": MAX_FAILED_LISTED,
            "admin_url": _admin_url(certificate, request),
        },
        request=request,
    )


def _admin_url(certificate: Certificate, request: HttpRequest | None) -> str | None:
    """The request's admin page, for a signed-in admin user who may view requests; None
    otherwise: for the PDF (no request), and for an API key's download (its holder may
    have no admin account, and the link would lead to a login page or a 403)."""
    user = getattr(request, "user", None)
    if not isinstance(user, get_user_model()) or not (
        user.is_staff and user.has_perm("erasure.view_erasurerequest")
    ):
        return None
    return reverse("admin:erasure_erasurerequest_change", args=[certificate.request.pk])


def evidence_filename(certificate: Certificate) -> str:
    return f"erasure-evidence-{certificate.request.pk}.json"


def certificate_pdf(certificate: Certificate) -> bytes:
    """The same page as PDF (WeasyPrint: HTML and CSS to PDF, no browser involved), with
    the evidence bundle attached."""
    from weasyprint import HTML, Attachment  # imported here: it loads Pango, needed for PDFs

    bundle = json.dumps(certificate.evidence, indent=1, ensure_ascii=False).encode()
    attachment = Attachment(
        file_obj=io.BytesIO(bundle),
        name=evidence_filename(certificate),
        description="Evidence bundle: verify with python manage.py verify_audit --bundle",
    )
    pdf = HTML(string=certificate_html(certificate)).write_pdf(attachments=[attachment])
    assert pdf is not None  # write_pdf() without a target returns the bytes
    return pdf


def certificate_response(
    certificate: Certificate,
    *,
    actor: Actor,
    as_html: bool = False,
    request: HttpRequest | None = None,
) -> HttpResponse:
    """The certificate as a PDF download, or as its HTML page: for the API and the admin.
    Recorded as a `certificate.downloaded` event of the request, naming `actor`."""
    with transaction.atomic():
        audit_record(
            event_type=AuditEventType.CERTIFICATE_DOWNLOADED,
            actor=actor,
            request=certificate.request,
            details={
                "format": "html" if as_html else "pdf",
                "tree_size": certificate.evidence["log"]["tree_size"],
            },
        )
    if as_html:
        return HttpResponse(
            certificate_html(certificate, request=request), content_type="text/html; charset=utf-8"
        )
    response = HttpResponse(certificate_pdf(certificate), content_type="application/pdf")
    filename = f"erasure-certificate-{certificate.request.pk}.pdf"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
