"""Erasure items, read-only: each item's outcome, attempts and last error, filterable by
outcome (the request page links here with its own filter)."""

from __future__ import annotations

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from erasure.admin.base import ReadOnlyAdmin
from erasure.models import ErasureItem


@admin.register(ErasureItem)
class ErasureItemAdmin(ReadOnlyAdmin):
    list_display = (
        "item_id",
        "namespace",
        "outcome",
        "attempts",
        "last_http_status",
        "last_error",
        "decided_at",
        "request_link",
    )
    list_filter = ("outcome", "namespace")
    search_fields = ("item_id",)
    list_select_related = ("namespace", "request")

    @admin.display(description="Request")
    def request_link(self, obj: ErasureItem) -> str:
        url = reverse("admin:erasure_erasurerequest_change", args=[obj.request_id])
        return format_html('<a href="{}">{}</a>', url, str(obj.request_id)[:8])
