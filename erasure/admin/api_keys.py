"""API keys: listed and revoked here, never created or edited (`manage.py
create_api_key` creates them and prints the key once)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import path, reverse

from erasure.admin.base import BaseAdmin, actor_of
from erasure.errors import ServiceError
from erasure.models import ApiKey
from erasure.services.api_keys import api_key_revoke


@admin.register(ApiKey)
class ApiKeyAdmin(BaseAdmin):
    """Keys are listed and revoked here, never created or edited: `manage.py
    create_api_key` creates them and prints the key once. The hash is never shown."""

    list_display = ("name", "prefix", "scope_list", "created_at", "last_used_at", "revoked_at")
    list_filter = (("revoked_at", admin.EmptyFieldListFilter),)
    search_fields = ("name", "prefix")
    fields = ("name", "prefix", "scopes", "created_at", "last_used_at", "revoked_at")
    readonly_fields = fields
    actions = ("revoke",)

    @admin.display(description="Scopes")
    def scope_list(self, obj: ApiKey) -> str:
        return ", ".join(obj.scopes)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Without an object: the change list and its "Revoke" action. With one: the key's
        # page is read-only (nothing on it may be edited).
        return obj is None and super().has_change_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Revoked, never deleted: audit events and requests name the key.
        return False

    change_form_template = "admin/erasure/apikey/change_form.html"

    def get_urls(self):
        own = [
            path(
                "<path:object_id>/revoke/",
                self.admin_site.admin_view(self.revoke_view),
                name="erasure_apikey_revoke",
            ),
        ]
        return own + super().get_urls()

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        key = self.get_object(request, object_id)
        extra_context = {
            **(extra_context or {}),
            "can_revoke": key is not None
            and key.revoked_at is None
            and self.has_change_permission(request),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def revoke_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The "Revoke" button of a key's page (POST)."""
        if not self.has_change_permission(request):
            raise PermissionDenied
        target = reverse("admin:erasure_apikey_change", args=[object_id])
        if request.method != "POST":
            return HttpResponseRedirect(target)
        key = self.get_object(request, unquote(object_id))
        if key is None:  # unknown, or not an id at all
            raise Http404("no such API key")
        try:
            api_key_revoke(key=key, actor=actor_of(request))
        except ServiceError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"The API key {key.name!r} was revoked.")
        return HttpResponseRedirect(target)

    @admin.action(description="Revoke selected API keys", permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        actor = actor_of(request)
        revoked, skipped = [], []
        for key in queryset.order_by("name"):
            try:
                api_key_revoke(key=key, actor=actor)
            except ServiceError:
                skipped.append(key.name)
            else:
                revoked.append(key.name)
        if revoked:
            self.message_user(request, f"Revoked: {', '.join(revoked)}.", messages.SUCCESS)
        if skipped:
            self.message_user(request, f"Already revoked: {', '.join(skipped)}.", messages.WARNING)
