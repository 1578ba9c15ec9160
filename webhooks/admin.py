"""Webhook sources with their secrets inline; deliveries and deferrals read-only.

Secrets are write-only: typed once when added, then shown only by their prefix. They are
never deleted, only revoked (untick "active"), so that rotation is: add the new secret,
switch the sender over, revoke the old one.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import Model
from django.forms import BaseInlineFormSet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html

from erasure.admin.base import BaseAdmin, ReadOnlyAdmin, actor_of
from webhooks.models import (
    DeferralState,
    DeferredErasure,
    Scheme,
    WebhookDelivery,
    WebhookSecret,
    WebhookSource,
)
from webhooks.providers import SCHEMES, secret_problem
from webhooks.services import secret_add, secret_revoke, source_save


class WebhookSecretForm(forms.ModelForm):
    new_value = forms.CharField(
        label="Secret",
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="Shown once, never again. Standard Webhooks: the whsec_… value.",
    )

    class Meta:
        model = WebhookSecret
        fields = ["active"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            # A saved secret cannot be read or replaced, only revoked.
            self.fields["new_value"].disabled = True
            self.fields["new_value"].required = False
            self.fields["new_value"].help_text = ""
            if not self.instance.active:
                self.fields["active"].disabled = True


class WebhookSecretFormSet(BaseInlineFormSet):
    def clean(self) -> None:
        super().clean()
        scheme = getattr(self.instance, "scheme", "")
        for form in self.forms:
            value = form.cleaned_data.get("new_value") if hasattr(form, "cleaned_data") else None
            if value:
                problem = secret_problem(scheme, value)
                if problem:
                    form.add_error("new_value", problem)


class WebhookSecretInline(admin.TabularInline):
    model = WebhookSecret
    form = WebhookSecretForm
    formset = WebhookSecretFormSet
    extra = 1
    can_delete = False
    fields = ["prefix_shown", "new_value", "active", "created_at", "revoked_at"]
    readonly_fields = ["prefix_shown", "created_at", "revoked_at"]

    @admin.display(description="Prefix")
    def prefix_shown(self, obj: WebhookSecret) -> str:
        return f"{obj.prefix}…" if obj.pk else "-"


class WebhookSourceForm(forms.ModelForm):
    class Meta:
        model = WebhookSource
        fields = [
            "slug",
            "scheme",
            "enabled",
            "header_name",
            "regulation",
            "auto_approve",
            "grace_hours",
            "subject_mapping",
            "alias_kind",
            "request_events",
            "deactivation_policy",
            "deactivation_delay_hours",
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("subject_mapping") == "alias" and not data.get("alias_kind"):
            self.add_error("alias_kind", "alias mapping needs the kind of the aliases")
        return data


@admin.register(WebhookSource)
class WebhookSourceAdmin(BaseAdmin):
    form = WebhookSourceForm
    inlines = [WebhookSecretInline]
    list_display = [
        "slug",
        "scheme",
        "enabled",
        "subject_mapping",
        "auto_approve",
        "deactivation_policy",
        "active_secrets",
    ]
    list_filter = ["scheme", "enabled"]
    readonly_fields = ["endpoint", "default_events"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        # The slug is the sender's URL: changing it would break the configured sender.
        return ["endpoint", "default_events"] + (["slug"] if obj else [])

    @admin.display(description="Endpoint")
    def endpoint(self, obj: WebhookSource) -> str:
        return format_html("<code>/webhooks/{}/</code>", obj.slug) if obj.pk else "-"

    @admin.display(description="The scheme's deletion events")
    def default_events(self, obj: WebhookSource) -> str:
        lines = (
            f"{Scheme(scheme).label}: {', '.join(spec.deletion_events)}"
            for scheme, spec in SCHEMES.items()
        )
        return format_html("<br>".join(["{}"] * len(SCHEMES)), *lines)

    @admin.display(description="Active secrets")
    def active_secrets(self, obj: WebhookSource) -> int:
        return obj.secrets.filter(active=True).count()

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # deliveries reference it; disable it instead

    def save_model(self, request: HttpRequest, obj: Model, form: Any, change: bool) -> None:
        assert isinstance(obj, WebhookSource)
        source_save(source=obj, actor=actor_of(request), changed_fields=form.changed_data)

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        actor = actor_of(request)
        source = form.instance
        # What the admin's change message (LogEntry) reads after a formset's save().
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for secret_form in formset.forms:
            if not secret_form.has_changed() or not hasattr(secret_form, "cleaned_data"):
                continue
            secret = secret_form.instance
            if secret.pk is None:
                value = secret_form.cleaned_data.get("new_value")
                if value:
                    added = secret_add(source=source, value=value, actor=actor)
                    formset.new_objects.append(added)
                    if not secret_form.cleaned_data.get("active", True):
                        secret_revoke(secret=added, actor=actor)
            elif "active" in secret_form.changed_data and not secret_form.cleaned_data["active"]:
                secret_revoke(secret=secret, actor=actor)
                formset.changed_objects.append((secret, ["active"]))


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = ["received_at", "source", "delivery_id", "event_type", "outcome", "request"]
    list_filter = ["source", "outcome", "action"]
    search_fields = ["delivery_id"]
    # The provider's user id while the worker has not acted yet: never shown.
    exclude = ["pending_user_id"]


@admin.register(DeferredErasure)
class DeferredErasureAdmin(ReadOnlyAdmin):
    list_display = ["due_at", "source", "state", "overdue", "request", "settled_at"]
    list_filter = ["source", "state"]

    @admin.display(boolean=True)
    def overdue(self, obj: DeferredErasure) -> bool:
        return obj.state == DeferralState.PENDING and obj.due_at < timezone.now()
