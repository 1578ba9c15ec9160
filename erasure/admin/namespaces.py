"""Namespaces: added by hand or synchronised from the namespace API; their settings change
afterwards (the name and kind are the namespace's identity). Both go through the services,
with their audit events, like the API."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.utils import timezone

from erasure.admin.base import BaseAdmin, ReadOnlyAdmin, actor_of
from erasure.apis import apis, default_api_name
from erasure.errors import InvalidInput
from erasure.models import Namespace, NamespaceScan
from erasure.services.namespaces import (
    UPDATABLE_FIELDS,
    namespace_changes_check,
    namespace_create,
    namespace_update,
)
from erasure.services.scans import coverage as namespace_coverage
from erasure.services.scans import scan_request


class NamespaceForm(forms.ModelForm):
    """The service's own checks of the settings, shown on the form (a bad value is a form
    error, never a failed save)."""

    class Meta:
        model = Namespace
        fields = ("api", "name", "kind", *UPDATABLE_FIELDS)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "api" in self.fields:
            # The configured APIs only, the default one first (and preselected).
            self.fields["api"] = forms.ChoiceField(
                choices=[(name, name) for name in apis()],
                initial=default_api_name(),
                required=False,
                label="Namespace API",
                help_text="The namespace API the namespace lives in (a name may exist in two).",
            )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        try:
            namespace_changes_check(
                {field: data[field] for field in UPDATABLE_FIELDS if field in data}
            )
        except InvalidInput as exc:
            for field, problems in (exc.fields or {}).items():
                self.add_error(field if field in self.fields else None, "; ".join(problems))
        return data


@admin.register(Namespace)
class NamespaceAdmin(BaseAdmin):
    form = NamespaceForm
    list_display = ("name", "api", "kind", "attribution_mode", "coverage", "created_at")
    actions = ["scan_now"]
    list_filter = ("api", "kind", "attribution_mode")
    fieldsets = (
        (None, {"fields": ("api", "name", "kind", "attribution_mode")}),
        (
            "Completeness",
            {
                "fields": (
                    "subject_field",
                    "subject_field_kind",
                    "scan_interval_hours",
                    "recheck_after_days",
                )
            },
        ),
    )

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None):
        return ("api", "name", "kind") if obj is not None else ()

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if not change:
            created = namespace_create(
                name=form.cleaned_data["name"],
                kind=form.cleaned_data["kind"],
                attribution_mode=form.cleaned_data["attribution_mode"],
                actor=actor_of(request),
                api=form.cleaned_data.get("api") or None,
            )
            settings = {
                field: form.cleaned_data[field]
                for field in form.changed_data
                if field in UPDATABLE_FIELDS and field != "attribution_mode"
            }
            if settings:
                namespace_update(namespace=created, changes=settings, actor=actor_of(request))
            # The admin goes on to log and redirect using `obj`: make it the created row.
            obj.pk = created.pk
            obj._state.adding = False
            obj.refresh_from_db()
            return
        # Changes go through the service: checked and audited, like the API's PATCH.
        changed = [field for field in form.changed_data if field in UPDATABLE_FIELDS]
        if changed:
            namespace_update(
                namespace=obj,
                changes={field: form.cleaned_data[field] for field in changed},
                actor=actor_of(request),
            )

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="coverage (last scan)")
    def coverage(self, obj: Namespace) -> str:
        state = namespace_coverage(namespace=obj)
        last, running = state["last_scan"], state["running_scan"]
        parts = []
        if last is None:
            parts.append("never scanned")
        else:
            counts = f"{last.mapped_count} of {_count(last.api_item_count)} mapped"
            if last.full:
                counts += f", {last.unmapped} unmapped, {last.stale} stale"
            else:
                counts += " (counts only: cannot be listed)"
            parts.append(f"{counts}, {timezone.localtime(last.finished_at):%Y-%m-%d %H:%M %Z}")
        if running is not None:
            parts.append(f"scanning: {running.items_seen} items read")
        return "; ".join(parts)

    @admin.action(
        description="Scan the selected namespaces now (in a worker)", permissions=["change"]
    )
    def scan_now(self, request: HttpRequest, queryset: Any) -> None:
        started = sum(scan_request(namespace=namespace)[1] for namespace in queryset)
        self.message_user(
            request,
            f"{started} scan(s) started; {queryset.count() - started} already running. "
            "Progress shows under Namespace scans.",
        )


def _count(value: int | None) -> str:
    return "?" if value is None else str(value)


@admin.register(NamespaceScan)
class NamespaceScanAdmin(ReadOnlyAdmin):
    """The scan history of every namespace, and the progress of those running."""

    list_display = (
        "namespace",
        "state",
        "started_at",
        "finished_at",
        "pages",
        "items_seen",
        "unmapped",
        "stale",
        "discovered",
        "summaries",
    )
    list_filter = ("namespace", "state")
    exclude = ("next_token",)
