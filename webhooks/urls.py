from django.urls import path

from webhooks import views

app_name = "webhooks"
urlpatterns = [
    path("<slug:slug>/", views.receive, name="receive"),
    # Without the slash too: APPEND_SLASH would answer a POST with a redirect, which
    # senders count as a failed delivery.
    path("<slug:slug>", views.receive),
]
