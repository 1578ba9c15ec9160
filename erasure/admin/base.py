"""What every admin of the service shares.

`BaseAdmin` is the base of every ModelAdmin here and in webhooks/admin.py: it answers
hostile input with a 400 or a form error, never a 500. `ReadOnlyAdmin` is the one base of
the evidence (audit events, items, dispatches, deliveries): listed and read, never added,
changed or deleted, like healthchecks' hc/logs/admin.py.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DataError, transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, QueryDict
from django.template.response import TemplateResponse

from erasure.actors import Actor
from erasure.errors import ServiceError

# The request attribute that carries a service's refusal into the form shown again.
_REFUSAL = "_erasure_service_refusal"


def actor_of(request: HttpRequest) -> Actor:
    """The signed-in person (every admin view requires a staff login)."""
    user = request.user
    if not isinstance(user, User):
        raise PermissionDenied
    return Actor.for_user(user)


def holds_nul(query: QueryDict) -> bool:
    """Whether a parameter's name or value holds a NUL character, which PostgreSQL cannot
    store in text and refuses in a query."""
    return any("\x00" in name or any("\x00" in v for v in values) for name, values in query.lists())


def _with_refusal(form_class: type[forms.BaseForm], refusal: ServiceError) -> type[forms.BaseForm]:
    """`form_class`, with `refusal` as an error on the fields it names (or on the form)."""

    class Refused(form_class):  # type: ignore[valid-type,misc]
        def clean(self) -> dict[str, Any] | None:
            data = super().clean()
            named = [name for name in refusal.fields if name in self.fields]
            for name in named:
                self.add_error(name, refusal.message)
            if not named:
                self.add_error(None, refusal.message)
            return data

    Refused.__name__ = form_class.__name__
    return Refused


class BaseAdmin(admin.ModelAdmin):
    """Every admin of the service.

    - Its list answers a NUL in a search or filter value with a 400: Django would pass
      it on to PostgreSQL as the page renders, and fail there (a 500). So is a date of
      the drill-down out of range.
    - Its actions refuse a selection of malformed ids (Django filters `pk__in` with the
      ids as posted, and a malformed one raises).
    - A form's save calls a service (`save_model`); when the service refuses what the
      form let through, its transaction is rolled back and the form is shown again with
      the service's message, as a form error.
    """

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if holds_nul(request.GET):
            return HttpResponseBadRequest("A search or filter value holds a NUL character.")
        if not self._dates_in_range(request.GET):
            return HttpResponseBadRequest("A date of the list's drill-down is out of range.")
        # A filter value the column's type refuses (an enum of PostgreSQL's, say) fails in
        # the list's queries, some of which run only as the page renders: render here, in
        # a savepoint, while the failure can still be answered as the bad input it is.
        try:
            with transaction.atomic():
                response = super().changelist_view(request, extra_context)
                if isinstance(response, TemplateResponse):
                    response.render()
        except DataError:
            return HttpResponseBadRequest("A filter value is not one the list can hold.")
        return response

    def _dates_in_range(self, query: QueryDict) -> bool:
        """Whether the date drill-down's year, month and day are within range. Django
        computes the next year, month or day of what it is given: from a number too
        large for a date, or in year 9999, that fails outside its own checks (a 500).
        A value that is no number at all is left to Django, which answers it."""
        if not self.date_hierarchy:
            return True
        for part, largest in (("year", 9998), ("month", 12), ("day", 31)):
            for value in query.getlist(f"{self.date_hierarchy}__{part}"):
                try:
                    number = int(value)
                except ValueError:
                    continue
                if not 1 <= number <= largest:
                    return False
        return True

    def response_action(
        self, request: HttpRequest, queryset: QuerySet, *args: Any, **kwargs: Any
    ) -> HttpResponse | None:
        pk = self.model._meta.pk
        assert pk is not None
        try:
            for value in request.POST.getlist(helpers.ACTION_CHECKBOX_NAME):
                if pk.to_python(value) in (None, ""):
                    raise ValidationError("empty id")
        except ValidationError:
            self.message_user(
                request, "The selection names no such rows; nothing was changed.", messages.ERROR
            )
            return None
        return super().response_action(request, queryset, *args, **kwargs)

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> Any:
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ServiceError as refusal:
            # Django's own transaction around the save has been rolled back: nothing of
            # this attempt is kept. Going through the view once more validates the same
            # input again, now with the refusal as an error, so the form comes back with
            # what was typed.
            setattr(request, _REFUSAL, refusal)
            return super().changeform_view(request, object_id, form_url, extra_context)

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> type[forms.ModelForm]:
        form_class = super().get_form(request, obj, change=change, **kwargs)
        refusal = getattr(request, _REFUSAL, None)
        if refusal is None:
            return form_class
        return _with_refusal(form_class, refusal)  # type: ignore[return-value]


class ReadOnlyAdmin(BaseAdmin):
    """Listed and read only: no add, change or delete, for anyone."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
