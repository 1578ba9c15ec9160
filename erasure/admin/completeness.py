"""Re-checks after the vendor's retention window, and replays after a backup restore: the
evidence of each, read-only (they are started by the periodic task, `manage.py
erasure_replay` and `POST /api/v1/replays`)."""

from __future__ import annotations

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from erasure.admin.base import ReadOnlyAdmin
from erasure.models import Recheck, Replay


@admin.register(Recheck)
class RecheckAdmin(ReadOnlyAdmin):
    """A completed request's erased items checked again, per namespace."""

    list_display = (
        "request_link",
        "namespace",
        "due_at",
        "checked_at",
        "method",
        "checked",
        "reappeared",
        "follow_up_link",
    )
    list_filter = ("namespace", "method")
    list_select_related = ("namespace",)

    @admin.display(description="request", ordering="request")
    def request_link(self, obj: Recheck) -> str:
        url = reverse("admin:erasure_erasurerequest_change", args=[obj.request_id])
        return format_html('<a href="{}">{}</a>', url, str(obj.request_id)[:8])

    @admin.display(description="follow-up request")
    def follow_up_link(self, obj: Recheck) -> str:
        if obj.follow_up_id is None:
            return "—"
        url = reverse("admin:erasure_erasurerequest_change", args=[obj.follow_up_id])
        return format_html('<a href="{}">{}</a>', url, str(obj.follow_up_id)[:8])


@admin.register(Replay)
class ReplayAdmin(ReadOnlyAdmin):
    """Replays of erased items after a backup restore, and what came back."""

    list_display = (
        "id",
        "since",
        "namespace_list",
        "state",
        "created_by",
        "created_at",
        "finished_at",
        "items",
        "came_back",
        "absent",
        "unknown",
        "failed",
    )
    list_filter = ("state",)

    @admin.display(description="namespaces")
    def namespace_list(self, obj: Replay) -> str:
        return ", ".join(obj.namespaces) or "all"
