from typing import Any

from django.conf import settings
from django.urls import path, re_path
from django.utils.csp import CSP
from django.views.decorators.csp import csp_override
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from erasure.api import audit, mappings, namespaces, replays, request_actions, requests
from erasure.api.errors import not_found
from erasure.api.routing import route_by_method

# The API docs page's policy: the service's, with inline styles (Swagger UI adds its own).
DOCS_CSP: dict[str, Any] = {**settings.SECURE_CSP, "style-src": [CSP.SELF, CSP.UNSAFE_INLINE]}

urlpatterns = [
    path("mappings", mappings.MappingsRegisterApi.as_view(), name="api-mappings"),
    path("mappings/remove", mappings.MappingsRemoveApi.as_view(), name="api-mappings-remove"),
    path("aliases", mappings.AliasesRegisterApi.as_view(), name="api-aliases"),
    route_by_method(
        "requests",
        name="api-requests",
        GET=requests.RequestListApi,
        POST=requests.RequestCreateApi,
    ),
    path("requests/<str:request_id>", requests.RequestDetailApi.as_view(), name="api-request"),
    path(
        "requests/<str:request_id>/approve",
        request_actions.RequestApproveApi.as_view(),
        name="api-request-approve",
    ),
    path(
        "requests/<str:request_id>/cancel",
        request_actions.RequestCancelApi.as_view(),
        name="api-request-cancel",
    ),
    path(
        "requests/<str:request_id>/retry",
        request_actions.RequestRetryApi.as_view(),
        name="api-request-retry",
    ),
    path(
        "requests/<str:request_id>/items",
        requests.RequestItemsApi.as_view(),
        name="api-request-items",
    ),
    path(
        "requests/<str:request_id>/hold",
        request_actions.RequestHoldApi.as_view(),
        name="api-request-hold",
    ),
    path(
        "requests/<str:request_id>/release",
        request_actions.RequestReleaseApi.as_view(),
        name="api-request-release",
    ),
    path(
        "requests/<str:request_id>/deadline",
        request_actions.RequestExtendDeadlineApi.as_view(),
        name="api-request-deadline",
    ),
    path(
        "requests/<str:request_id>/deadline/pause",
        request_actions.RequestPauseDeadlineApi.as_view(),
        name="api-request-deadline-pause",
    ),
    path(
        "requests/<str:request_id>/deadline/resume",
        request_actions.RequestResumeDeadlineApi.as_view(),
        name="api-request-deadline-resume",
    ),
    path(
        "requests/<str:request_id>/certificate",
        requests.RequestCertificateApi.as_view(),
        name="api-request-certificate",
    ),
    path(
        "requests/<str:request_id>/evidence",
        requests.RequestEvidenceApi.as_view(),
        name="api-request-evidence",
    ),
    path("audit/verify", audit.AuditVerifyApi.as_view(), name="api-audit-verify"),
    path("audit/checkpoint", audit.AuditCheckpointApi.as_view(), name="api-audit-checkpoint"),
    path("audit/public-keys", audit.AuditPublicKeysApi.as_view(), name="api-audit-public-keys"),
    path(
        "audit/proof/inclusion",
        audit.AuditInclusionProofApi.as_view(),
        name="api-audit-proof-inclusion",
    ),
    path(
        "audit/proof/consistency",
        audit.AuditConsistencyProofApi.as_view(),
        name="api-audit-proof-consistency",
    ),
    path("audit/evidence", audit.AuditEvidenceApi.as_view(), name="api-audit-evidence"),
    path("namespaces", namespaces.NamespaceListApi.as_view(), name="api-namespaces"),
    path("namespaces/<str:name>", namespaces.NamespaceSetModeApi.as_view(), name="api-namespace"),
    path(
        "namespaces/<str:name>/coverage",
        namespaces.NamespaceCoverageApi.as_view(),
        name="api-namespace-coverage",
    ),
    path(
        "namespaces/<str:name>/findings",
        namespaces.NamespaceFindingsApi.as_view(),
        name="api-namespace-findings",
    ),
    path(
        "namespaces/<str:name>/scans",
        namespaces.NamespaceScanStartApi.as_view(),
        name="api-namespace-scans",
    ),
    path("replays", replays.ReplayCreateApi.as_view(), name="api-replays"),
    path("replays/<int:replay_id>", replays.ReplayDetailApi.as_view(), name="api-replay"),
    path("audit/export", audit.AuditExportApi.as_view(), name="api-audit-export"),
    path(
        "schema/",
        SpectacularAPIView.as_view(permission_classes=[], authentication_classes=[]),
        name="api-schema",
    ),
    path(
        "docs/",
        # The split view serves its start-up script as a file, not inline. Swagger UI adds
        # a <style> element of its own: this page alone (public, no data) allows inline
        # styles.
        csp_override(DOCS_CSP)(
            SpectacularSwaggerSplitView.as_view(
                url_name="api-schema", permission_classes=[], authentication_classes=[]
            )
        ),
        name="api-docs",
    ),
    # Last: every other path under /api/v1/ (but the schema and docs without their slash,
    # which CommonMiddleware redirects) is a 404 in the API's error shape.
    re_path(r"^(?!schema$|docs$).*$", not_found, name="api-not-found"),
]
