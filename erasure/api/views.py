"""REST API, one view per operation (product.md "Public surface").

Views validate the shape of the input, call one service or selector, and shape the output;
business rules live in the services.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import NotAuthenticated
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from erasure.actors import Actor
from erasure.errors import InvalidInput
from erasure.models import ApiKey, ErasureRequest, ItemOutcome, Regulation, RequestSource
from erasure.selectors.requests import request_get, request_items, request_outcome_counts
from erasure.services.mappings import MAX_ITEMS_PER_CALL, MappingInput, mappings_register
from erasure.services.requests import (
    request_approve,
    request_cancel,
    request_file,
    request_retry,
)

Scope = ApiKey.Scope
READ_SCOPES = (Scope.REQUESTS_WRITE, Scope.REQUESTS_APPROVE, Scope.AUDIT_READ)


class ErrorSerializer(serializers.Serializer):
    error = inline_serializer(
        "ErrorBody",
        fields={
            "code": serializers.CharField(),
            "message": serializers.CharField(),
            "fields": serializers.DictField(),
        },
    )


class RequestOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.CharField()
    # A field named like Field.source in the stubs; DRF collects declared fields by name.
    source = serializers.CharField()  # type: ignore[assignment]
    regulation = serializers.CharField()
    subject_hash = serializers.CharField()
    received_at = serializers.DateTimeField()
    due_at = serializers.DateTimeField()
    approved_at = serializers.DateTimeField(allow_null=True)
    started_at = serializers.DateTimeField(allow_null=True)
    completed_at = serializers.DateTimeField(allow_null=True)
    auto_approved = serializers.BooleanField()
    last_error = serializers.CharField()
    stuck_since = serializers.DateTimeField(allow_null=True)
    counts = serializers.DictField(child=serializers.IntegerField())


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
        "counts": request_outcome_counts(request=request),
    }


def _out(request: ErasureRequest, http_status: int = status.HTTP_200_OK) -> Response:
    return Response(RequestOutputSerializer(request_output(request)).data, status=http_status)


ERRORS = {400: ErrorSerializer, 401: ErrorSerializer, 403: ErrorSerializer}


class MappingsRegisterApi(APIView):
    required_scopes = (Scope.MAPPINGS_WRITE,)

    class InputSerializer(serializers.Serializer):
        class ItemSerializer(serializers.Serializer):
            subject = serializers.CharField(max_length=512, trim_whitespace=True)
            namespace = serializers.CharField(max_length=200)
            item_id = serializers.CharField(max_length=512, trim_whitespace=False)

        # max_length goes to the ListSerializer that many=True builds (the stubs miss it).
        items = ItemSerializer(  # type: ignore[call-arg]
            many=True, allow_empty=False, max_length=MAX_ITEMS_PER_CALL
        )

    class OutputSerializer(serializers.Serializer):
        received = serializers.IntegerField()
        created = serializers.IntegerField()
        added_to_open_requests = serializers.IntegerField()

    @extend_schema(
        request=InputSerializer,
        responses={200: OutputSerializer, **ERRORS},
        summary="Register which items belong to which subject (idempotent, bulk)",
    )
    def post(self, request: Request) -> Response:
        data = _validated(self.InputSerializer, request)
        result = mappings_register(
            items=[MappingInput(**item) for item in data["items"]],
            actor=Actor.for_api_key(_key(request)),
        )
        return Response(
            {
                "received": result.received,
                "created": result.created,
                "added_to_open_requests": result.added_to_open_requests,
            }
        )


class RequestCreateApi(APIView):
    required_scopes = (Scope.REQUESTS_WRITE,)

    class InputSerializer(serializers.Serializer):
        subject = serializers.CharField(max_length=512)
        regulation = serializers.ChoiceField(choices=Regulation.values, default=Regulation.GDPR)
        reason = serializers.CharField(max_length=5000, required=False, default="")
        auto_approve = serializers.BooleanField(required=False, default=False)

    @extend_schema(
        request=InputSerializer,
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                str,
                OpenApiParameter.HEADER,
                description="Replaying the same key returns the request created first.",
            )
        ],
        responses={201: RequestOutputSerializer, 200: RequestOutputSerializer, **ERRORS},
        summary="File an erasure request (200 when the subject already has an open one)",
    )
    def post(self, request: Request) -> Response:
        data = _validated(self.InputSerializer, request)
        key = _key(request)
        if data["auto_approve"] and Scope.REQUESTS_APPROVE not in key.scopes:
            raise InvalidInput(
                "auto_approve needs an API key with the requests:approve scope",
                fields={"auto_approve": ["not allowed for this key"]},
            )
        idempotency_key = request.headers.get("Idempotency-Key") or None
        if idempotency_key is not None and len(idempotency_key) > 200:
            raise InvalidInput("Idempotency-Key is longer than 200 characters")
        result = request_file(
            subject_key=data["subject"],
            regulation=data["regulation"],
            reason=data["reason"],
            actor=Actor.for_api_key(key),
            source=RequestSource.API,
            idempotency_key=idempotency_key,
            auto_approve=data["auto_approve"],
        )
        replay = idempotency_key is not None and result.request.idempotency_key == idempotency_key
        created = result.created or replay
        return _out(result.request, status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class RequestDetailApi(APIView):
    required_scopes = READ_SCOPES

    @extend_schema(responses={200: RequestOutputSerializer, 404: ErrorSerializer, **ERRORS})
    def get(self, request: Request, request_id: str) -> Response:
        return _out(request_get(request_id=request_id))


STATE_CHANGE_RESPONSES = {
    200: RequestOutputSerializer,
    404: ErrorSerializer,
    409: ErrorSerializer,
    **ERRORS,
}


class _RequestActionApi(APIView):
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
        summary="Approve a request (four-eyes: not by the key that filed it)",
    )
    def post(self, request: Request, request_id: str) -> Response:
        return super().post(request, request_id)


class RequestCancelApi(APIView):
    required_scopes = (Scope.REQUESTS_WRITE,)

    class InputSerializer(serializers.Serializer):
        reason = serializers.CharField(max_length=5000, required=False, default="")

    @extend_schema(request=InputSerializer, responses=STATE_CHANGE_RESPONSES)
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
        summary="Send the failed items of a request again (only those)",
    )
    def post(self, request: Request, request_id: str) -> Response:
        return super().post(request, request_id)


class RequestItemsApi(APIView):
    required_scopes = READ_SCOPES

    class OutputSerializer(serializers.Serializer):
        namespace = serializers.CharField(source="namespace.name")
        item_id = serializers.CharField()
        outcome = serializers.CharField()
        attempts = serializers.IntegerField()
        last_http_status = serializers.IntegerField(allow_null=True)
        last_error = serializers.CharField()
        decided_by_dispatch = serializers.IntegerField(source="decided_by_id", allow_null=True)
        decided_at = serializers.DateTimeField(allow_null=True)

    @extend_schema(
        parameters=[
            OpenApiParameter("outcome", str, enum=ItemOutcome.values),
            OpenApiParameter("namespace", str),
            OpenApiParameter("page", int),
        ],
        responses={200: OutputSerializer(many=True), 404: ErrorSerializer, **ERRORS},
    )
    def get(self, request: Request, request_id: str) -> Response:
        erasure_request = request_get(request_id=request_id)
        outcome = request.query_params.get("outcome") or None
        if outcome is not None and outcome not in ItemOutcome.values:
            raise InvalidInput(
                f"outcome must be one of {', '.join(ItemOutcome.values)}",
                fields={"outcome": ["invalid choice"]},
            )
        items = request_items(
            request=erasure_request,
            outcome=outcome,
            namespace=request.query_params.get("namespace") or None,
        )
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(items, request, view=self)
        return paginator.get_paginated_response(self.OutputSerializer(page, many=True).data)


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
