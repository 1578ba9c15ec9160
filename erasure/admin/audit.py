"""The audit trail, read-only: the events, the log's state (its size, the sequencer's lag,
the latest checkpoint) and verification, and the auditors' exports (events, items or
requests), through the same code as the API's export.

An auditor has the pages, not the README: the export page explains every column of every
export (`EXPORT_COLUMNS`, kept next to erasure.exports' column lists by a test) and what
verifying an export proves, and the verify page says in words what "intact" means and
hands over the checkpoint and key to verify with later. Request ids are typed as the pages
show them: the first 8 characters are enough.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.http.response import HttpResponseBase
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from erasure import exports
from erasure.admin.base import ReadOnlyAdmin, actor_of
from erasure.certificates import OUTCOME_MEANINGS
from erasure.errors import NotFound
from erasure.lifecycle import ItemOutcome
from erasure.models import AuditEvent, ErasureRequest
from erasure.selectors.requests import request_by_typed_id
from erasure.services import audit_log

_UTC = "UTC, ISO 8601 (e.g. 2026-12-02T21:50:00.123456+00:00)"
# The item outcomes as the export writes them, each in one sentence (the certificate's
# legend, and pending, which a certificate never shows).
EXPORT_OUTCOMES: list[tuple[str, str]] = [
    (
        ItemOutcome.PENDING.value,
        "the item is not yet confirmed gone; it may be waiting for a retry.",
    ),
    *((str(outcome), meaning) for outcome, meaning in OUTCOME_MEANINGS.items()),
]
_COUNT = "how many of the request's items ended {}"

# Every column of every export, in the export's order, as the export page explains it to
# an auditor (README, "Audit trail and evidence"). A test holds them to erasure.exports.
EXPORT_COLUMNS: dict[str, list[tuple[str, str]]] = {
    "events": [
        ("id", "the event's number, in the order the events were written."),
        ("occurred_at", f"when it happened, {_UTC}."),
        (
            "event_type",
            "what happened, as a stable name: request.filed, request.approved, "
            "dispatch.recorded (one call to the namespace API), request.completed, "
            "certificate.downloaded, export.created, and so on.",
        ),
        (
            "actor",
            "who did it: user:NAME (a person signed in to this admin), api_key:NAME (a "
            "system using the REST API), webhook:SLUG (an identity system) or system:WHAT "
            "(the service itself).",
        ),
        (
            "request_id",
            "the erasure request the event belongs to; empty (CSV) or null (JSON Lines) "
            "for an event of no request.",
        ),
        (
            "subject_hash",
            "the person concerned, as a keyed hash: never their raw identifier or email.",
        ),
        (
            "details",
            "everything else the event recorded (counts, reasons, comments, formats), as "
            "compact JSON with sorted keys: text in CSV, an object in JSON Lines.",
        ),
        (
            "prev_hash",
            "the previous event's hash in the retired hash chain: set only on events "
            "written before the audit log replaced it; empty since.",
        ),
        ("hash", "the event's hash in the retired hash chain (as prev_hash)."),
        (
            "leaf_index",
            "the event's place in the audit log, from 0; empty for an event the sequencer "
            "has not placed yet (seconds after it was written).",
        ),
        (
            "leaf_hash",
            "the event's fingerprint in the log (base64 of a SHA-256 of its first seven "
            "columns): change one character of the event and it no longer matches.",
        ),
    ],
    "items": [
        ("request_id", "the erasure request the item was erased for."),
        (
            "namespace",
            "the namespace the item lives in (API/namespace for one of another namespace "
            "API than the default one).",
        ),
        ("namespace_kind", "text (documents) or vector."),
        ("item_id", "the item's ID in its namespace."),
        (
            "outcome",
            "what became of the item: pending, deleted, not_found, deleted_or_not_found or "
            "failed, as explained below the table.",
        ),
        ("attempts", "how many times the item was sent to the namespace API."),
        (
            "last_http_status",
            "the HTTP status of the last call about the item; empty when that call got no "
            "answer or none was made.",
        ),
        ("last_error", "why the last try failed (for a failed item: why it could not be erased)."),
        ("decided_at", f"when the outcome was recorded, {_UTC}; empty while pending."),
        (
            "dispatch_id",
            "the dispatch (one call to the namespace API, for a batch of items) that decided "
            "the outcome; its audit event is a dispatch.recorded event.",
        ),
    ],
    "requests": [
        ("id", "the request's id (pages show its first 8 characters)."),
        (
            "status",
            "where it stands: received, awaiting_approval, approved, scheduled, running, "
            "completed, completed_with_failures, failed, cancelled or on_hold.",
        ),
        (
            "source",
            "how it was filed: admin, api (the REST API), webhook (an identity system) or "
            "system (by the service itself, for data registered after an erasure).",
        ),
        ("regulation", "the law it was filed under: gdpr, ccpa, lgpd or other."),
        ("subject_hash", "the person concerned, as a keyed hash."),
        ("received_at", f"when the request was received, {_UTC}."),
        ("due_at", "its legal deadline (extensions and pauses included), UTC."),
        ("approved_at", "when it was approved, UTC; empty if it was not."),
        ("started_at", "when its erasure started, UTC."),
        ("completed_at", "when it completed, UTC; empty while open or if cancelled."),
        (
            "filed_by",
            "who filed it: user:NAME, api_key:NAME, or its source (webhook, system) when "
            "nobody did by hand.",
        ),
        (
            "approved_by",
            "who approved it: user:NAME, api_key:NAME, auto (by its source's policy), or empty.",
        ),
        ("auto_approved", "true when it was approved by its source's policy, without a person."),
        (
            "items",
            "how many items it covered; 0 when nothing was mapped to the subject when it "
            "ran, and then nothing was erased.",
        ),
        ("deleted", _COUNT.format("deleted") + "."),
        ("not_found", _COUNT.format("not_found (already gone)") + "."),
        (
            "deleted_or_not_found",
            _COUNT.format("deleted_or_not_found (gone, the API cannot tell which)") + ".",
        ),
        ("failed", _COUNT.format("failed") + "."),
        ("pending", _COUNT.format("still pending") + "."),
        ("reason", "the reason or ticket reference given when the request was filed."),
    ],
}


def stream_export(
    request: HttpRequest,
    *,
    what: str,
    export_format: str,
    request_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> HttpResponseBase:
    """An export from the admin: the API's code path (erasure.exports), recorded as an
    `export.created` event naming the person. Auditors only."""
    if not request.user.has_perm("erasure.export_audit"):
        raise PermissionDenied
    if what not in exports.WHAT or export_format not in exports.FORMATS:
        return HttpResponseBadRequest(
            "unknown export: what must be events, items or requests, format csv or jsonl"
        )
    return exports.export_response(
        actor=actor_of(request),
        what=what,
        export_format=export_format,
        request_id=request_id,
        since=since,
        until=until,
    )


EXPORT_KINDS = [
    ("events", "Audit events"),
    ("items", "Items with their outcomes"),
    ("requests", "Requests with their counts"),
]


class ExportForm(forms.Form):
    what = forms.ChoiceField(choices=EXPORT_KINDS)
    format = forms.ChoiceField(choices=[("csv", "CSV"), ("jsonl", "JSON Lines")])
    since = forms.DateTimeField(
        required=False,
        help_text="UTC, e.g. 2026-07-01 00:00 (events: occurred; items: decided; "
        "requests: received).",
    )
    until = forms.DateTimeField(
        required=False, help_text="UTC, exclusive: the export stops just before it."
    )
    request = forms.CharField(
        required=False,
        max_length=100,
        help_text="Only this request: its id, or the first 8 characters of it that every "
        "page shows.",
    )

    def clean_request(self) -> ErasureRequest | None:
        typed = self.cleaned_data.get("request", "")
        if not typed.strip():
            return None
        try:
            return request_by_typed_id(typed)
        except NotFound as exc:
            raise forms.ValidationError(exc.message) from exc
        except ValueError as exc:
            # More hex digits than an id has: no request can begin with them.
            raise forms.ValidationError(
                f"“{typed.strip()[:40]}” is not a request id: it is longer than one"
            ) from exc

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        since, until = data.get("since"), data.get("until")
        if since and until and until <= since:
            raise forms.ValidationError("“until” must be later than “since”.")
        return data


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    # The request as the 8 characters every page shows (its full name and status made the
    # list wider than a 1,280 px window), linked for those who may open it.
    list_display = (
        "id",
        "occurred_at",
        "event_type",
        "actor",
        "request_link",
        "leaf_index",
        "leaf_hash_short",
    )
    list_filter = ("event_type",)
    search_fields = ("actor", "subject_hash", "request__id")
    change_list_template = "admin/erasure/auditevent/change_list.html"

    def get_list_display(self, request: HttpRequest) -> tuple[Any, ...]:
        may_open = request.user.has_perm("erasure.view_erasurerequest")
        shown = "request_link" if may_open else "request_short"
        return tuple(shown if name == "request_link" else name for name in self.list_display)

    @admin.display(description="request", ordering="request_id")
    def request_link(self, obj: AuditEvent) -> str:
        if obj.request_id is None:
            return "—"
        url = reverse("admin:erasure_erasurerequest_change", args=[obj.request_id])
        return format_html('<a href="{}">{}</a>', url, str(obj.request_id)[:8])

    @admin.display(description="request", ordering="request_id")
    def request_short(self, obj: AuditEvent) -> str:
        return str(obj.request_id)[:8] if obj.request_id else "—"

    def get_urls(self):
        own = [
            path(
                "export/",
                self.admin_site.admin_view(self.export_view),
                name="erasure_auditevent_export",
            ),
            path(
                "verify/",
                self.admin_site.admin_view(self.verify_view),
                name="erasure_auditevent_verify",
            ),
        ]
        return own + super().get_urls()

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None):
        extra_context = {
            **(extra_context or {}),
            "can_export": request.user.has_perm("erasure.export_audit"),
            "log": log_state(),
        }
        return super().changelist_view(request, extra_context)

    def export_view(self, request: HttpRequest) -> HttpResponseBase:
        """Auditors export events, items or requests, for a date range or one request."""
        if not request.user.has_perm("erasure.export_audit"):
            raise PermissionDenied
        form = ExportForm(request.GET or None)
        if request.GET and form.is_valid():
            data = form.cleaned_data
            return stream_export(
                request,
                what=data["what"],
                export_format=data["format"],
                request_id=str(data["request"].pk) if data.get("request") else None,
                since=data.get("since"),
                until=data.get("until"),
            )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Export the audit trail, item outcomes or requests",
            "form": form,
            "columns": [(what, label, EXPORT_COLUMNS[what]) for what, label in EXPORT_KINDS],
            "outcomes": EXPORT_OUTCOMES,
        }
        return TemplateResponse(request, "admin/erasure/auditevent/export.html", context)

    def verify_view(self, request: HttpRequest) -> HttpResponse:
        """Recompute the log from its events, hold it to every stored checkpoint, and show
        the result (and the checkpoint to keep)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Verify the audit log",
            "result": audit_log.audit_verify(),
            "log": log_state(),
        }
        return TemplateResponse(request, "admin/erasure/auditevent/verify.html", context)

    @admin.display(description="Leaf hash")
    def leaf_hash_short(self, obj: AuditEvent) -> str:
        return audit_log.b64(bytes(obj.leaf_hash))[:16] if obj.leaf_hash is not None else "pending"


def log_state() -> dict[str, Any]:
    """The log at a glance: its size, the events waiting for the sequencer (the lag, with
    the age of the oldest), and the latest checkpoint."""
    oldest = (
        AuditEvent.objects.filter(leaf_index__isnull=True)
        .order_by("id")
        .values_list("occurred_at", flat=True)
        .first()
    )
    return {
        "size": audit_log.tree_size(),
        "pending": audit_log.pending_count(),
        "oldest_pending": oldest,
        "checkpoint": audit_log.latest_checkpoint(),
        "signing": audit_log.signer() is not None,
    }
