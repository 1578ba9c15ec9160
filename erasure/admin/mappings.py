"""Item mappings, read-only: the applications register them through the API."""

from __future__ import annotations

from django.contrib import admin

from erasure.admin.base import ReadOnlyAdmin
from erasure.models import ItemMapping


@admin.register(ItemMapping)
class ItemMappingAdmin(ReadOnlyAdmin):
    list_display = ("item_id", "namespace", "subject", "registered_at", "registered_by")
    list_filter = ("namespace",)
    search_fields = ("item_id", "subject__key_hash")
    list_select_related = ("namespace", "subject")
