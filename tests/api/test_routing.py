"""One path, one view per method (erasure.api.routing): GET and POST /requests."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.urls import resolve, reverse
from rest_framework.test import APIClient

from erasure.api.requests import RequestCreateApi, RequestDetailApi, RequestListApi
from erasure.api.routing import MethodDispatch, path_methods, route_by_method
from erasure.models import ErasureRequest
from tests.api.helpers import error_of, written
from tests.conftest import make_api_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def filer(api_key_factory):
    return api_key_factory("filer", "requests:write")


def test_each_method_of_the_path_reaches_its_own_view(filer):
    created = filer.post("/api/v1/requests", {"subject": "user-1"}, format="json")
    assert created.status_code == 201
    listed = filer.get("/api/v1/requests")
    assert listed.status_code == 200
    assert [r["id"] for r in listed.json()["results"]] == [created.json()["id"]]
    assert filer.head("/api/v1/requests").status_code == 200


def test_every_answer_of_the_path_allows_all_its_methods(filer):
    assert filer.get("/api/v1/requests")["Allow"] == "GET, POST, HEAD, OPTIONS"
    created = filer.post("/api/v1/requests", {"subject": "user-1"}, format="json")
    assert created["Allow"] == "GET, POST, HEAD, OPTIONS"
    before = written()
    for method in ("put", "patch", "delete"):
        response = getattr(filer, method)("/api/v1/requests", {}, format="json")
        assert error_of(response, 405)["code"] == "method_not_allowed"
        assert response["Allow"] == "GET, POST, HEAD, OPTIONS"
    assert written() == before


def test_each_view_keeps_its_own_scopes(api_key_factory):
    reader = api_key_factory("reader", "audit:read")
    assert reader.get("/api/v1/requests").status_code == 200
    refused = reader.post("/api/v1/requests", {"subject": "user-1"}, format="json")
    assert "requests:write" in error_of(refused, 403)["message"]
    assert ErasureRequest.objects.count() == 0
    anonymous = APIClient()
    assert error_of(anonymous.delete("/api/v1/requests"), 401)["code"] == "not_authenticated"


def test_the_path_is_csrf_exempt_like_any_view_of_the_api():
    """The CSRF check looks at the resolved callback, which is the dispatcher, not a DRF
    view: it must be exempt as DRF's views are (the API authenticates by key only)."""
    client = make_api_client("filer", "requests:write")
    client.handler.enforce_csrf_checks = True
    response = client.post("/api/v1/requests", {"subject": "user-1"}, format="json")
    assert response.status_code == 201, response.content


def test_the_name_and_the_resolved_route_are_the_path():
    assert reverse("api-requests") == "/api/v1/requests"
    match = resolve("/api/v1/requests")
    assert isinstance(match.func, MethodDispatch)
    assert (match.url_name, match.route) == ("api-requests", "api/v1/requests")


def test_a_view_must_have_the_method_it_is_routed_for():
    with pytest.raises(ImproperlyConfigured, match=r"RequestCreateApi has no get\(\) for requests"):
        route_by_method("requests", name="x", GET=RequestCreateApi, POST=RequestListApi)


def test_path_methods_are_those_of_allow_on_a_view_that_has_them_all():
    assert path_methods([RequestListApi, RequestCreateApi]) == ("GET", "POST", "HEAD", "OPTIONS")
    assert path_methods([RequestDetailApi]) == ("GET", "HEAD", "OPTIONS")
