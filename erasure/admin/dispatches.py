"""Dispatches, read-only: one row per HTTP call to the namespace API."""

from __future__ import annotations

from django.contrib import admin

from erasure.admin.base import ReadOnlyAdmin
from erasure.models import Dispatch


@admin.register(Dispatch)
class DispatchAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "created_at",
        "namespace",
        "endpoint",
        "ids_sent",
        "http_status",
        "requested_deletions",
        "actual_deletions",
        "unprocessed_count",
        "latency_ms",
    )
    list_filter = ("endpoint", "http_status", "namespace")
    list_select_related = ("namespace",)
