"""Subject aliases, read-only and shown only by their keyed hash: the applications
register them with the mappings."""

from __future__ import annotations

from django.contrib import admin

from erasure.admin.base import ReadOnlyAdmin
from erasure.models import SubjectAlias


@admin.register(SubjectAlias)
class SubjectAliasAdmin(ReadOnlyAdmin):
    list_display = ("kind", "alias_hash_short", "subject", "registered_at", "registered_by")
    list_filter = ("kind",)
    search_fields = ("alias_hash", "subject__key_hash")
    list_select_related = ("subject",)

    @admin.display(description="Alias hash")
    def alias_hash_short(self, obj: SubjectAlias) -> str:
        return obj.alias_hash[:16]
