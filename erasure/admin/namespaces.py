"""Namespaces: added by hand or synchronised from the namespace API; only the attribution
mode changes afterwards (the name and kind are the namespace's identity). Both go through
the services, with their audit events, like the API."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from erasure.admin.base import BaseAdmin, actor_of
from erasure.models import Namespace
from erasure.services.namespaces import namespace_create, namespace_set_mode


@admin.register(Namespace)
class NamespaceAdmin(BaseAdmin):
    list_display = ("name", "kind", "attribution_mode", "created_at")
    list_filter = ("kind", "attribution_mode")
    fields = ("name", "kind", "attribution_mode")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None):
        return ("name", "kind") if obj is not None else ()

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if not change:
            created = namespace_create(
                name=form.cleaned_data["name"],
                kind=form.cleaned_data["kind"],
                attribution_mode=form.cleaned_data["attribution_mode"],
                actor=actor_of(request),
            )
            # The admin goes on to log and redirect using `obj`: make it the created row.
            obj.pk = created.pk
            obj._state.adding = False
            obj.refresh_from_db()
            return
        # A mode change goes through the service: audited, like the API's PATCH.
        namespace_set_mode(
            namespace=obj,
            mode=form.cleaned_data["attribution_mode"],
            actor=actor_of(request),
        )

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
