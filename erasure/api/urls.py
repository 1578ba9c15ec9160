from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from erasure.api import views

urlpatterns = [
    path("mappings", views.MappingsRegisterApi.as_view(), name="api-mappings"),
    path("requests", views.RequestCreateApi.as_view(), name="api-requests"),
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
]
