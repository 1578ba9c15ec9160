"""State changes of one request: approve, cancel, retry, legal holds, the deadline.

Each is `POST /requests/{id}/<action>`, answers the request as GET does, takes an
`Idempotency-Key`, and calls one service of erasure.services.requests. The body is
validated before the request is looked up (a bad body is a 400 even for an unknown id).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from erasure.api.base import POST_ERRORS, ApiView, ErrorSerializer, Scope, actor_of, validated_body
from erasure.api.idempotency import idempotent
from erasure.api.serializers import RequestOutputSerializer
from erasure.selectors.requests import request_get
from erasure.services.requests import (
    request_approve,
    request_cancel,
    request_extend_deadline,
    request_hold,
    request_pause_deadline,
    request_release,
    request_resume_deadline,
    request_retry,
)

STATE_CHANGE_RESPONSES: dict[int, Any] = {
    200: RequestOutputSerializer,
    404: ErrorSerializer,
    **POST_ERRORS,
}


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(
        max_length=5000, help_text="Required; recorded in the audit trail."
    )


class ExtendSerializer(ReasonSerializer):
    due_at = serializers.DateTimeField(
        help_text="The new deadline (ISO 8601), later than the current one and within the "
        "regulation's limit (GDPR: 3 months from receipt in all; CCPA: 90 days)."
    )


class CommentSerializer(serializers.Serializer):
    # Optional, so empty is as good as absent, and so is no body at all.
    comment = serializers.CharField(
        max_length=5000,
        required=False,
        allow_blank=True,
        default="",
        help_text="Optional; recorded in the audit event with the actor.",
    )


class _RequestActionApi(ApiView):
    """POST /requests/{id}/<action> without a body: one service call on the request."""

    # The docstrings of these two bases are the descriptions of their operations in the
    # schema (drf-spectacular reads inherited docstrings): kept as they were published.


class _ReasonActionApi(ApiView):
    """POST /requests/{id}/<action> {"reason"}: one service call that needs a reason."""

    required_scopes = (Scope.REQUESTS_APPROVE,)


class RequestApproveApi(_RequestActionApi):
    required_scopes = (Scope.REQUESTS_APPROVE,)

    @extend_schema(
        request=CommentSerializer,
        responses=STATE_CHANGE_RESPONSES,
        operation_id="request_approve",
        summary="Approve a request (four-eyes: not by the key that filed it)",
    )
    @idempotent
    def post(self, request: Request, request_id: str) -> Response:
        data = validated_body(CommentSerializer, request)
        approved = request_approve(
            request=request_get(request_id=request_id),
            actor=actor_of(request),
            comment=data["comment"],
        )
        return Response(RequestOutputSerializer(approved).data)


class RequestCancelApi(ApiView):
    required_scopes = (Scope.REQUESTS_WRITE,)

    class InputSerializer(serializers.Serializer):
        # Optional, so empty is as good as absent.
        reason = serializers.CharField(
            max_length=5000, required=False, allow_blank=True, default=""
        )

    @extend_schema(
        request=InputSerializer,
        responses=STATE_CHANGE_RESPONSES,
        operation_id="request_cancel",
        summary="Cancel a request that has not started running",
    )
    @idempotent
    def post(self, request: Request, request_id: str) -> Response:
        data = validated_body(self.InputSerializer, request)
        cancelled = request_cancel(
            request=request_get(request_id=request_id),
            actor=actor_of(request),
            reason=data["reason"],
        )
        return Response(RequestOutputSerializer(cancelled).data)


class RequestRetryApi(_RequestActionApi):
    required_scopes = (Scope.REQUESTS_WRITE,)

    @extend_schema(
        request=CommentSerializer,
        responses=STATE_CHANGE_RESPONSES,
        operation_id="request_retry",
        summary="Send the failed items of a request again (only those)",
    )
    @idempotent
    def post(self, request: Request, request_id: str) -> Response:
        data = validated_body(CommentSerializer, request)
        retried = request_retry(
            request=request_get(request_id=request_id),
            actor=actor_of(request),
            comment=data["comment"],
        )
        return Response(RequestOutputSerializer(retried).data)


class RequestHoldApi(_ReasonActionApi):
    @extend_schema(
        request=ReasonSerializer,
        responses=STATE_CHANGE_RESPONSES,
        operation_id="request_hold",
        summary="Place a legal hold: nothing more is sent until it is released",
    )
    @idempotent
    def post(self, request: Request, request_id: str) -> Response:
        data = validated_body(ReasonSerializer, request)
        held = request_hold(
            request=request_get(request_id=request_id),
            actor=actor_of(request),
            reason=data["reason"],
        )
        return Response(RequestOutputSerializer(held).data)


class RequestReleaseApi(_ReasonActionApi):
    @extend_schema(
        request=ReasonSerializer,
        responses=STATE_CHANGE_RESPONSES,
        operation_id="request_release",
        summary="Release a legal hold: the request goes back to where it was",
    )
    @idempotent
    def post(self, request: Request, request_id: str) -> Response:
        data = validated_body(ReasonSerializer, request)
        released = request_release(
            request=request_get(request_id=request_id),
            actor=actor_of(request),
            reason=data["reason"],
        )
        return Response(RequestOutputSerializer(released).data)


class RequestExtendDeadlineApi(_ReasonActionApi):
    @extend_schema(
        request=ExtendSerializer,
        responses=STATE_CHANGE_RESPONSES,
        operation_id="request_extend_deadline",
        summary="Extend a request's deadline, with a reason",
    )
    @idempotent
    def post(self, request: Request, request_id: str) -> Response:
        data = validated_body(ExtendSerializer, request)
        extended = request_extend_deadline(
            request=request_get(request_id=request_id),
            actor=actor_of(request),
            due_at=data["due_at"],
            reason=data["reason"],
        )
        return Response(RequestOutputSerializer(extended).data)


class RequestPauseDeadlineApi(_ReasonActionApi):
    @extend_schema(
        request=ReasonSerializer,
        responses=STATE_CHANGE_RESPONSES,
        operation_id="request_pause_deadline",
        summary="Stop the deadline's clock (execution goes on), with a reason",
    )
    @idempotent
    def post(self, request: Request, request_id: str) -> Response:
        data = validated_body(ReasonSerializer, request)
        paused = request_pause_deadline(
            request=request_get(request_id=request_id),
            actor=actor_of(request),
            reason=data["reason"],
        )
        return Response(RequestOutputSerializer(paused).data)


class RequestResumeDeadlineApi(_ReasonActionApi):
    @extend_schema(
        request=ReasonSerializer,
        responses=STATE_CHANGE_RESPONSES,
        operation_id="request_resume_deadline",
        summary="Restart the deadline's clock: the deadline moves by the paused time",
    )
    @idempotent
    def post(self, request: Request, request_id: str) -> Response:
        data = validated_body(ReasonSerializer, request)
        resumed = request_resume_deadline(
            request=request_get(request_id=request_id),
            actor=actor_of(request),
            reason=data["reason"],
        )
        return Response(RequestOutputSerializer(resumed).data)
