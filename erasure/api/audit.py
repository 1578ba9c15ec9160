"""The audit log for auditors: exports (streamed), verification, signed checkpoints and
their keys, inclusion and consistency proofs, evidence bundles."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from erasure import evidence, exports
from erasure.api.base import (
    ERRORS,
    ApiJSONRenderer,
    ApiView,
    ErrorSerializer,
    IgnoreFormatParameter,
    Scope,
    actor_of,
)
from erasure.errors import InvalidInput, NotFound
from erasure.models import AuditCheckpoint, AuditEvent, AuditSigningKey
from erasure.services import audit_log


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


# erasure.services.audit_log.audit_verify's result.
class LogVerificationSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    tree_size = serializers.IntegerField(help_text="Events in the log, recomputed.")
    root_hash = serializers.CharField(
        source="root_hash_b64", help_text="The recomputed root hash (base64)."
    )
    checkpoints_checked = serializers.IntegerField(
        help_text="Signed checkpoints the recomputed tree was held to."
    )
    pending = serializers.IntegerField(help_text="Events committed, not yet sequenced.")
    first_bad_leaf = serializers.IntegerField(
        allow_null=True, help_text="The first leaf that is not as the log promised."
    )
    last_bad_leaf = serializers.IntegerField(
        allow_null=True,
        help_text="With first_bad_leaf: the first bad leaf lies between the two (equal "
        "when the checkpoints narrow it to one).",
    )
    event_id = serializers.IntegerField(allow_null=True, help_text="The bad event, if known.")
    reason = serializers.CharField(help_text="Why it does not verify; empty when ok.")
    notes = serializers.ListField(
        child=serializers.CharField(), help_text="Stored checkpoints that could not be used."
    )


class AuditVerifyApi(ApiView):
    required_scopes = (Scope.AUDIT_READ,)

    @extend_schema(
        responses={200: LogVerificationSerializer, **ERRORS},
        operation_id="audit_verify",
        summary="Verify the audit log against its signed checkpoints",
        description="Recomputes every event's leaf hash from its content, rebuilds the "
        "Merkle tree and compares its root at every stored checkpoint's size with the root "
        "that checkpoint signed. To hold the log to a checkpoint kept outside the database, "
        "use `verify_audit --checkpoint FILE`.",
    )
    def get(self, request: Request) -> Response:
        return Response(LogVerificationSerializer(audit_log.audit_verify()).data)


class PublicAuditView(ApiView):
    """Published for anyone to check against: no key needed, nothing secret."""

    authentication_classes: list[Any] = []
    permission_classes: list[Any] = []


class AuditCheckpointApi(PublicAuditView):
    renderer_classes = [ApiJSONRenderer]

    class QuerySerializer(serializers.Serializer):
        tree_size = serializers.IntegerField(
            required=False, min_value=1, help_text="A past checkpoint, by its tree size."
        )

    @extend_schema(
        parameters=[QuerySerializer],
        responses={
            (200, "text/plain"): OpenApiResponse(
                OpenApiTypes.STR,
                description="A C2SP tlog-checkpoint (origin, tree size, base64 root hash) "
                "in a signed note (Ed25519).",
            ),
            400: ErrorSerializer,
            404: ErrorSerializer,
        },
        auth=[],
        operation_id="audit_checkpoint",
        summary="The latest signed checkpoint of the audit log (or one by size)",
    )
    def get(self, request: Request) -> HttpResponse:
        query = self.QuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        size = query.validated_data.get("tree_size")
        checkpoints = AuditCheckpoint.objects.order_by("-tree_size")
        checkpoint = (checkpoints.filter(tree_size=size) if size else checkpoints).first()
        if checkpoint is None:
            raise NotFound(
                f"no checkpoint of size {size}"
                if size
                else "no checkpoint yet: nothing is in the log, or no signing key is set"
            )
        return HttpResponse(checkpoint.note, content_type="text/plain; charset=utf-8")


class PublicKeySerializer(serializers.Serializer):
    key = serializers.CharField(help_text="Signed-note verifier key: name+id+base64 key.")
    key_id = serializers.CharField(help_text="The key hint in signature lines (8 hex digits).")
    name = serializers.CharField()
    current = serializers.BooleanField(help_text="Signs new checkpoints.")
    first_used_at = serializers.DateTimeField(allow_null=True)


class PublicKeysSerializer(serializers.Serializer):
    origin = serializers.CharField(help_text="The log's name in its checkpoints.")
    keys = PublicKeySerializer(many=True)


class AuditPublicKeysApi(PublicAuditView):
    @extend_schema(
        responses={200: PublicKeysSerializer},
        auth=[],
        operation_id="audit_public_keys",
        summary="The keys that sign the audit log's checkpoints, current and past",
        description="Keys rotate; every key that ever signed a checkpoint stays listed.",
    )
    def get(self, request: Request) -> Response:
        current = audit_log.signer()
        current_key = current.verifier.encode() if current else None
        keys = [
            {
                "key": row.verifier_key,
                "key_id": row.key_id,
                "name": row.name,
                "current": row.verifier_key == current_key,
                "first_used_at": row.first_used_at,
            }
            for row in AuditSigningKey.objects.all()
        ]
        if current is not None and not any(k["current"] for k in keys):
            verifier = current.verifier
            keys.append(
                {
                    "key": current_key,
                    "key_id": f"{verifier.key_id:08x}",
                    "name": verifier.name,
                    "current": True,
                    "first_used_at": None,
                }
            )
        body = {"origin": audit_log.log_origin(), "keys": keys}
        return Response(PublicKeysSerializer(body).data)


class InclusionProofSerializer(serializers.Serializer):
    event_id = serializers.IntegerField()
    leaf_index = serializers.IntegerField()
    tree_size = serializers.IntegerField()
    leaf_hash = serializers.CharField(help_text="base64")
    inclusion_proof = serializers.ListField(
        child=serializers.CharField(), help_text="RFC 9162 audit path, base64, leaf first."
    )
    root_hash = serializers.CharField(help_text="The root of the tree of tree_size (base64).")


def _log_error(exc: audit_log.LogError) -> InvalidInput:
    return InvalidInput(str(exc))


class AuditInclusionProofApi(ApiView):
    required_scopes = (Scope.AUDIT_READ,)

    class QuerySerializer(serializers.Serializer):
        event = serializers.IntegerField(min_value=1, help_text="The audit event's id.")
        tree_size = serializers.IntegerField(
            required=False,
            min_value=1,
            help_text="The tree to prove it in (default: the latest checkpoint's).",
        )

    @extend_schema(
        parameters=[QuerySerializer],
        responses={200: InclusionProofSerializer, **ERRORS},
        operation_id="audit_inclusion_proof",
        summary="Prove that an event is in the audit log (RFC 9162 inclusion proof)",
    )
    def get(self, request: Request) -> Response:
        query = self.QuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        try:
            proof = audit_log.inclusion_proof(
                event_id=query.validated_data["event"], size=query.validated_data.get("tree_size")
            )
            root = audit_log.root_at(proof.tree_size)
        except audit_log.LogError as exc:
            raise _log_error(exc) from exc
        body = {
            "event_id": proof.event_id,
            "leaf_index": proof.leaf_index,
            "tree_size": proof.tree_size,
            "leaf_hash": audit_log.b64(proof.leaf_hash),
            "inclusion_proof": [audit_log.b64(node) for node in proof.path],
            "root_hash": audit_log.b64(root),
        }
        return Response(InclusionProofSerializer(body).data)


class ConsistencyProofSerializer(serializers.Serializer):
    first = serializers.IntegerField()
    second = serializers.IntegerField()
    consistency_proof = serializers.ListField(
        child=serializers.CharField(), help_text="RFC 9162 consistency proof, base64."
    )
    first_root = serializers.CharField(help_text="base64")
    second_root = serializers.CharField(help_text="base64")


class AuditConsistencyProofApi(ApiView):
    required_scopes = (Scope.AUDIT_READ,)

    class QuerySerializer(serializers.Serializer):
        first = serializers.IntegerField(min_value=1, help_text="The older tree size.")
        second = serializers.IntegerField(min_value=1, help_text="The newer tree size.")

        def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
            if attrs["first"] > attrs["second"]:
                raise serializers.ValidationError({"second": ["must be at least first"]})
            return attrs

    @extend_schema(
        parameters=[QuerySerializer],
        responses={200: ConsistencyProofSerializer, **ERRORS},
        operation_id="audit_consistency_proof",
        summary="Prove that the log of `second` events extends that of `first` (RFC 9162)",
    )
    def get(self, request: Request) -> Response:
        query = self.QuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        first, second = query.validated_data["first"], query.validated_data["second"]
        try:
            proof = audit_log.consistency_proof(first=first, second=second)
            roots = audit_log.root_at(first), audit_log.root_at(second)
        except audit_log.LogError as exc:
            raise _log_error(exc) from exc
        body = {
            "first": first,
            "second": second,
            "consistency_proof": [audit_log.b64(node) for node in proof],
            "first_root": audit_log.b64(roots[0]),
            "second_root": audit_log.b64(roots[1]),
        }
        return Response(ConsistencyProofSerializer(body).data)


class AuditEvidenceApi(ApiView):
    required_scopes = (Scope.AUDIT_READ,)

    class QuerySerializer(serializers.Serializer):
        request = serializers.UUIDField(required=False, help_text="This request's events.")
        event = serializers.IntegerField(required=False, min_value=1, help_text="One event.")
        since = serializers.DateTimeField(required=False, help_text="Occurred at or after.")
        until = serializers.DateTimeField(required=False, help_text="Occurred before.")

        def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
            if not attrs:
                raise serializers.ValidationError(
                    "choose the events: request, event, or since/until"
                )
            since, until = attrs.get("since"), attrs.get("until")
            if since is not None and until is not None and until <= since:
                raise serializers.ValidationError({"until": ["must be later than since"]})
            return attrs

    @extend_schema(
        parameters=[QuerySerializer],
        responses={200: OpenApiTypes.OBJECT, **ERRORS, 503: ErrorSerializer},
        operation_id="audit_evidence",
        summary="An evidence bundle of any set of audit events (verifiable offline)",
        description=evidence.__doc__,
    )
    def get(self, request: Request) -> Response:
        query = self.QuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        events = AuditEvent.objects.all()
        if "request" in data:
            events = events.filter(request_id=data["request"])
        if "event" in data:
            events = events.filter(pk=data["event"])
        if "since" in data:
            events = events.filter(occurred_at__gte=data["since"])
        if "until" in data:
            events = events.filter(occurred_at__lt=data["until"])
        return Response(evidence.evidence_bundle(events))
