"""Replays: after a vendor restored a backup, the deletes of every item erased since a time
are sent again, as a run of their own."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from erasure.api.base import (
    ERRORS,
    POST_ERRORS,
    READ_SCOPES,
    ApiView,
    ErrorSerializer,
    Scope,
    actor_of,
    validated_body,
)
from erasure.api.idempotency import idempotent
from erasure.errors import NotFound
from erasure.models import Replay, ReplayState
from erasure.services.replays import replay_create, replay_plan

REPLAY_DESCRIPTION = """After a vendor restored a backup, erased items may be back. A replay
sends again the delete of every item that any request erased since `since` (in the
`namespaces` named, else in all), in each namespace's attribution mode, and reports what
its deletes found: `came_back` (present again, deleted), `absent` (not there), `unknown`
(deleted or not found: vector counts cannot tell) and `failed`. It is a run of its own,
with its own dispatches and audit events; the original requests' outcomes are never
changed. A worker carries it out; `GET /api/v1/replays/{id}` shows it. With `dry_run`,
nothing is sent or written: the answer counts what would be sent, per namespace."""


class ReplayOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    since = serializers.DateTimeField()
    namespaces = serializers.ListField(
        child=serializers.CharField(),
        help_text="Empty: every namespace; one of an API other than the default is API/name.",
    )
    state = serializers.ChoiceField(choices=ReplayState.values)
    created_by = serializers.CharField()
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    items = serializers.IntegerField()
    came_back = serializers.IntegerField()
    absent = serializers.IntegerField()
    unknown = serializers.IntegerField()
    failed = serializers.IntegerField()


class ReplayPlanSerializer(serializers.Serializer):
    dry_run = serializers.BooleanField()
    items = serializers.IntegerField()
    by_namespace = serializers.DictField(child=serializers.IntegerField())


class ReplayCreateApi(ApiView):
    required_scopes = (Scope.REQUESTS_APPROVE,)

    class InputSerializer(serializers.Serializer):
        since = serializers.DateTimeField(
            help_text="ISO 8601 with a time zone: items erased from then on are sent again."
        )
        namespaces = serializers.ListField(
            child=serializers.CharField(max_length=200),
            required=False,
            default=list,
            max_length=1000,
            help_text="Namespace names (default: every namespace).",
        )
        dry_run = serializers.BooleanField(required=False, default=False)

    @extend_schema(
        request=InputSerializer,
        responses={
            202: ReplayOutputSerializer,
            200: ReplayPlanSerializer,
            **POST_ERRORS,
        },
        operation_id="replay_create",
        summary="Replay the deletes of every item erased since a time",
        description=REPLAY_DESCRIPTION,
    )
    @idempotent
    def post(self, request: Request) -> Response:
        data = validated_body(self.InputSerializer, request)
        if data["dry_run"]:
            plan = replay_plan(
                since=data["since"], namespaces=data["namespaces"], api=data.get("api", "")
            )
            return Response(
                {"dry_run": True, "items": sum(plan.values()), "by_namespace": plan}, status=200
            )
        replay = replay_create(
            since=data["since"],
            namespaces=data["namespaces"],
            api=data.get("api", ""),
            actor=actor_of(request),
        )
        return Response(ReplayOutputSerializer(replay).data, status=202)


class ReplayDetailApi(ApiView):
    required_scopes = READ_SCOPES

    @extend_schema(
        responses={200: ReplayOutputSerializer, 404: ErrorSerializer, **ERRORS},
        operation_id="replay_get",
        summary="A replay and its report",
        description=REPLAY_DESCRIPTION,
    )
    def get(self, request: Request, replay_id: int) -> Response:
        replay = Replay.objects.filter(pk=replay_id).first()
        if replay is None:
            raise NotFound(f"no replay {replay_id}")
        return Response(ReplayOutputSerializer(replay).data)
