"""The audit trail, read-only: the events, the log's state (its size, the sequencer's lag,
the latest checkpoint) and verification, and the auditors' exports (events, items or
requests), through the same code as the API's export."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.http.response import HttpResponseBase
from django.template.response import TemplateResponse
from django.urls import path

from erasure import exports
from erasure.admin.base import ReadOnlyAdmin, actor_of
from erasure.models import AuditEvent
from erasure.services import audit_log


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


class ExportForm(forms.Form):
    what = forms.ChoiceField(
        choices=[
            ("events", "Audit events"),
            ("items", "Items with their outcomes"),
            ("requests", "Requests with their counts"),
        ]
    )
    format = forms.ChoiceField(choices=[("csv", "CSV"), ("jsonl", "JSON Lines")])
    since = forms.DateTimeField(
        required=False,
        help_text="UTC, e.g. 2026-07-01 00:00 (events: occurred; items: decided; "
        "requests: received).",
    )
    until = forms.DateTimeField(required=False, help_text="UTC, exclusive.")
    request = forms.UUIDField(required=False, help_text="Only this request.")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        since, until = data.get("since"), data.get("until")
        if since and until and until <= since:
            raise forms.ValidationError("“until” must be later than “since”.")
        return data


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "occurred_at",
        "event_type",
        "actor",
        "request",
        "leaf_index",
        "leaf_hash_short",
    )
    list_filter = ("event_type",)
    search_fields = ("actor", "subject_hash", "request__id")
    list_select_related = ("request",)
    change_list_template = "admin/erasure/auditevent/change_list.html"

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
                request_id=str(data["request"]) if data.get("request") else None,
                since=data.get("since"),
                until=data.get("until"),
            )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Export the audit trail, item outcomes or requests",
            "form": form,
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
