"""The audit trail for auditors: exports (streamed) and the hash chain's verification."""

from __future__ import annotations

from typing import Any

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from erasure import exports
from erasure.api.base import (
    ERRORS,
    ApiJSONRenderer,
    ApiView,
    IgnoreFormatParameter,
    Scope,
    actor_of,
)
from erasure.errors import InvalidInput
from erasure.services.audit import audit_verify


class AuditExportApi(ApiView):
    required_scopes = (Scope.AUDIT_READ,)
    renderer_classes = [ApiJSONRenderer]
    content_negotiation_class = IgnoreFormatParameter

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
        request_id = query.validated_data.get("request")
        return exports.export_response(
            actor=actor_of(request),
            what=query.validated_data["what"],
            export_format=query.validated_data["format"],
            since=query.validated_data.get("since"),
            until=query.validated_data.get("until"),
            request_id=str(request_id) if request_id else None,
        )


# erasure.services.audit.audit_verify's result.
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
        return Response(ChainVerificationSerializer(result).data)
