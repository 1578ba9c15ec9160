"""The namespaces the service knows, and how outcomes are attributed in each."""

from __future__ import annotations

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from erasure import exports
from erasure.api.base import (
    ALL_SCOPES,
    ERRORS,
    LIST_ERRORS,
    POST_ERRORS,
    ApiJSONRenderer,
    ApiView,
    ErrorSerializer,
    IgnoreFormatParameter,
    Pagination,
    Scope,
    actor_of,
)
from erasure.api.idempotency import idempotent
from erasure.errors import InvalidInput, NotFound
from erasure.models import (
    AttributionMode,
    FindingKind,
    Namespace,
    NamespaceKind,
    NamespaceScan,
    ScanState,
)
from erasure.selectors.namespaces import namespace_get, namespaces_list
from erasure.services.namespaces import UPDATABLE_FIELDS, namespace_update
from erasure.services.scans import coverage, findings_lines, scan_request

ATTRIBUTION_MODES_DESCRIPTION = """How the outcome of each item ID is attributed when the
namespace's items are erased:

- `adaptive` (default for text namespaces): delete first, 1,000 IDs per call. An answer that
  deleted every ID sent makes them all `deleted`; one that deleted none (a 200) all
  `not_found`. A mixed answer leaves its IDs `deleted_or_not_found`, and after 2 of them the
  run pre-checks the namespace as `exact` does. One call per 1,000 IDs while the data is
  not mixed.
- `exact` (the strict option for text namespaces): check which IDs exist (`documents/get`),
  delete those, and check again after any ambiguous answer; every item ends `deleted`,
  `not_found` or `failed`. About 11 calls per 1,000 IDs.
- `fast` (default for vector namespaces): delete 1,000 IDs per call and attribute by the
  counts the API returns: all `deleted` when every ID was deleted, all `not_found` when none
  was, else `deleted_or_not_found` (vector namespaces cannot be read by ID). One call per
  1,000 IDs.
- `single`: one ID per delete call, so that the counts attribute each ID exactly; costs one
  call per ID against the API's quota (for vector namespaces that need exact evidence).

On a vector namespace `adaptive` and `exact` work as `fast` (there is nothing to check
with); the
on-prem API reports missing IDs itself, whatever the mode. A change applies to the batches
sent from then on and is recorded in the audit trail."""


SUBJECT_FIELD_HELP = """The metadata key that names an item's subject (e.g. `user_id`); empty:
none. Scans map every item whose metadata names a known subject, and requests wait for a
scan started after their approval (text namespaces)."""
SUBJECT_FIELD_KIND_HELP = """What the subject field holds: empty for the subject key itself,
else the kind of alias (e.g. `email`); only aliases registered for a subject map an item."""
RECHECK_HELP = """Days after a request completes at which its erased items are checked again;
null: the service's default (ERASURE_RECHECK_DAYS); 0: no re-check."""
SCAN_INTERVAL_HELP = """Hours between periodic scans; null: the service's default
(ERASURE_SCAN_INTERVAL_HOURS); 0: no periodic scans."""


API_HELP = """The namespace API the namespace lives in, by its configured name (a name may
exist in two APIs); default: the default API (NAMESPACE_API_NAME)."""
API_PARAMETER = OpenApiParameter("api", OpenApiTypes.STR, description=API_HELP)


def _namespace(request: Request, name: str) -> Namespace:
    return namespace_get(name=name, api=request.query_params.get("api"))


class NamespaceOutputSerializer(serializers.Serializer):
    api = serializers.CharField(help_text=API_HELP)
    name = serializers.CharField()
    kind = serializers.ChoiceField(choices=NamespaceKind.values)
    attribution_mode = serializers.ChoiceField(
        choices=AttributionMode.values, help_text=ATTRIBUTION_MODES_DESCRIPTION
    )
    subject_field = serializers.CharField(help_text=SUBJECT_FIELD_HELP)
    subject_field_kind = serializers.CharField(help_text=SUBJECT_FIELD_KIND_HELP)
    recheck_after_days = serializers.IntegerField(allow_null=True, help_text=RECHECK_HELP)
    scan_interval_hours = serializers.FloatField(allow_null=True, help_text=SCAN_INTERVAL_HELP)
    created_at = serializers.DateTimeField()


class NamespaceListApi(ApiView):
    required_scopes = ALL_SCOPES
    pagination_class = Pagination

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "api", OpenApiTypes.STR, description="Only the namespaces of this API."
            )
        ],
        responses={200: NamespaceOutputSerializer(many=True), **LIST_ERRORS},
        operation_id="namespaces_list",
        summary="The namespaces known to the service, by name",
        description=ATTRIBUTION_MODES_DESCRIPTION,
    )
    def get(self, request: Request) -> Response:
        paginator = Pagination()
        page = paginator.paginate_queryset(
            namespaces_list(api=request.query_params.get("api")), request, view=self
        )
        return paginator.get_paginated_response(NamespaceOutputSerializer(page, many=True).data)


class NamespaceSetModeApi(ApiView):
    required_scopes = (Scope.REQUESTS_APPROVE,)

    @extend_schema(
        # Spelled out: every field is optional (a partial update), and no other is allowed.
        request={
            "application/json": {
                "type": "object",
                "properties": {
                    "attribution_mode": {
                        "type": "string",
                        "enum": AttributionMode.values,
                        "description": ATTRIBUTION_MODES_DESCRIPTION,
                    },
                    "subject_field": {
                        "type": "string",
                        "maxLength": 200,
                        "description": SUBJECT_FIELD_HELP,
                    },
                    "subject_field_kind": {
                        "type": "string",
                        "maxLength": 40,
                        "description": SUBJECT_FIELD_KIND_HELP,
                    },
                    "recheck_after_days": {
                        "type": "integer",
                        "nullable": True,
                        "minimum": 0,
                        "maximum": 3650,
                        "description": RECHECK_HELP,
                    },
                    "scan_interval_hours": {
                        "type": "number",
                        "nullable": True,
                        "minimum": 0,
                        "maximum": 87600,
                        "description": SCAN_INTERVAL_HELP,
                    },
                },
                "additionalProperties": False,
                "minProperties": 1,
            }
        },
        parameters=[API_PARAMETER],
        responses={200: NamespaceOutputSerializer, 404: ErrorSerializer, **ERRORS},
        operation_id="namespace_set_mode",
        summary="Change a namespace's settings (a partial update)",
        description="Only the fields sent change; each change is an audit event.\n\n"
        + ATTRIBUTION_MODES_DESCRIPTION,
    )
    def patch(self, request: Request, name: str) -> Response:
        if not isinstance(request.data, dict):
            raise InvalidInput("the body must be a JSON object")
        if not request.data:
            raise InvalidInput(
                f"send at least one of: {', '.join(UPDATABLE_FIELDS)}",
                fields={"body": ["empty"]},
            )
        namespace = namespace_update(
            namespace=_namespace(request, name),
            changes=dict(request.data),
            actor=actor_of(request),
        )
        return Response(NamespaceOutputSerializer(namespace).data)


COVERAGE_DESCRIPTION = """How much of what the namespace API holds the registry maps.

Every scan compares the API's item count with the mapped items. A text namespace is also
read in full: an item present with no mapping is `unmapped`; a mapping registered before
the scan started whose item is absent is `stale`; the API's summary chunks are counted
apart. Vector namespaces cannot be listed by the API, so for them (`can_be_listed` false)
the count comparison is all a scan can say."""


class ScanOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    state = serializers.ChoiceField(choices=ScanState.values)
    full = serializers.BooleanField(help_text="Every item read (text namespaces).")
    started_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    pages = serializers.IntegerField()
    items_seen = serializers.IntegerField()
    summaries = serializers.IntegerField(help_text="Summary chunks of the API's own.")
    unmapped = serializers.IntegerField()
    stale = serializers.IntegerField()
    discovered = serializers.IntegerField(help_text="Mappings registered from the subject field.")
    api_item_count = serializers.IntegerField(
        allow_null=True, help_text="The API's item count when the scan completed."
    )
    mapped_count = serializers.IntegerField(help_text="Mapped items when the scan completed.")
    error = serializers.CharField()


class CoverageOutputSerializer(serializers.Serializer):
    api = serializers.CharField(help_text=API_HELP)
    namespace = serializers.CharField()
    kind = serializers.ChoiceField(choices=NamespaceKind.values)
    can_be_listed = serializers.BooleanField()
    last_scan = ScanOutputSerializer(allow_null=True, help_text="The latest completed scan.")
    running_scan = ScanOutputSerializer(allow_null=True)


class NamespaceCoverageApi(ApiView):
    required_scopes = ALL_SCOPES

    @extend_schema(
        parameters=[API_PARAMETER],
        responses={200: CoverageOutputSerializer, 404: ErrorSerializer, **ERRORS},
        operation_id="namespace_coverage",
        summary="A namespace's coverage: its latest scan and the one running",
        description=COVERAGE_DESCRIPTION,
    )
    def get(self, request: Request, name: str) -> Response:
        return Response(
            CoverageOutputSerializer(coverage(namespace=_namespace(request, name))).data
        )


class NamespaceScanStartApi(ApiView):
    required_scopes = (Scope.REQUESTS_APPROVE,)

    @extend_schema(
        request=None,
        parameters=[API_PARAMETER],
        responses={202: ScanOutputSerializer, 404: ErrorSerializer, **POST_ERRORS},
        operation_id="namespace_scan_start",
        summary="Start a scan of a namespace (or get the one running)",
        description=COVERAGE_DESCRIPTION
        + "\n\nA worker carries the scan out; `GET .../coverage` shows its progress.",
    )
    @idempotent
    def post(self, request: Request, name: str) -> Response:
        scan, _ = scan_request(namespace=_namespace(request, name))
        return Response(ScanOutputSerializer(scan).data, status=202)


class NamespaceFindingsApi(ApiView):
    required_scopes = (Scope.AUDIT_READ,)
    renderer_classes = [ApiJSONRenderer]
    content_negotiation_class = IgnoreFormatParameter

    class QuerySerializer(serializers.Serializer):
        kind = serializers.ChoiceField(
            choices=FindingKind.values,
            default=FindingKind.UNMAPPED,
            help_text="`unmapped` (present, no mapping) or `stale` (mapped, absent).",
        )
        format = serializers.ChoiceField(
            choices=list(exports.FORMATS), default="csv", help_text="`csv` or `jsonl`."
        )
        scan = serializers.IntegerField(
            required=False, min_value=1, help_text="A scan's id (default: the latest completed)."
        )
        api = serializers.CharField(required=False, help_text=API_HELP)

    @extend_schema(
        parameters=[QuerySerializer],
        responses={
            (200, exports.FORMATS["csv"]): OpenApiResponse(
                OpenApiTypes.STR, description="CSV: namespace, scan, kind, item_id."
            ),
            (200, exports.FORMATS["jsonl"]): OpenApiResponse(
                OpenApiTypes.STR, description="One JSON object per line."
            ),
            404: ErrorSerializer,
            **ERRORS,
        },
        operation_id="namespace_findings",
        summary="The unmapped items or stale mappings a scan found (streamed)",
        description=COVERAGE_DESCRIPTION,
    )
    def get(self, request: Request, name: str) -> StreamingHttpResponse:
        query = self.QuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        namespace = _namespace(request, name)
        scans = NamespaceScan.objects.filter(namespace=namespace, state=ScanState.COMPLETED)
        wanted = query.validated_data.get("scan")
        scan = scans.filter(pk=wanted).first() if wanted else scans.order_by("-finished_at").first()
        if scan is None:
            raise NotFound(
                f"no completed scan {wanted} of {name!r}"
                if wanted
                else f"{name!r} has no completed scan yet"
            )
        export_format = query.validated_data["format"]
        kind = query.validated_data["kind"]
        response = StreamingHttpResponse(
            findings_lines(scan=scan, kind=kind, export_format=export_format),
            content_type=exports.CONTENT_TYPES[export_format],
        )
        response["Content-Disposition"] = f'attachment; filename="{kind}-{scan.pk}.{export_format}"'
        return response
