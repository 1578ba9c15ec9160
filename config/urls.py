from django.contrib import admin
from django.urls import include, path

from erasure import health, metrics
from erasure.admin.dashboard import dashboard_urls

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics, name="metrics"),
    # The team's dashboard first: the admin's own catch-all would otherwise take it.
    path("admin/", (dashboard_urls(admin.site) + admin.site.get_urls(), "admin", admin.site.name)),
    path("api/v1/", include("erasure.api.urls")),
    path("webhooks/", include("webhooks.urls")),
]
