"""One error shape for every 4xx/5xx of the API, whatever raised it."""

from __future__ import annotations

import logging

import pytest
from rest_framework.test import APIRequestFactory

from erasure.api.errors import exception_handler
from tests.api.helpers import error_of, written

pytestmark = pytest.mark.django_db


@pytest.fixture
def reader(api_key_factory):
    return api_key_factory("reader", "requests:write")


def test_an_unknown_path_under_the_api_is_a_json_404(reader):
    for path in ("/api/v1/nope", "/api/v1/requests/x/y/z", "/api/v1/"):
        assert error_of(reader.get(path), 404)["code"] == "not_found"


def test_schema_and_docs_without_their_slash_still_redirect(client):
    assert client.get("/api/v1/schema").status_code == 301
    assert client.get("/api/v1/docs").status_code == 301


def test_a_method_the_route_does_not_have_is_405(reader):
    response = reader.delete("/api/v1/requests")
    assert error_of(response, 405)["code"] == "method_not_allowed"


@pytest.mark.parametrize("encoding", ["multipart", "form"])
def test_bodies_are_json_only(reader, encoding):
    if encoding == "multipart":
        response = reader.post("/api/v1/requests", {"subject": "u"}, format="multipart")
    else:
        response = reader.post(
            "/api/v1/requests", "subject=u", content_type="application/x-www-form-urlencoded"
        )
    assert error_of(response, 415)["code"] == "unsupported_media_type"
    response = reader.post("/api/v1/requests", b"subject", content_type="text/plain")
    assert error_of(response, 415)["code"] == "unsupported_media_type"


def test_an_unexpected_exception_is_a_500_in_the_same_shape_and_logged(caplog):
    request = APIRequestFactory().get("/api/v1/requests")
    with caplog.at_level(logging.ERROR, logger="erasure.api.errors"):
        response = exception_handler(RuntimeError("secret user-1"), {"request": request})
    assert response is not None
    assert response.status_code == 500
    assert response.data == {
        "error": {
            "code": "internal_error",
            "message": "internal error; it has been logged",
            "fields": {},
        }
    }
    assert "unhandled RuntimeError in GET /api/v1/requests" in caplog.text


def test_nul_characters_in_paths_and_filters_are_4xx_not_500(api_key_factory):
    everything = api_key_factory("all", "requests:write", "requests:approve", "audit:read")
    request_id = everything.post("/api/v1/requests", {"subject": "u"}, format="json").json()["id"]
    response = everything.get(f"/api/v1/requests/{request_id}/items?namespace=%00")
    assert "namespace" in error_of(response, 400)["fields"]
    error_of(everything.get(f"/api/v1/requests/{request_id}%00"), 404)
    error_of(everything.get("/api/v1/requests?subject_hash=%00"), 400)
    response = everything.patch(
        "/api/v1/namespaces/a%00b", {"attribution_mode": "fast"}, format="json"
    )
    error_of(response, 404)


UNKNOWN_PATHS = ("/api/v1/nope", "/api/v1/requests/x/y/z", "/api/v1/")


@pytest.mark.parametrize("method", ["get", "head", "options", "post", "put", "patch", "delete"])
def test_every_method_on_an_unknown_path_is_a_json_404_that_writes_nothing(method):
    """The catch-all is not a DRF view: Django's CSRF check used to answer its unsafe
    methods with the HTML 403 page. Checks enforced, as a real client meets them (the
    test client skips them by default); no session cookie, as an API client sends none."""
    from rest_framework.test import APIClient

    client = APIClient(enforce_csrf_checks=True)
    before = written()
    for path in UNKNOWN_PATHS:
        if method in ("get", "head", "options"):
            response = getattr(client, method)(path)
        else:
            response = getattr(client, method)(
                path, b'{"subject": "u"}', content_type="application/json"
            )
        assert response.status_code == 404, (method, path, response.content[:200])
        assert response["Content-Type"] == "application/json", (method, path)
        if method != "head":  # a HEAD answer has no body
            assert error_of(response, 404)["code"] == "not_found"
    assert written() == before
