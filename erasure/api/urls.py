from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from erasure.api import views
from erasure.api.errors import not_found

urlpatterns = [
    path("mappings", views.MappingsRegisterApi.as_view(), name="api-mappings"),
    path("mappings/remove", views.MappingsRemoveApi.as_view(), name="api-mappings-remove"),
    path("aliases", views.AliasesRegisterApi.as_view(), name="api-aliases"),
    path("requests", views.RequestsApi.as_view(), name="api-requests"),
    path("requests/<str:request_id>", views.RequestDetailApi.as_view(), name="api-request"),
    path(
        "requests/<str:request_id>/approve",
        views.RequestApproveApi.as_view(),
        name="api-request-approve",
    ),
    path(
        "requests/<str:request_id>/cancel",
        views.RequestCancelApi.as_view(),
        name="api-request-cancel",
    ),
    path(
        "requests/<str:request_id>/retry",
        views.RequestRetryApi.as_view(),
        name="api-request-retry",
    ),
    path(
        "requests/<str:request_id>/items", views.RequestItemsApi.as_view(), name="api-request-items"
    ),
    path("requests/<str:request_id>/hold", views.RequestHoldApi.as_view(), name="api-request-hold"),
    path(
        "requests/<str:request_id>/release",
        views.RequestReleaseApi.as_view(),
        name="api-request-release",
    ),
    path(
        "requests/<str:request_id>/deadline",
        views.RequestExtendApi.as_view(),
        name="api-request-deadline",
    ),
    path(
        "requests/<str:request_id>/deadline/pause",
        views.RequestPauseDeadlineApi.as_view(),
        name="api-request-deadline-pause",
    ),
    path(
        "requests/<str:request_id>/deadline/resume",
        views.RequestResumeDeadlineApi.as_view(),
        name="api-request-deadline-resume",
    ),
    path(
        "requests/<str:request_id>/certificate",
        views.RequestCertificateApi.as_view(),
        name="api-request-certificate",
    ),
    path("audit/verify", views.AuditVerifyApi.as_view(), name="api-audit-verify"),
    path("namespaces", views.NamespacesApi.as_view(), name="api-namespaces"),
    path("namespaces/<str:name>", views.NamespaceDetailApi.as_view(), name="api-namespace"),
    path("audit/export", views.AuditExportApi.as_view(), name="api-audit-export"),
    path(
        "schema/",
        SpectacularAPIView.as_view(permission_classes=[], authentication_classes=[]),
        name="api-schema",
    ),
    path(
        "docs/",
        SpectacularSwaggerView.as_view(
            url_name="api-schema", permission_classes=[], authentication_classes=[]
        ),
        name="api-docs",
    ),
    # Last: every other path under /api/v1/ (but the schema and docs without their slash,
    # which CommonMiddleware redirects) is a 404 in the API's error shape.
    re_path(r"^(?!schema$|docs$).*$", not_found, name="api-not-found"),
]
