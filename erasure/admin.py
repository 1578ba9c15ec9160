"""The compliance officer's admin.

Every write goes through the same services as the API (filing, approval, cancellation);
the audit trail, dispatches and items are read-only here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import BooleanField, Case, Q, QuerySet, Value, When
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseRedirect,
    JsonResponse,
)
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from erasure import exports
from erasure.actors import Actor
from erasure.certificates import certificate_for, certificate_response
from erasure.errors import ServiceError
from erasure.hashing import subject_hash
from erasure.models import (
    ApiKey,
    AuditEvent,
    Dispatch,
    ErasureItem,
    ErasureRequest,
    ItemMapping,
    Namespace,
    Regulation,
    RequestSource,
    RequestStatus,
    Subject,
    SubjectAlias,
)
from erasure.selectors.requests import (
    filing_preview,
    over_state_limit,
    request_counts_by_namespace,
    request_outcome_counts,
)
from erasure.services.aliases import subject_for_alias
from erasure.services.api_keys import api_key_revoke
from erasure.services.audit import audit_verify
from erasure.services.namespaces import namespace_set_mode
from erasure.services.requests import (
    MAX_GRACE_HOURS,
    MAX_REASON_LENGTH,
    MAX_SUBJECT_KEY_LENGTH,
    can_cancel,
    can_extend,
    can_hold,
    can_retry,
    request_approve,
    request_cancel,
    request_extend_deadline,
    request_file,
    request_hold,
    request_pause_deadline,
    request_release,
    request_resume_deadline,
    request_retry,
)

ITEMS_SHOWN_ON_REQUEST_PAGE = 200
ROWS_SHOWN_ON_REQUEST_PAGE = 100


def _officer(request: HttpRequest) -> Actor:
    """The signed-in officer (every admin view requires a staff login)."""
    user = request.user
    if not isinstance(user, User):
        raise PermissionDenied
    return Actor.for_user(user)


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
        actor=_officer(request),
        what=what,
        export_format=export_format,
        request_id=request_id,
        since=since,
        until=until,
    )


def _request_or_404(object_id: str) -> ErasureRequest:
    """The request of an admin URL; 404 for an unknown or malformed id (never a 500)."""
    try:
        return ErasureRequest.objects.get(pk=object_id)
    except (ErasureRequest.DoesNotExist, ValidationError, ValueError) as exc:
        raise Http404("no such erasure request") from exc


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReasonForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        max_length=MAX_REASON_LENGTH,
        help_text="Required; recorded in the audit trail.",
    )


class ExtendForm(ReasonForm):
    due_at = forms.DateTimeField(label="New deadline", help_text="UTC, e.g. 2026-12-31 17:00.")

    field_order = ["due_at", "reason"]


DUE_SOON_DAYS = 7


@dataclass(frozen=True)
class ReasonAction:
    permission: str
    title: str
    help: str
    done: str
    service: Any
    form: type[forms.Form] = ReasonForm


# The request page's state changes that take a reason, by the last part of their URL.
REASON_ACTIONS = {
    "hold": ReasonAction(
        "erasure.hold_erasurerequest",
        "Place a legal hold",
        "Nothing more is sent for this request until the hold is released.",
        "placed on hold",
        request_hold,
    ),
    "release": ReasonAction(
        "erasure.hold_erasurerequest",
        "Release the legal hold",
        "The request goes back to where it was; an approved or running one is carried out "
        "again from what is left.",
        "released from its hold",
        request_release,
    ),
    "pause": ReasonAction(
        "erasure.extend_erasurerequest",
        "Pause the deadline",
        "The deadline's clock stops (execution goes on); resuming moves the deadline by the "
        "time it was paused.",
        "given a paused deadline",
        request_pause_deadline,
    ),
    "resume": ReasonAction(
        "erasure.extend_erasurerequest",
        "Resume the deadline",
        "The deadline moves later by the time it was paused.",
        "given its deadline clock back",
        request_resume_deadline,
    ),
    "extend": ReasonAction(
        "erasure.extend_erasurerequest",
        "Extend the deadline",
        "GDPR allows at most three months from receipt in all, CCPA 90 days; the data "
        "subject must be told of the extension and why.",
        "given a later deadline",
        request_extend_deadline,
        ExtendForm,
    ),
}


class OverStateLimitFilter(admin.SimpleListFilter):
    """Requests in a state for longer than that state's limit (ERASURE_STATE_LIMIT_HOURS_*),
    or flagged stuck by the sweeper."""

    title = "stuck"
    parameter_name = "stuck"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Over its state's time limit, or flagged")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "yes":
            return queryset.filter(over_state_limit() | Q(stuck_since__isnull=False))
        return queryset


class ErasureRequestAddForm(forms.ModelForm):
    subject_key = forms.CharField(
        label="Subject key or alias",
        max_length=MAX_SUBJECT_KEY_LENGTH,
        help_text="The subject's stable key (usually the identity system's user id), or an "
        "alias registered with the mappings (then give its kind below). Stored as a keyed "
        "hash; a raw key is kept only while the request is open.",
    )
    alias_kind = forms.CharField(
        required=False,
        max_length=40,
        help_text="Only for an alias: its kind, e.g. email, okta, auth0.",
    )
    grace_hours = forms.FloatField(
        required=False,
        min_value=0,
        max_value=MAX_GRACE_HOURS,
        help_text="Hours between approval and execution, during which it can still be "
        "cancelled (empty: the service's default).",
    )

    class Meta:
        model = ErasureRequest
        fields = ["regulation", "reason"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        kind = (data.get("alias_kind") or "").strip()
        data["subject"] = None
        if kind and data.get("subject_key"):
            subject = subject_for_alias(kind=kind, alias=data["subject_key"])
            if subject is None:
                self.add_error(
                    "subject_key",
                    f"no subject has this {kind} alias (aliases are registered with the mappings)",
                )
            data["subject"] = subject
        return data


@admin.register(ErasureRequest)
class ErasureRequestAdmin(admin.ModelAdmin):
    list_display = (
        "short_id",
        "status",
        "regulation",
        "source",
        "received_at",
        "deadline",
        "filed_by",
        "approved_by",
        "stuck",
    )
    list_filter = (
        "status",
        OverStateLimitFilter,
        "regulation",
        "source",
        ("stuck_since", admin.EmptyFieldListFilter),
    )
    date_hierarchy = "received_at"
    search_fields = ("id", "subject__key_hash")
    change_form_template = "admin/erasure/erasurerequest/change_form.html"
    change_list_template = "admin/erasure/erasurerequest/change_list.html"
    readonly_fields = (
        "id",
        "status",
        "subject_hash",
        "source",
        "regulation",
        "reason",
        "received_at",
        "due_at",
        "original_due_at",
        "scheduled_for",
        "deadline_paused_at",
        "deadline_pause_reason",
        "hold_reason",
        "held_at",
        "filed_by",
        "filed_by_api_key",
        "approved_by",
        "approved_by_api_key",
        "auto_approved",
        "approved_at",
        "started_at",
        "completed_at",
        "last_error",
        "stuck_since",
        "wakeups",
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[ErasureRequest]:
        # `over_limit` marks the rows of stuck requests on the list.
        return (
            super()
            .get_queryset(request)
            .select_related("subject", "filed_by", "approved_by", "filed_by_api_key")
            .annotate(
                over_limit=Case(
                    When(over_state_limit() | Q(stuck_since__isnull=False), then=Value(True)),
                    default=Value(False),
                    output_field=BooleanField(),
                )
            )
        )

    @admin.display(description="Stuck", boolean=True, ordering="over_limit")
    def stuck(self, obj: ErasureRequest) -> bool:
        return bool(getattr(obj, "over_limit", False))

    @admin.display(description="Due", ordering="due_at")
    def deadline(self, obj: ErasureRequest) -> str:
        """The deadline, marked overdue or due soon (within 7 days) while the request is open."""
        label = obj.due_at.strftime("%Y-%m-%d %H:%M")
        if not obj.is_open:
            return label
        left = obj.due_at - timezone.now()
        if left.total_seconds() < 0:
            return format_html('<span class="deadline overdue">{} · overdue</span>', label)
        if left.days < DUE_SOON_DAYS:
            return format_html('<span class="deadline due-soon">{} · due soon</span>', label)
        return label

    @admin.display(description="ID")
    def short_id(self, obj: ErasureRequest) -> str:
        return str(obj.pk)[:8]

    @admin.display(description="Subject (keyed hash)")
    def subject_hash(self, obj: ErasureRequest) -> str:
        return obj.subject.key_hash

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any):
        if obj is None:
            kwargs["form"] = ErasureRequestAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request: HttpRequest, obj: Any = None):
        if obj is None:
            return ["subject_key", "alias_kind", "regulation", "reason", "grace_hours"]
        return list(self.readonly_fields)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None):
        return self.readonly_fields if obj is not None else ()

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Requests are evidence: they are cancelled, never deleted.
        return False

    def save_model(
        self, request: HttpRequest, obj: ErasureRequest, form: forms.Form, change: bool
    ) -> None:
        if change:
            return  # every field is read-only; state changes go through the buttons
        subject = form.cleaned_data.get("subject")
        result = request_file(
            subject_key="" if subject is not None else form.cleaned_data["subject_key"],
            subject=subject,
            regulation=form.cleaned_data["regulation"] or Regulation.GDPR,
            grace_hours=form.cleaned_data.get("grace_hours"),
            reason=form.cleaned_data["reason"] or "",
            actor=_officer(request),
            source=RequestSource.ADMIN,
        )
        if not result.created:
            messages.warning(
                request,
                "This subject already has an open request; it is shown instead of a new one.",
            )
        # The admin goes on to log and redirect using `obj`: make it the filed request.
        obj.pk = result.request.pk
        obj._state.adding = False
        obj.refresh_from_db()

    def response_add(
        self, request: HttpRequest, obj: ErasureRequest, post_url_continue: str | None = None
    ) -> HttpResponse:
        # After filing, the officer wants the request's own page (status, approval), not
        # the list.
        messages.success(request, "The erasure request was filed; it awaits approval.")
        return HttpResponseRedirect(reverse("admin:erasure_erasurerequest_change", args=[obj.pk]))

    def get_urls(self):
        urls = super().get_urls()
        own = [
            path(
                "preview/",
                self.admin_site.admin_view(self.preview_view),
                name="erasure_erasurerequest_preview",
            ),
            path(
                "find-subject/",
                self.admin_site.admin_view(self.find_subject_view),
                name="erasure_erasurerequest_find_subject",
            ),
            path(
                "<path:object_id>/approve/",
                self.admin_site.admin_view(self.approve_view),
                name="erasure_erasurerequest_approve",
            ),
            path(
                "<path:object_id>/cancel/",
                self.admin_site.admin_view(self.cancel_view),
                name="erasure_erasurerequest_cancel",
            ),
            path(
                "<path:object_id>/retry/",
                self.admin_site.admin_view(self.retry_view),
                name="erasure_erasurerequest_retry",
            ),
            path(
                "<path:object_id>/progress/",
                self.admin_site.admin_view(self.progress_view),
                name="erasure_erasurerequest_progress",
            ),
            *(
                path(
                    f"<path:object_id>/{action}/",
                    self.admin_site.admin_view(self.reason_view),
                    {"action": action},
                    name=f"erasure_erasurerequest_{action}",
                )
                for action in REASON_ACTIONS
            ),
            path(
                "<path:object_id>/certificate/",
                self.admin_site.admin_view(self.certificate_view),
                name="erasure_erasurerequest_certificate",
            ),
            path(
                "<path:object_id>/export/",
                self.admin_site.admin_view(self.export_view),
                name="erasure_erasurerequest_export",
            ),
        ]
        return own + urls

    def preview_view(self, request: HttpRequest) -> JsonResponse:
        """What filing would erase: the subject's mapped items per namespace, its open
        request if any, and the deadline. POST only: the key never reaches a URL."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        if request.method != "POST":
            return JsonResponse({"error": "POST the subject key"}, status=405)
        key = request.POST.get("subject_key", "").strip()
        kind = request.POST.get("alias_kind", "").strip()
        regulation = request.POST.get("regulation") or Regulation.GDPR
        if not key or regulation not in Regulation.values:
            return JsonResponse({"error": "enter a subject key and a regulation"}, status=400)
        subject = (
            subject_for_alias(kind=kind, alias=key)
            if kind
            else Subject.objects.filter(key_hash=subject_hash(key)).first()
        )
        return JsonResponse(filing_preview(subject=subject, regulation=regulation))

    def find_subject_view(self, request: HttpRequest) -> HttpResponse:
        """Find requests by the subject key an officer knows. The key goes in a POST body
        and only its keyed hash in the URL that follows: URLs end up in access logs."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        if request.method == "POST":
            key = request.POST.get("subject_key", "")
            if key.strip():
                changelist = reverse("admin:erasure_erasurerequest_changelist")
                return HttpResponseRedirect(f"{changelist}?q={subject_hash(key)}")
            messages.error(request, "Enter a subject key.")
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Find requests by subject key",
        }
        return TemplateResponse(request, "admin/erasure/erasurerequest/find_subject.html", context)

    def approve_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if not request.user.has_perm("erasure.approve_erasurerequest"):
            raise PermissionDenied
        return self._act(request, object_id, "approved", request_approve)

    def cancel_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if not request.user.has_perm("erasure.cancel_erasurerequest"):
            raise PermissionDenied
        return self._act(request, object_id, "cancelled", request_cancel)

    def retry_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if not request.user.has_perm("erasure.retry_erasurerequest"):
            raise PermissionDenied
        return self._act(request, object_id, "sent again (its failed items only)", request_retry)

    def progress_view(self, request: HttpRequest, object_id: str) -> JsonResponse:
        """Status and counts, polled by the request page while the request runs."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        obj = _request_or_404(object_id)
        return JsonResponse(
            {
                "status": obj.status,
                "status_display": obj.get_status_display(),
                "counts": request_outcome_counts(request=obj),
                "live": obj.status in (RequestStatus.APPROVED, RequestStatus.RUNNING),
            }
        )

    def reason_view(self, request: HttpRequest, object_id: str, action: str) -> HttpResponse:
        """A state change that needs a reason (REASON_ACTIONS): a form, then the service."""
        spec = REASON_ACTIONS[action]
        if not request.user.has_perm(spec.permission):
            raise PermissionDenied
        obj = _request_or_404(object_id)
        target = reverse("admin:erasure_erasurerequest_change", args=[object_id])
        form = spec.form(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                spec.service(request=obj, actor=_officer(request), **form.cleaned_data)
            except ServiceError as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(request, f"The request was {spec.done}.")
                return HttpResponseRedirect(target)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": obj,
            "title": spec.title,
            "help": spec.help,
            "form": form,
            "back_url": target,
        }
        return TemplateResponse(request, "admin/erasure/erasurerequest/with_reason.html", context)

    def certificate_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The certificate of a completed request: PDF, or the HTML page (`?format=html`)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        erasure_request = _request_or_404(object_id)
        try:
            certificate = certificate_for(erasure_request)
        except ServiceError as exc:
            messages.error(request, exc.message)
            return HttpResponseRedirect(
                reverse("admin:erasure_erasurerequest_change", args=[object_id])
            )
        return certificate_response(certificate, as_html=request.GET.get("format") == "html")

    def export_view(self, request: HttpRequest, object_id: str) -> HttpResponseBase:
        """One request's items or events, CSV or JSON Lines (`?what=&format=`), through the
        same code as the API's export; auditors only (`erasure.export_audit`)."""
        if not request.user.has_perm("erasure.export_audit"):
            raise PermissionDenied  # before the lookup: no hint whether the request exists
        erasure_request = _request_or_404(object_id)
        return stream_export(
            request,
            what=request.GET.get("what", "items"),
            export_format=request.GET.get("format", "csv"),
            request_id=str(erasure_request.pk),
        )

    def _act(self, request: HttpRequest, object_id: str, done: str, service: Any) -> HttpResponse:
        target = reverse("admin:erasure_erasurerequest_change", args=[object_id])
        if request.method != "POST":
            return HttpResponseRedirect(target)
        erasure_request = _request_or_404(object_id)
        try:
            service(request=erasure_request, actor=_officer(request))
        except ServiceError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"The request was {done}.")
        return HttpResponseRedirect(target)

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        extra_context = extra_context or {}
        obj = self.get_object(request, object_id)
        if obj is not None:
            # Every field is read-only: state changes go through Approve / Cancel.
            extra_context.update(
                show_save=False, show_save_and_continue=False, show_save_and_add_another=False
            )
            counts = request_outcome_counts(request=obj)
            items = obj.items.select_related("namespace").order_by("namespace__name", "item_id")
            extra_context.update(
                counts=counts,
                by_namespace=request_counts_by_namespace(request=obj),
                dispatches=obj.dispatches.select_related("namespace").order_by("-id")[
                    :ROWS_SHOWN_ON_REQUEST_PAGE
                ],
                events=obj.events.order_by("id")[:ROWS_SHOWN_ON_REQUEST_PAGE],
                progress_url=reverse("admin:erasure_erasurerequest_progress", args=[obj.pk]),
                live=obj.status in (RequestStatus.APPROVED, RequestStatus.RUNNING),
                items=items[:ITEMS_SHOWN_ON_REQUEST_PAGE],
                items_total=counts["total"],
                items_url=reverse("admin:erasure_erasureitem_changelist")
                + f"?request__id__exact={obj.pk}",
                can_approve=obj.status == RequestStatus.AWAITING_APPROVAL
                and request.user.has_perm("erasure.approve_erasurerequest"),
                can_retry=can_retry(obj) and request.user.has_perm("erasure.retry_erasurerequest"),
                can_cancel=can_cancel(obj)
                and request.user.has_perm("erasure.cancel_erasurerequest"),
                can_hold=can_hold(obj) and request.user.has_perm("erasure.hold_erasurerequest"),
                can_release=obj.status == RequestStatus.ON_HOLD
                and request.user.has_perm("erasure.hold_erasurerequest"),
                can_extend=can_extend(obj)
                and request.user.has_perm("erasure.extend_erasurerequest"),
                deadline_paused=obj.deadline_paused_at is not None,
                can_certificate=obj.status
                in (RequestStatus.COMPLETED, RequestStatus.COMPLETED_WITH_FAILURES),
                can_export=request.user.has_perm("erasure.export_audit"),
            )
        return super().change_view(request, object_id, form_url, extra_context)


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


@admin.register(Namespace)
class NamespaceAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "attribution_mode", "created_at")
    list_filter = ("kind", "attribution_mode")
    fields = ("name", "kind", "attribution_mode")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None):
        return ("name", "kind") if obj is not None else ()

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if not change:
            super().save_model(request, obj, form, change)
            return
        # A mode change goes through the service: audited, like the API's PATCH.
        namespace_set_mode(
            namespace=obj,
            mode=form.cleaned_data["attribution_mode"],
            actor=_officer(request),
        )

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ItemMapping)
class ItemMappingAdmin(ReadOnlyAdmin):
    list_display = ("item_id", "namespace", "subject", "registered_at", "registered_by")
    list_filter = ("namespace",)
    search_fields = ("item_id", "subject__key_hash")
    list_select_related = ("namespace", "subject")


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
    list_display = ("id", "occurred_at", "event_type", "actor", "request", "hash_short")
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
        """Recompute the whole chain and show the result (and the head to quote)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Verify the audit trail",
            "result": audit_verify(),
        }
        return TemplateResponse(request, "admin/erasure/auditevent/verify.html", context)

    @admin.display(description="Hash")
    def hash_short(self, obj: AuditEvent) -> str:
        return obj.hash[:16]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
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
        key = get_object_or_404(ApiKey, pk=object_id)
        try:
            api_key_revoke(key=key, actor=_officer(request))
        except ServiceError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"The API key {key.name!r} was revoked.")
        return HttpResponseRedirect(target)

    @admin.action(description="Revoke selected API keys", permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        actor = _officer(request)
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


@admin.register(SubjectAlias)
class SubjectAliasAdmin(ReadOnlyAdmin):
    list_display = ("kind", "alias_hash_short", "subject", "registered_at", "registered_by")
    list_filter = ("kind",)
    search_fields = ("alias_hash", "subject__key_hash")
    list_select_related = ("subject",)

    @admin.display(description="Alias hash")
    def alias_hash_short(self, obj: SubjectAlias) -> str:
        return obj.alias_hash[:16]
