"""REST API, one view per operation (product.md "Public surface").

Views validate the shape of the input, call one service or selector, and shape the output;
business rules live in the services.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Iterable
from typing import Any

from django.http import HttpResponse, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.exceptions import NotAuthenticated
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.pagination import PageNumberPagination
from rest_framework.parsers import JSONParser
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from erasure import exports
from erasure.actors import Actor
from erasure.api.idempotency import idempotent
from erasure.api.schema import AutoSchema
from erasure.certificates import certificate_for, certificate_response
from erasure.errors import InvalidInput
from erasure.models import (
    ApiKey,
    AttributionMode,
    ErasureRequest,
    ItemOutcome,
    Namespace,
    NamespaceKind,
    Regulation,
    RequestSource,
    RequestStatus,
)
from erasure.selectors.namespaces import namespace_get, namespaces_list
from erasure.selectors.requests import (
    request_get,
    request_items,
    request_outcome_counts,
    requests_list,
)
from erasure.services.aliases import (
    KIND_PATTERN,
    MAX_ALIAS_LENGTH,
    MAX_ALIASES_PER_CALL,
    AliasInput,
    aliases_register,
)
from erasure.services.audit import audit_verify
from erasure.services.mappings import (
    MAX_ITEMS_PER_CALL,
    MappingInput,
    RegisterResult,
    RemoveResult,
    mappings_register,
    mappings_remove,
)
from erasure.services.namespaces import namespace_set_mode
from erasure.services.requests import (
    MAX_GRACE_HOURS,
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

Scope = ApiKey.Scope
READ_SCOPES = (Scope.REQUESTS_WRITE, Scope.REQUESTS_APPROVE, Scope.AUDIT_READ)
ALL_SCOPES = tuple(Scope.values)


class ApiView(APIView):
    """Base of every view of the API: JSON bodies only (anything else is a 415), component
    names from erasure.api.schema."""

    parser_classes = [JSONParser]
    schema = AutoSchema()


class Pagination(PageNumberPagination):
    """`?page=N`, 100 per page; a page past the end is a 404."""

    page_size = 100


class ErrorSerializer(serializers.Serializer):
    error = inline_serializer(
        "ErrorBody",
        fields={
            "code": serializers.CharField(),
            "message": serializers.CharField(),
            "fields": serializers.DictField(),
        },
    )


ERRORS: dict[int, Any] = {400: ErrorSerializer, 401: ErrorSerializer, 403: ErrorSerializer}
# An Idempotency-Key reused with another body, or still in progress.
POST_ERRORS: dict[int, Any] = {**ERRORS, 409: ErrorSerializer}
LIST_ERRORS: dict[int, Any] = {**ERRORS, 404: ErrorSerializer}  # 404: a page past the end


_FIELD_FOR_TYPE: dict[Any, Any] = {
    int: serializers.IntegerField,
    bool: serializers.BooleanField,
    str: serializers.CharField,
}


def dataclass_serializer(cls: type, name: str) -> type[serializers.Serializer]:
    """A serializer declaring every field of the dataclass `cls`, so that a field added to
    a service's result shows up in the answer (dataclasses.asdict) and in the schema."""
    hints = typing.get_type_hints(cls)
    fields = {}
    for field in dataclasses.fields(cls):
        field_class = _FIELD_FOR_TYPE.get(hints[field.name], serializers.JSONField)
        fields[field.name] = field_class()
    return type(name, (serializers.Serializer,), fields)


class RequestOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=RequestStatus.values)
    # A field named like Field.source in the stubs; DRF collects declared fields by name.
    source = serializers.ChoiceField(choices=RequestSource.values)  # type: ignore[assignment]
    regulation = serializers.ChoiceField(choices=Regulation.values)
    subject_hash = serializers.CharField()
    received_at = serializers.DateTimeField()
    due_at = serializers.DateTimeField()
    approved_at = serializers.DateTimeField(allow_null=True)
    started_at = serializers.DateTimeField(allow_null=True)
    completed_at = serializers.DateTimeField(allow_null=True)
    auto_approved = serializers.BooleanField()
    last_error = serializers.CharField(allow_blank=True)
    stuck_since = serializers.DateTimeField(allow_null=True)
    scheduled_for = serializers.DateTimeField(
        allow_null=True, help_text="While `scheduled`: when its grace period ends."
    )
    original_due_at = serializers.DateTimeField(
        allow_null=True, help_text="The legal deadline, when `due_at` was extended or paused."
    )
    deadline_paused_at = serializers.DateTimeField(allow_null=True)
    hold_reason = serializers.CharField(help_text="Why it is on hold; empty when not.")
    counts = serializers.DictField(child=serializers.IntegerField())


class RequestSummarySerializer(serializers.Serializer):
    """A request in a list: no per-outcome counts (one query per request otherwise)."""

    id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=RequestStatus.values)
    source = serializers.ChoiceField(choices=RequestSource.values)  # type: ignore[assignment]
    regulation = serializers.ChoiceField(choices=Regulation.values)
    subject_hash = serializers.CharField(source="subject.key_hash")
    received_at = serializers.DateTimeField()
    due_at = serializers.DateTimeField()
    approved_at = serializers.DateTimeField(allow_null=True)
    completed_at = serializers.DateTimeField(allow_null=True)
    stuck_since = serializers.DateTimeField(allow_null=True)


def request_output(request: ErasureRequest) -> dict[str, Any]:
    return {
        "id": str(request.pk),
        "status": request.status,
        "source": request.source,
        "regulation": request.regulation,
        "subject_hash": request.subject.key_hash,
        "received_at": request.received_at,
        "due_at": request.due_at,
        "approved_at": request.approved_at,
        "started_at": request.started_at,
        "completed_at": request.completed_at,
        "auto_approved": request.auto_approved,
        "last_error": request.last_error,
        "stuck_since": request.stuck_since,
        "scheduled_for": request.scheduled_for,
        "original_due_at": request.original_due_at,
        "deadline_paused_at": request.deadline_paused_at,
        "hold_reason": request.hold_reason,
        "counts": request_outcome_counts(request=request),
    }


def _out(request: ErasureRequest, http_status: int = status.HTTP_200_OK) -> Response:
    return Response(RequestOutputSerializer(request_output(request)).data, status=http_status)


class MappingItemSerializer(serializers.Serializer):
    subject = serializers.CharField(max_length=512, trim_whitespace=True)
    namespace = serializers.CharField(max_length=200)
    item_id = serializers.CharField(max_length=512, trim_whitespace=False)


class MappingsInputSerializer(serializers.Serializer):
    # max_length goes to the ListSerializer that many=True builds (the stubs miss it).
    items = MappingItemSerializer(  # type: ignore[call-arg]
        many=True, allow_empty=False, max_length=MAX_ITEMS_PER_CALL
    )


RegisterResultSerializer = dataclass_serializer(RegisterResult, "MappingsRegisterResultSerializer")
RemoveResultSerializer = dataclass_serializer(RemoveResult, "MappingsRemoveResultSerializer")


MAPPINGS_EXAMPLE = OpenApiExample(
    "Two items of one subject",
    request_only=True,
    value={
        "items": [
            {"subject": "auth0|5f7c8ec7", "namespace": "notes", "item_id": "doc-1"},
            {"subject": "auth0|5f7c8ec7", "namespace": "notes", "item_id": "doc-2"},
        ]
    },
)


class MappingsRegisterApi(ApiView):
    required_scopes = (Scope.MAPPINGS_WRITE,)

    @extend_schema(
        request=MappingsInputSerializer,
        responses={200: RegisterResultSerializer, 503: ErrorSerializer, **POST_ERRORS},
        operation_id="mappings_register",
        examples=[MAPPINGS_EXAMPLE],
        summary="Register which items belong to which subject (idempotent, bulk)",
        description=f"At most {MAX_ITEMS_PER_CALL:,} items per call; all or nothing. A "
        "namespace not known yet is looked up in the namespace API's list (503 when it "
        "cannot be reached). Items of a subject whose request is running join it at once.",
    )
    @idempotent
    def post(self, request: Request) -> Response:
        data = _validated(MappingsInputSerializer, request)
        result = mappings_register(
            items=[MappingInput(**item) for item in data["items"]],
            actor=Actor.for_api_key(_key(request)),
        )
        return Response(RegisterResultSerializer(dataclasses.asdict(result)).data)


class MappingsRemoveApi(ApiView):
    required_scopes = (Scope.MAPPINGS_WRITE,)

    @extend_schema(
        request=MappingsInputSerializer,
        responses={200: RemoveResultSerializer, **POST_ERRORS},
        operation_id="mappings_remove",
        examples=[MAPPINGS_EXAMPLE],
        summary="Remove mappings (bulk; ones that do not exist remove nothing)",
        description=f"At most {MAX_ITEMS_PER_CALL:,} items per call; all or nothing. Items "
        "already taken into an erasure request stay in it.",
    )
    @idempotent
    def post(self, request: Request) -> Response:
        data = _validated(MappingsInputSerializer, request)
        result = mappings_remove(
            items=[MappingInput(**item) for item in data["items"]],
            actor=Actor.for_api_key(_key(request)),
        )
        return Response(RemoveResultSerializer(dataclasses.asdict(result)).data)


class AliasesRegisterApi(ApiView):
    required_scopes = (Scope.MAPPINGS_WRITE,)

    class InputSerializer(serializers.Serializer):
        class ItemSerializer(serializers.Serializer):
            subject = serializers.CharField(max_length=512)
            kind = serializers.RegexField(
                KIND_PATTERN.pattern,
                max_length=40,
                help_text="Where the alias comes from: `email`, `okta`, `auth0`, ... "
                "(1-40 of a-z, 0-9, `_`, `.`, `-`).",
            )
            alias = serializers.CharField(max_length=MAX_ALIAS_LENGTH)

        items = ItemSerializer(  # type: ignore[call-arg]
            many=True, allow_empty=False, max_length=MAX_ALIASES_PER_CALL
        )

    class OutputSerializer(serializers.Serializer):
        received = serializers.IntegerField()
        created = serializers.IntegerField()
        conflicts = serializers.IntegerField(
            help_text="Aliases already registered to another subject: kept, never moved."
        )

    @extend_schema(
        request=InputSerializer,
        responses={200: OutputSerializer, **POST_ERRORS},
        operation_id="aliases_register",
        examples=[
            OpenApiExample(
                "Two aliases of one subject",
                request_only=True,
                value={
                    "items": [
                        {"subject": "auth0|5f7c8ec7", "kind": "email", "alias": "ann@example.com"},
                        {"subject": "auth0|5f7c8ec7", "kind": "okta", "alias": "00u1a2b3c4"},
                    ]
                },
            )
        ],
        summary="Register other identifiers of subjects (bulk, idempotent)",
        description="Identity webhooks and the admin find a subject by an alias. Emails "
        "compare case-insensitively; only keyed hashes are stored.",
    )
    @idempotent
    def post(self, request: Request) -> Response:
        data = _validated(self.InputSerializer, request)
        result = aliases_register(
            items=[AliasInput(**item) for item in data["items"]],
            actor=Actor.for_api_key(_key(request)),
        )
        return Response(self.OutputSerializer(dataclasses.asdict(result)).data)


class RequestsApi(ApiView):
    # GET lists requests, POST files one.
    required_scopes = {"GET": READ_SCOPES, "POST": (Scope.REQUESTS_WRITE,)}
    pagination_class = Pagination

    class FilterSerializer(serializers.Serializer):
        status = serializers.ChoiceField(choices=RequestStatus.values, required=False)
        source = serializers.ChoiceField(  # type: ignore[assignment]
            choices=RequestSource.values, required=False
        )
        regulation = serializers.ChoiceField(choices=Regulation.values, required=False)
        received_after = serializers.DateTimeField(
            required=False, help_text="Received at or after (ISO 8601)."
        )
        received_before = serializers.DateTimeField(
            required=False, help_text="Received before (ISO 8601)."
        )
        subject_hash = serializers.RegexField(
            r"^[0-9a-f]{64}$",
            required=False,
            help_text="The subject's keyed hash (as `subject_hash` in answers), never its key.",
        )

    class InputSerializer(serializers.Serializer):
        subject = serializers.CharField(max_length=512)
        regulation = serializers.ChoiceField(choices=Regulation.values, default=Regulation.GDPR)
        reason = serializers.CharField(max_length=5000, required=False, default="")
        auto_approve = serializers.BooleanField(required=False, default=False)
        grace_hours = serializers.FloatField(
            required=False,
            min_value=0,
            max_value=MAX_GRACE_HOURS,
            help_text="Hours between approval and execution, during which the request stays "
            "`scheduled` and can still be cancelled (default: ERASURE_GRACE_HOURS).",
        )

    @extend_schema(
        parameters=[FilterSerializer],
        responses={200: RequestSummarySerializer(many=True), **LIST_ERRORS},
        operation_id="requests_list",
        summary="List requests, newest first (filters combine)",
    )
    def get(self, request: Request) -> Response:
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(
            requests_list(**filters.validated_data), request, view=self
        )
        return paginator.get_paginated_response(RequestSummarySerializer(page, many=True).data)

    @extend_schema(
        request=InputSerializer,
        responses={201: RequestOutputSerializer, 200: RequestOutputSerializer, **POST_ERRORS},
        operation_id="request_file",
        examples=[
            OpenApiExample(
                "A GDPR request",
                request_only=True,
                value={"subject": "auth0|5f7c8ec7", "regulation": "gdpr", "reason": "Art. 17"},
            )
        ],
        summary="File an erasure request (200 when the subject already has an open one)",
        description="`auto_approve` needs the `requests:approve` scope too.",
    )
    @idempotent
    def post(self, request: Request) -> Response:
        data = _validated(self.InputSerializer, request)
        key = _key(request)
        if data["auto_approve"] and Scope.REQUESTS_APPROVE not in key.scopes:
            raise InvalidInput(
                "auto_approve needs an API key with the requests:approve scope",
                fields={"auto_approve": ["not allowed for this key"]},
            )
        # Also kept on the request itself: its unique constraint is the last line against
        # a duplicate, and the admin shows it.
        idempotency_key = request.headers.get("Idempotency-Key") or None
        result = request_file(
            subject_key=data["subject"],
            regulation=data["regulation"],
            reason=data["reason"],
            actor=Actor.for_api_key(key),
            source=RequestSource.API,
            idempotency_key=idempotency_key,
            auto_approve=data["auto_approve"],
            grace_hours=data.get("grace_hours"),
        )
        # A replay of this key's own filing (another key's request with the same
        # Idempotency-Key string is an open request answered with 200, not a creation).
        replay = (
            idempotency_key is not None
            and result.request.idempotency_key == idempotency_key
            and result.request.filed_by_api_key_id == key.pk
        )
        created = result.created or replay
        return _out(result.request, status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class RequestDetailApi(ApiView):
    required_scopes = READ_SCOPES

    @extend_schema(
        responses={200: RequestOutputSerializer, 404: ErrorSerializer, **ERRORS},
        operation_id="request_get",
        summary="A request: status, deadline and item counts per outcome",
    )
    def get(self, request: Request, request_id: str) -> Response:
        return _out(request_get(request_id=request_id))


STATE_CHANGE_RESPONSES = {200: RequestOutputSerializer, 404: ErrorSerializer, **POST_ERRORS}


class _RequestActionApi(ApiView):
    """POST /requests/{id}/<action> without a body: one service call on the request."""

    service: Any = None

    def post(self, request: Request, request_id: str) -> Response:
        erasure_request = request_get(request_id=request_id)
        changed = type(self).service(
            request=erasure_request, actor=Actor.for_api_key(_key(request))
        )
        return _out(changed)


class RequestApproveApi(_RequestActionApi):
    required_scopes = (Scope.REQUESTS_APPROVE,)
    service = staticmethod(request_approve)

    @extend_schema(
        request=None,
        responses=STATE_CHANGE_RESPONSES,
        operation_id="request_approve",
        summary="Approve a request (four-eyes: not by the key that filed it)",
    )
    @idempotent
    def post(self, request: Request, request_id: str) -> Response:
        return super().post(request, request_id)


class RequestCancelApi(ApiView):
    required_scopes = (Scope.REQUESTS_WRITE,)

    class InputSerializer(serializers.Serializer):
        reason = serializers.CharField(max_length=5000, required=False, default="")

    @extend_schema(
        request=InputSerializer,
        responses=STATE_CHANGE_RESPONSES,
        operation_id="request_cancel",
        summary="Cancel a request that has not started running",
    )
    @idempotent
    def post(self, request: Request, request_id: str) -> Response:
        data = _validated(self.InputSerializer, request)
        erasure_request = request_get(request_id=request_id)
        cancelled = request_cancel(
            request=erasure_request, actor=Actor.for_api_key(_key(request)), reason=data["reason"]
        )
        return _out(cancelled)


class RequestRetryApi(_RequestActionApi):
    required_scopes = (Scope.REQUESTS_WRITE,)
    service = staticmethod(request_retry)

    @extend_schema(
        request=None,
        responses=STATE_CHANGE_RESPONSES,
        operation_id="request_retry",
        summary="Send the failed items of a request again (only those)",
    )
    @idempotent
    def post(self, request: Request, request_id: str) -> Response:
        return super().post(request, request_id)


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(
        max_length=5000, help_text="Required; recorded in the audit trail."
    )


class _ReasonActionApi(ApiView):
    """POST /requests/{id}/<action> {"reason"}: one service call that needs a reason."""

    required_scopes = (Scope.REQUESTS_APPROVE,)
    service: Any = None
    input_serializer: type[serializers.Serializer] = ReasonSerializer

    def post(self, request: Request, request_id: str) -> Response:
        data = _validated(self.input_serializer, request)
        erasure_request = request_get(request_id=request_id)
        changed = type(self).service(
            request=erasure_request, actor=Actor.for_api_key(_key(request)), **data
        )
        return _out(changed)


def _reason_action(
    name: str,
    service: Any,
    *,
    operation_id: str,
    summary: str,
    serializer: type[serializers.Serializer] = ReasonSerializer,
) -> type[_ReasonActionApi]:
    """A view for one reason-taking state change: its schema, Idempotency-Key, service."""

    @extend_schema(
        request=serializer,
        responses=STATE_CHANGE_RESPONSES,
        operation_id=operation_id,
        summary=summary,
    )
    @idempotent
    def post(self: _ReasonActionApi, request: Request, request_id: str) -> Response:
        return _ReasonActionApi.post(self, request, request_id)

    return type(
        name,
        (_ReasonActionApi,),
        {
            "service": staticmethod(service),
            "input_serializer": serializer,
            "post": post,
            "__module__": __name__,
        },
    )


class ExtendSerializer(ReasonSerializer):
    due_at = serializers.DateTimeField(
        help_text="The new deadline (ISO 8601), later than the current one and within the "
        "regulation's limit (GDPR: 3 months from receipt in all; CCPA: 90 days)."
    )


RequestHoldApi = _reason_action(
    "RequestHoldApi",
    request_hold,
    operation_id="request_hold",
    summary="Place a legal hold: nothing more is sent until it is released",
)
RequestReleaseApi = _reason_action(
    "RequestReleaseApi",
    request_release,
    operation_id="request_release",
    summary="Release a legal hold: the request goes back to where it was",
)
RequestExtendApi = _reason_action(
    "RequestExtendApi",
    request_extend_deadline,
    operation_id="request_extend_deadline",
    summary="Extend a request's deadline, with a reason",
    serializer=ExtendSerializer,
)
RequestPauseDeadlineApi = _reason_action(
    "RequestPauseDeadlineApi",
    request_pause_deadline,
    operation_id="request_pause_deadline",
    summary="Stop the deadline's clock (execution goes on), with a reason",
)
RequestResumeDeadlineApi = _reason_action(
    "RequestResumeDeadlineApi",
    request_resume_deadline,
    operation_id="request_resume_deadline",
    summary="Restart the deadline's clock: the deadline moves by the paused time",
)


class RequestItemsApi(ApiView):
    required_scopes = READ_SCOPES
    pagination_class = Pagination

    class OutputSerializer(serializers.Serializer):
        namespace = serializers.CharField(source="namespace.name")
        item_id = serializers.CharField()
        outcome = serializers.ChoiceField(choices=ItemOutcome.values)
        attempts = serializers.IntegerField()
        last_http_status = serializers.IntegerField(allow_null=True)
        last_error = serializers.CharField(allow_blank=True)
        decided_by_dispatch = serializers.IntegerField(source="decided_by_id", allow_null=True)
        decided_at = serializers.DateTimeField(allow_null=True)

    class FilterSerializer(serializers.Serializer):
        # Blank means "no filter", as it did before these were validated.
        outcome = serializers.ChoiceField(
            choices=ItemOutcome.values, required=False, allow_blank=True
        )
        namespace = serializers.CharField(
            max_length=200, required=False, allow_blank=True, help_text="A namespace name."
        )

    @extend_schema(
        parameters=[FilterSerializer],
        responses={200: OutputSerializer(many=True), **LIST_ERRORS},
        operation_id="request_items",
        summary="Per-item outcomes of a request, 100 per page",
    )
    def get(self, request: Request, request_id: str) -> Response:
        erasure_request = request_get(request_id=request_id)
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        items = request_items(
            request=erasure_request,
            outcome=filters.validated_data.get("outcome") or None,
            namespace=filters.validated_data.get("namespace") or None,
        )
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(items, request, view=self)
        return paginator.get_paginated_response(self.OutputSerializer(page, many=True).data)


ATTRIBUTION_MODES_DESCRIPTION = """How the outcome of each item ID is attributed when the
namespace's items are erased:

- `exact` (default for text namespaces): check which IDs exist (`documents/get`), delete
  those, and check again after any ambiguous answer; every item ends `deleted`, `not_found`
  or `failed`. About 11 calls per 1,000 IDs.
- `fast` (default for vector namespaces): delete 1,000 IDs per call and attribute by the
  counts the API returns: all `deleted` when every ID was deleted, all `not_found` when none
  was, else `deleted_or_not_found` (vector namespaces cannot be read by ID). One call per
  1,000 IDs.
- `single`: one ID per delete call, so that the counts attribute each ID exactly; costs one
  call per ID against the API's quota (for vector namespaces that need exact evidence).

On a vector namespace `exact` works as `fast` (there is nothing to check with); the
on-prem API reports missing IDs itself, whatever the mode. A change applies to the batches
sent from then on and is recorded in the audit trail."""


class NamespaceOutputSerializer(serializers.Serializer):
    name = serializers.CharField()
    kind = serializers.ChoiceField(choices=NamespaceKind.values)
    attribution_mode = serializers.ChoiceField(
        choices=AttributionMode.values, help_text=ATTRIBUTION_MODES_DESCRIPTION
    )
    created_at = serializers.DateTimeField()


class NamespacesApi(ApiView):
    required_scopes = ALL_SCOPES
    pagination_class = Pagination

    @extend_schema(
        responses={200: NamespaceOutputSerializer(many=True), **LIST_ERRORS},
        operation_id="namespaces_list",
        summary="The namespaces known to the service, by name",
        description=ATTRIBUTION_MODES_DESCRIPTION,
    )
    def get(self, request: Request) -> Response:
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(namespaces_list(), request, view=self)
        return paginator.get_paginated_response(NamespaceOutputSerializer(page, many=True).data)


class NamespaceDetailApi(ApiView):
    required_scopes = {"PATCH": (Scope.REQUESTS_APPROVE,)}

    class InputSerializer(serializers.Serializer):
        attribution_mode = serializers.ChoiceField(
            choices=AttributionMode.values, help_text=ATTRIBUTION_MODES_DESCRIPTION
        )

    @extend_schema(
        # Spelled out: drf-spectacular documents every field of a PATCH body as optional,
        # and this one has a single field, which is required.
        request={
            "application/json": {
                "type": "object",
                "properties": {
                    "attribution_mode": {"type": "string", "enum": AttributionMode.values}
                },
                "required": ["attribution_mode"],
            }
        },
        responses={200: NamespaceOutputSerializer, 404: ErrorSerializer, **ERRORS},
        operation_id="namespace_set_mode",
        summary="Set a namespace's attribution mode",
        description=ATTRIBUTION_MODES_DESCRIPTION,
    )
    def patch(self, request: Request, name: str) -> Response:
        data = _validated(self.InputSerializer, request)
        namespace: Namespace = namespace_set_mode(
            namespace=namespace_get(name=name),
            mode=data["attribution_mode"],
            actor=Actor.for_api_key(_key(request)),
        )
        return Response(NamespaceOutputSerializer(namespace).data)


class _IgnoreFormatParameter(DefaultContentNegotiation):
    """`?format=` of the export names the export's format, not one of DRF's renderers
    (which it would otherwise pick by that name, and 404 for `csv`). The export streams
    its own body; errors are JSON."""

    def select_renderer(
        self,
        request: Request,
        renderers: Iterable[BaseRenderer],
        format_suffix: str | None = None,
    ) -> tuple[BaseRenderer, str]:
        renderer = next(iter(renderers))
        return renderer, renderer.media_type


class AuditExportApi(ApiView):
    required_scopes = (Scope.AUDIT_READ,)
    renderer_classes = [JSONRenderer]
    content_negotiation_class = _IgnoreFormatParameter

    class QuerySerializer(serializers.Serializer):
        what = serializers.ChoiceField(
            choices=list(exports.WHAT),
            default="events",
            help_text="`events` (the audit trail), `items` (outcomes) or `requests`.",
        )
        format = serializers.ChoiceField(
            choices=list(exports.FORMATS), default="csv", help_text="`csv` or `jsonl`."
        )
        request = serializers.UUIDField(
            required=False, help_text="Only this request's events, items or row."
        )
        since = serializers.DateTimeField(
            required=False,
            help_text="At or after this time (ISO 8601): events by occurrence, items by "
            "decision, requests by receipt.",
        )
        until = serializers.DateTimeField(
            required=False, help_text="Before this time (ISO 8601), on the same clock as since."
        )

        def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
            since, until = attrs.get("since"), attrs.get("until")
            if since is not None and until is not None and until <= since:
                raise serializers.ValidationError({"until": ["must be later than since"]})
            return attrs

    @extend_schema(
        parameters=[
            QuerySerializer,
            OpenApiParameter(
                "X-Export-Event-Id",
                int,
                OpenApiParameter.HEADER,
                response=[200],
                description="The id of this export's `export.created` audit event.",
            ),
        ],
        responses={
            (200, exports.FORMATS["csv"]): OpenApiResponse(
                OpenApiTypes.STR, description="CSV with a header row."
            ),
            (200, exports.FORMATS["jsonl"]): OpenApiResponse(
                OpenApiTypes.STR, description="One JSON object per line."
            ),
            **ERRORS,
        },
        operation_id="audit_export",
        summary="Export the audit trail, item outcomes or requests (streamed)",
        description=exports.EXPORT_DESCRIPTION,
    )
    def get(self, request: Request) -> StreamingHttpResponse:
        query = self.QuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        export_format = query.validated_data["format"]
        what = query.validated_data["what"]
        since = query.validated_data.get("since")
        until = query.validated_data.get("until")
        request_id = query.validated_data.get("request")
        request_id = str(request_id) if request_id else None
        return exports.export_response(
            actor=Actor.for_api_key(_key(request)),
            what=what,
            export_format=export_format,
            since=since,
            until=until,
            request_id=request_id,
        )


def _key(request: Request) -> ApiKey:
    """The API key that authenticated the request (HasScope let nothing else through)."""
    key = request.auth
    if not isinstance(key, ApiKey):
        raise NotAuthenticated("an API key is required (Authorization: Bearer)")
    return key


def _validated(serializer_class: type[serializers.Serializer], request: Request) -> Any:
    if not isinstance(request.data, dict):
        raise InvalidInput("the body must be a JSON object")
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class ChainVerificationSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    checked = serializers.IntegerField(help_text="Events verified.")
    first_id = serializers.IntegerField(allow_null=True)
    last_id = serializers.IntegerField(allow_null=True)
    anchor = serializers.CharField(
        help_text="The hash the first event had to follow (64 zeros: the start of the chain)."
    )
    head = serializers.CharField(help_text="The hash of the last event verified.")
    broken_id = serializers.IntegerField(
        allow_null=True, help_text="The first event that does not verify."
    )
    reason = serializers.CharField(help_text="Why it does not verify; empty when ok.")


class AuditVerifyApi(ApiView):
    required_scopes = (Scope.AUDIT_READ,)

    class QuerySerializer(serializers.Serializer):
        # `from`/`to` are Python keywords: declared under other names, renamed below.
        from_id = serializers.IntegerField(required=False, min_value=1)
        to_id = serializers.IntegerField(required=False, min_value=1)

    @extend_schema(
        parameters=[
            OpenApiParameter("from", int, description="First event id (default: the first)."),
            OpenApiParameter("to", int, description="Last event id (default: the last)."),
        ],
        responses={200: ChainVerificationSerializer, **ERRORS},
        operation_id="audit_verify",
        summary="Verify the audit trail's hash chain, whole or a range of event ids",
        description="Recomputes every event's hash from its content and checks that each "
        "follows the one before it. `head` is the chain head (whole chain) or the last "
        "event's hash (range); a certificate of erasure names the head at completion.",
    )
    def get(self, request: Request) -> Response:
        query = self.QuerySerializer(
            data={
                key: value
                for key, value in (
                    ("from_id", request.query_params.get("from")),
                    ("to_id", request.query_params.get("to")),
                )
                if value is not None
            }
        )
        if not query.is_valid():
            renamed = {"from_id": "from", "to_id": "to"}
            raise InvalidInput(
                "from and to must be event ids (positive integers)",
                fields={renamed.get(k, k): [str(e) for e in v] for k, v in query.errors.items()},
            )
        result = audit_verify(
            first_id=query.validated_data.get("from_id"),
            last_id=query.validated_data.get("to_id"),
        )
        return Response(ChainVerificationSerializer(dataclasses.asdict(result)).data)


class RequestCertificateApi(ApiView):
    required_scopes = READ_SCOPES
    renderer_classes = [JSONRenderer]
    content_negotiation_class = _IgnoreFormatParameter

    class QuerySerializer(serializers.Serializer):
        format = serializers.ChoiceField(
            choices=["pdf", "html"], default="pdf", help_text="`pdf` or `html`."
        )

    @extend_schema(
        parameters=[QuerySerializer],
        responses={
            (200, "application/pdf"): OpenApiResponse(
                OpenApiTypes.BINARY, description="The certificate as PDF."
            ),
            (200, "text/html"): OpenApiResponse(
                OpenApiTypes.STR, description="The certificate as an HTML page."
            ),
            404: ErrorSerializer,
            409: ErrorSerializer,
            **ERRORS,
        },
        operation_id="request_certificate",
        summary="The certificate of erasure of a completed request (PDF or HTML)",
        description="The request's facts (hashed subject, regulation, received, due, "
        "completed, who filed and approved it), items per namespace and outcome, the items "
        "that could not be erased and why, and the audit chain head at completion. 409 "
        "until the request has completed.",
    )
    def get(self, request: Request, request_id: str) -> HttpResponse:
        query = self.QuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        certificate = certificate_for(request_get(request_id=request_id))
        return certificate_response(certificate, as_html=query.validated_data["format"] == "html")
