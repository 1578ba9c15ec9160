"""Erasure requests in the admin: the list with its filters, the filing form with its
preview, the request page, and its actions (approve, cancel, retry, hold, release, extend
or pause the deadline, certificate, exports).

Every write goes through the same services as the API; nothing here saves a request.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import (
    BooleanField,
    Case,
    Count,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.http.response import HttpResponseBase
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.html import format_html

from erasure.admin.audit import stream_export
from erasure.admin.base import BaseAdmin, actor_of
from erasure.admin.case_file import (
    OUTCOME_LABELS,
    SOURCE_TEXT,
    approved_by,
    deadline_of,
    filed_by,
    namespace_rows,
    progress_of,
    relative,
    timeline,
    when,
)
from erasure.admin.request_actions import (
    CONFIRMED_ACTIONS,
    REASON_ACTIONS,
    ApproveEmptyForm,
    CommentForm,
    actions_for,
    consequence,
    items_in,
)
from erasure.certificates import certificate_for, certificate_response
from erasure.errors import ServiceError
from erasure.evidence import request_evidence
from erasure.hashing import subject_hash
from erasure.lifecycle import (
    LIVE_STATUSES,
    OPEN_STATUSES,
    can_approve,
    can_certify,
)
from erasure.models import (
    ErasureItem,
    ErasureRequest,
    ItemMapping,
    ItemOutcome,
    Regulation,
    RequestSource,
    RequestStatus,
    Subject,
)
from erasure.selectors.completeness import request_completeness
from erasure.selectors.requests import (
    filing_preview,
    over_state_limit,
    request_items,
    request_outcome_counts,
)
from erasure.services.aliases import subject_for_alias
from erasure.services.requests import (
    MAX_GRACE_HOURS,
    MAX_REASON_LENGTH,
    MAX_SUBJECT_KEY_LENGTH,
    request_file,
)

ITEMS_SHOWN_ON_REQUEST_PAGE = 200
# The request attribute that asks get_queryset for the list's per-row item counts (a
# subquery per row, which the request page, counting its own items, does not need).
_LISTING = "_erasure_request_listing"
ROWS_SHOWN_ON_REQUEST_PAGE = 100


# While a request is in one of these, its page follows the counts without reloading.
def _request_or_404(object_id: str) -> ErasureRequest:
    """The request of an admin URL; 404 for an unknown or malformed id (never a 500)."""
    try:
        return ErasureRequest.objects.get(pk=object_id)
    except (ErasureRequest.DoesNotExist, ValidationError, ValueError) as exc:
        raise Http404("no such erasure request") from exc


DUE_SOON_DAYS = 7

NOTHING_MAPPED = (
    "No item is mapped to this subject, so the request would erase nothing. Tick “File it "
    "anyway” to record it all the same (the certificate will say that nothing was mapped), "
    "or register the subject's mappings first."
)


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


def _subject_key_field() -> forms.CharField:
    return forms.CharField(
        label="Subject key or alias",
        max_length=MAX_SUBJECT_KEY_LENGTH,
        help_text="The subject's stable key (usually the identity system's user id), or an "
        "alias registered with the mappings (then give its kind below). Stored as a keyed "
        "hash; a raw key is kept only while the request is open.",
    )


def _alias_kind_field() -> forms.CharField:
    return forms.CharField(
        required=False,
        max_length=40,
        help_text="Only for an alias: its kind, e.g. email, okta, auth0.",
    )


class ErasureRequestAddForm(forms.ModelForm):
    subject_key = _subject_key_field()
    alias_kind = _alias_kind_field()
    # The service's limit (request_file refuses a longer reason): a form error here.
    reason = forms.CharField(
        required=False,
        max_length=MAX_REASON_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        label="Reason or ticket reference",
        help_text="How the request reached you, e.g. a support ticket number; shown on the "
        "request and its certificate.",
    )
    grace_hours = forms.FloatField(
        required=False,
        min_value=0,
        max_value=MAX_GRACE_HOURS,
        help_text="Hours between approval and execution, during which it can still be "
        "cancelled (empty: the service's default).",
    )

    confirm_nothing_mapped = forms.BooleanField(
        required=False,
        label="File it anyway",
        help_text="Only when no item is mapped to the subject: the request will erase "
        "nothing, and its certificate will say so.",
    )

    class Meta:
        model = ErasureRequest
        fields = ["regulation", "reason"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        kind = (data.get("alias_kind") or "").strip()
        key = data.get("subject_key")
        data["subject"] = None
        if not key:
            return data
        if kind:
            subject = subject_for_alias(kind=kind, alias=key)
            if subject is None:
                self.add_error(
                    "subject_key",
                    f"no subject has this {kind} alias (aliases are registered with the mappings)",
                )
                return data
            data["subject"] = subject
        else:
            subject = Subject.objects.filter(key_hash=subject_hash(key)).first()
        open_request = (
            subject is not None
            and ErasureRequest.objects.filter(subject=subject, status__in=OPEN_STATUSES).exists()
        )
        mapped = subject is not None and ItemMapping.objects.filter(subject=subject).exists()
        if not mapped and not open_request and not data.get("confirm_nothing_mapped"):
            self.add_error("confirm_nothing_mapped", NOTHING_MAPPED)
        return data


class FilingPreviewForm(forms.Form):
    """What the filing form's preview sends: the subject (key, or alias and kind) and the
    regulation, checked as the filing form checks them."""

    subject_key = _subject_key_field()
    alias_kind = _alias_kind_field()
    regulation = forms.ChoiceField(choices=Regulation.choices, required=False)


@admin.register(ErasureRequest)
class ErasureRequestAdmin(BaseAdmin):
    list_display = (
        "short_id",
        "status_text",
        "regulation",
        "items",
        "short_reason",
        "received",
        "deadline",
        "filed_by_text",
    )
    # "stuck" covers both an over-long state and the sweeper's flag (`stuck_since`).
    list_filter = ("status", OverStateLimitFilter, "regulation", "source")
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
        queryset = (
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
        if not getattr(request, _LISTING, False):
            return queryset  # the request page counts its items itself, once
        # `item_count`: the request's items, or, before they are listed at its start,
        # the subject's mappings (what it will erase).
        items = (
            ErasureItem.objects.filter(request=OuterRef("pk"))
            .order_by()
            .values("request")
            .annotate(n=Count("*"))
            .values("n")
        )
        mapped = (
            ItemMapping.objects.filter(subject=OuterRef("subject"))
            .order_by()
            .values("subject")
            .annotate(n=Count("*"))
            .values("n")
        )
        return queryset.annotate(
            item_count=Case(
                When(
                    Q(started_at__isnull=True, status__in=OPEN_STATUSES),
                    then=Coalesce(Subquery(mapped, output_field=IntegerField()), 0),
                ),
                default=Coalesce(Subquery(items, output_field=IntegerField()), 0),
                output_field=IntegerField(),
            )
        )

    @admin.display(description="Items", ordering="item_count")
    def items(self, obj: ErasureRequest) -> str:
        return f"{getattr(obj, 'item_count', 0):,}"

    @admin.display(description="Reason or ticket")
    def short_reason(self, obj: ErasureRequest) -> str:
        reason = " ".join(obj.reason.split())
        return reason if len(reason) <= 40 else reason[:39] + "…"

    @admin.display(description="Filed by")
    def filed_by_text(self, obj: ErasureRequest) -> str:
        """A person, an API key, or how it came in (a webhook, the service itself): from
        the rows the list already joins, no query per row."""
        if obj.filed_by is not None:
            return obj.filed_by.get_username()
        if obj.filed_by_api_key is not None:
            return f"API key “{obj.filed_by_api_key.name}”"
        return obj.get_source_display()

    @admin.display(description="Received", ordering="received_at")
    def received(self, obj: ErasureRequest) -> str:
        return when(obj.received_at)

    @admin.display(description="Status", ordering="status")
    def status_text(self, obj: ErasureRequest) -> str:
        """The status, marked when the request is stuck (over its state's time limit, or
        flagged by the sweeper): one column instead of two keeps the list within 1,280 px."""
        if getattr(obj, "over_limit", False):
            return format_html(
                '{} <span class="stuck" title="{}">· stuck</span>',
                obj.get_status_display(),
                "Over its state's time limit, or flagged by the sweeper",
            )
        return obj.get_status_display()

    @admin.display(description="Due", ordering="due_at")
    def deadline(self, obj: ErasureRequest) -> str:
        """The deadline, marked overdue or due soon (within 7 days) while the request is open."""
        label = when(obj.due_at)
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
            return [
                "subject_key",
                "alias_kind",
                "regulation",
                "reason",
                "grace_hours",
                "confirm_nothing_mapped",
            ]
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
            actor=actor_of(request),
            source=RequestSource.ADMIN,
        )
        # The admin goes on to log and redirect using `obj`: make it the filed request.
        obj.pk = result.request.pk
        obj._state.adding = False
        obj.refresh_from_db()
        obj._filed_now = result.created  # type: ignore[attr-defined]

    def response_add(
        self, request: HttpRequest, obj: ErasureRequest, post_url_continue: str | None = None
    ) -> HttpResponse:
        # After filing, the officer wants the request's own page (status, approval), not
        # the list. One message, and a true one: a subject with an open request gets no
        # second request.
        if getattr(obj, "_filed_now", True):
            next_step = (
                "it awaits approval by someone else"
                if obj.status == RequestStatus.AWAITING_APPROVAL
                else f"it is {obj.get_status_display().lower()}"
            )
            messages.success(request, f"The erasure request was filed; {next_step}.")
        else:
            messages.warning(
                request,
                f"No new request was filed: this subject already has an open request, filed "
                f"{when(obj.received_at)}. It is shown here.",
            )
        return HttpResponseRedirect(reverse("admin:erasure_erasurerequest_change", args=[obj.pk]))

    def log_addition(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        # Nothing was added when the subject's open request is shown instead.
        if getattr(obj, "_filed_now", True):
            return super().log_addition(request, obj, message)
        return None

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
            path(
                "<path:object_id>/evidence/",
                self.admin_site.admin_view(self.evidence_view),
                name="erasure_erasurerequest_evidence",
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
        form = FilingPreviewForm(request.POST)
        if not form.is_valid():
            problems = "; ".join(
                f"{name}: {' '.join(str(error) for error in errors)}"
                for name, errors in form.errors.items()
            )
            return JsonResponse(
                {"error": f"enter a subject key and a regulation ({problems})"}, status=400
            )
        key = form.cleaned_data["subject_key"]  # required, and stripped by the form
        kind = form.cleaned_data["alias_kind"].strip()
        regulation = form.cleaned_data["regulation"] or Regulation.GDPR
        subject = (
            subject_for_alias(kind=kind, alias=key)
            if kind
            else Subject.objects.filter(key_hash=subject_hash(key)).first()
        )
        preview = filing_preview(subject=subject, regulation=regulation)
        if kind and subject is None:
            summary = (
                f"Unknown alias: no subject has this {kind} alias (aliases are registered with "
                "the mappings). Check the alias and its kind, or give the subject's key."
            )
        elif not preview["items"]:
            summary = (
                "No item is mapped to this subject: the request would erase nothing. Filing it "
                "needs “File it anyway”."
            )
        else:
            summary = f"{items_in(preview['items'], len(preview['namespaces']))} would be erased."
        due = parse_datetime(preview["due_at"])
        assert due is not None
        preview.update(
            summary=summary,
            due_text=f"{when(due)} ({relative(due)})",
            open_request_url=(
                reverse("admin:erasure_erasurerequest_change", args=[preview["open_request"]])
                if preview["open_request"]
                else None
            ),
        )
        return JsonResponse(preview)

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
        return self._confirmed(request, object_id, "approve")

    def cancel_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return self._confirmed(request, object_id, "cancel")

    def retry_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return self._confirmed(request, object_id, "retry")

    def progress_view(self, request: HttpRequest, object_id: str) -> JsonResponse:
        """Status and counts, polled by the request page while the request runs."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        obj = _request_or_404(object_id)
        counts = request_outcome_counts(request=obj)
        return JsonResponse(
            {
                "status": obj.status,
                "status_display": obj.get_status_display(),
                "counts": counts,
                "percent": progress_of(obj, counts, 0).percent,
                "live": obj.status in LIVE_STATUSES,
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
                spec.service(request=obj, actor=actor_of(request), **form.cleaned_data)
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
        return certificate_response(
            certificate,
            actor=actor_of(request),
            as_html=request.GET.get("format") == "html",
            request=request,
        )

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

    def evidence_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The request's evidence bundle, a JSON download that `verify_audit --bundle`
        checks offline; auditors only. Recorded as an `evidence.downloaded` event."""
        if not request.user.has_perm("erasure.export_audit"):
            raise PermissionDenied
        erasure_request = _request_or_404(object_id)
        try:
            bundle = request_evidence(erasure_request, actor=actor_of(request))
        except ServiceError as exc:
            messages.error(request, exc.message)
            return HttpResponseRedirect(
                reverse("admin:erasure_erasurerequest_change", args=[object_id])
            )
        response = JsonResponse(bundle, json_dumps_params={"indent": 1, "ensure_ascii": False})
        filename = f"erasure-evidence-{erasure_request.pk}.json"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response

    def _confirmed(self, request: HttpRequest, object_id: str, action: str) -> HttpResponse:
        """A CONFIRMED_ACTIONS state change: its page states the consequence (GET); the
        POST from it, with an optional comment, makes the change."""
        spec = CONFIRMED_ACTIONS[action]
        if not request.user.has_perm(spec.permission):
            raise PermissionDenied  # before the lookup: no hint whether the request exists
        obj = _request_or_404(object_id)
        target = reverse("admin:erasure_erasurerequest_change", args=[obj.pk])
        counts = request_outcome_counts(request=obj)
        namespaces = len(namespace_rows(obj))
        # Only an approval that can happen asks for the empty request's confirmation; any
        # other gets the service's own refusal.
        empty = action == "approve" and not counts["total"] and can_approve(obj)
        form_class = ApproveEmptyForm if empty else CommentForm
        form = form_class(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            try:
                spec.service(
                    request=obj,
                    actor=actor_of(request),
                    **{spec.comment_as: form.cleaned_data["comment"]},
                )
            except ServiceError as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(request, f"The request was {spec.done}.")
                return HttpResponseRedirect(target)
        sentence, notes = consequence(action, obj, counts, namespaces)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": obj,
            "title": spec.title,
            "consequence": sentence,
            "notes": notes,
            "deadline": deadline_of(obj),
            "form": form,
            "submit_label": "Approve, erasing nothing" if empty else spec.submit,
            "back_url": target,
        }
        return TemplateResponse(request, "admin/erasure/erasurerequest/confirm.html", context)

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        extra_context = {**(extra_context or {}), "title": "Erasure requests"}
        setattr(request, _LISTING, True)  # the list's rows carry their item counts
        return super().changelist_view(request, extra_context)

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        extra_context = {**(extra_context or {}), "title": "File an erasure request"}
        return super().add_view(request, form_url, extra_context)

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
            extra_context.update(self._case_file(request, obj))
        return super().change_view(request, object_id, form_url, extra_context)

    def _case_file(self, request: HttpRequest, obj: ErasureRequest) -> dict[str, Any]:
        """The request page's context: header, actions, evidence, timeline, tables."""
        user = request.user
        counts = request_outcome_counts(request=obj)
        by_namespace = namespace_rows(obj)
        outcome = request.GET.get("outcome", "")
        outcome = outcome if outcome in ItemOutcome.values else ""
        namespace = request.GET.get("namespace", "")[:300]
        items = request_items(request=obj, outcome=outcome or None, namespace=namespace or None)
        items = items.order_by("namespace__name", "item_id")
        shown = list(items[:ITEMS_SHOWN_ON_REQUEST_PAGE])
        matching = len(shown) if len(shown) < ITEMS_SHOWN_ON_REQUEST_PAGE else items.count()
        items_url = None
        if user.has_perm("erasure.view_erasureitem"):
            items_url = reverse("admin:erasure_erasureitem_changelist") + (
                f"?request__id__exact={obj.pk}" + (f"&outcome__exact={outcome}" if outcome else "")
            )
        entries, more, calls = timeline(obj, limit=ROWS_SHOWN_ON_REQUEST_PAGE)
        return {
            # Every field is read-only: state changes go through the actions.
            "show_save": False,
            "show_save_and_continue": False,
            "show_save_and_add_another": False,
            "title": f"Erasure request {str(obj.pk)[:8]}",
            "subtitle": None,
            "counts": counts,
            "outcome_columns": [
                {"value": value, "label": OUTCOME_LABELS[value], "count": f"{counts[value]:,}"}
                for value in ItemOutcome.values
            ],
            "by_namespace": by_namespace,
            "empty_request": counts["total"] == 0 and obj.status != RequestStatus.CANCELLED,
            "deadline": deadline_of(obj),
            "received_ago": relative(obj.received_at),
            "source_text": SOURCE_TEXT.get(obj.source, obj.get_source_display()),
            "filed_by": filed_by(obj),
            "approved_by": approved_by(obj),
            "progress": progress_of(obj, counts, len(by_namespace)),
            "actions": actions_for(user, obj, counts, len(by_namespace)),
            "completeness": request_completeness(request=obj),
            "dispatches": obj.dispatches.select_related("namespace").order_by("-id")[
                :ROWS_SHOWN_ON_REQUEST_PAGE
            ],
            "rows_shown": ROWS_SHOWN_ON_REQUEST_PAGE,
            "timeline": entries,
            "timeline_more": more,
            "timeline_calls": calls,
            "progress_url": reverse("admin:erasure_erasurerequest_progress", args=[obj.pk]),
            "live": obj.status in LIVE_STATUSES,
            "items": shown,
            "items_shown": len(shown),
            "items_matching": matching,
            "items_total": counts["total"] if obj.started_at else 0,
            "items_url": items_url,
            "item_outcome": outcome,
            "item_namespace": namespace,
            "can_certificate": can_certify(obj),
            "can_export": user.has_perm("erasure.export_audit"),
        }
