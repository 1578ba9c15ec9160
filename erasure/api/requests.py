"""Erasure requests: filed, listed, read, their items, their certificate.

The state changes of a request (approve, cancel, hold, ...) are in request_actions.py.
"""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
    extend_schema_serializer,
)
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from erasure import evidence
from erasure.actors import Actor
from erasure.api.base import (
    ERRORS,
    LIST_ERRORS,
    POST_ERRORS,
    READ_SCOPES,
    ApiJSONRenderer,
    ApiView,
    ErrorSerializer,
    IgnoreFormatParameter,
    Pagination,
    Scope,
    actor_of,
    api_key_of,
    validated_body,
)
from erasure.api.idempotency import HEADER as IDEMPOTENCY_HEADER
from erasure.api.idempotency import idempotent
from erasure.api.serializers import RequestOutputSerializer
from erasure.certificates import certificate_for, certificate_response
from erasure.errors import InvalidInput
from erasure.lifecycle import ItemOutcome, RequestStatus
from erasure.models import Regulation, RequestSource
from erasure.selectors.requests import request_get, request_items, requests_list
from erasure.services.requests import MAX_GRACE_HOURS, request_file


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


class RequestListApi(ApiView):
    required_scopes = READ_SCOPES
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

    @extend_schema(
        parameters=[FilterSerializer],
        responses={200: RequestSummarySerializer(many=True), **LIST_ERRORS},
        operation_id="requests_list",
        summary="List requests, newest first (filters combine)",
    )
    def get(self, request: Request) -> Response:
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        paginator = Pagination()
        page = paginator.paginate_queryset(
            requests_list(**filters.validated_data), request, view=self
        )
        return paginator.get_paginated_response(RequestSummarySerializer(page, many=True).data)


class RequestCreateApi(ApiView):
    required_scopes = (Scope.REQUESTS_WRITE,)

    # The component keeps the name it had when one view served GET and POST /requests.
    @extend_schema_serializer(component_name="RequestsInput")
    class InputSerializer(serializers.Serializer):
        subject = serializers.CharField(max_length=512)
        regulation = serializers.ChoiceField(choices=Regulation.values, default=Regulation.GDPR)
        # Optional, so empty is as good as absent.
        reason = serializers.CharField(
            max_length=5000, required=False, allow_blank=True, default=""
        )
        auto_approve = serializers.BooleanField(required=False, default=False)
        grace_hours = serializers.FloatField(
            required=False,
            min_value=0,
            max_value=MAX_GRACE_HOURS,
            help_text="Hours between approval and execution, during which the request stays "
            "`scheduled` and can still be cancelled (default: ERASURE_GRACE_HOURS).",
        )

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
        data = validated_body(self.InputSerializer, request)
        key = api_key_of(request)
        if data["auto_approve"] and Scope.REQUESTS_APPROVE not in key.scopes:
            raise InvalidInput(
                "auto_approve needs an API key with the requests:approve scope",
                fields={"auto_approve": ["not allowed for this key"]},
            )
        # Also kept on the request itself: its unique constraint is the last line against
        # a duplicate, and the admin shows it.
        idempotency_key = request.headers.get(IDEMPOTENCY_HEADER) or None
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
        return Response(
            RequestOutputSerializer(result.request).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class RequestDetailApi(ApiView):
    required_scopes = READ_SCOPES

    @extend_schema(
        responses={200: RequestOutputSerializer, 404: ErrorSerializer, **ERRORS},
        operation_id="request_get",
        summary="A request: status, deadline and item counts per outcome",
    )
    def get(self, request: Request, request_id: str) -> Response:
        return Response(RequestOutputSerializer(request_get(request_id=request_id)).data)


class RequestItemsApi(ApiView):
    required_scopes = READ_SCOPES
    pagination_class = Pagination

    class OutputSerializer(serializers.Serializer):
        namespace = serializers.CharField(
            source="namespace.label",
            help_text="The namespace's name; one of an API other than the default is API/name.",
        )
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
        paginator = Pagination()
        page = paginator.paginate_queryset(items, request, view=self)
        return paginator.get_paginated_response(self.OutputSerializer(page, many=True).data)


class RequestCertificateApi(ApiView):
    required_scopes = READ_SCOPES
    renderer_classes = [ApiJSONRenderer]
    content_negotiation_class = IgnoreFormatParameter

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
        "that could not be erased and why, and the signed checkpoint of the audit log its "
        "events are proven in; the PDF carries the evidence bundle as an attached file "
        "(`verify_audit --bundle`). Each download is a `certificate.downloaded` audit event. "
        "409 until the request has completed.",
    )
    def get(self, request: Request, request_id: str) -> HttpResponse:
        query = self.QuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        certificate = certificate_for(request_get(request_id=request_id))
        return certificate_response(
            certificate,
            actor=actor_of(request),
            as_html=query.validated_data["format"] == "html",
            request=request._request,
        )


class RequestEvidenceApi(ApiView):
    required_scopes = READ_SCOPES

    @extend_schema(
        responses={200: OpenApiTypes.OBJECT, 404: ErrorSerializer, 503: ErrorSerializer, **ERRORS},
        operation_id="request_evidence",
        summary="The request's evidence bundle: its events, their proofs, the checkpoint",
        description=evidence.__doc__,
    )
    def get(self, request: Request, request_id: str) -> Response:
        erasure_request = request_get(request_id=request_id)
        return Response(evidence.request_evidence(erasure_request, actor=actor_of(request)))
