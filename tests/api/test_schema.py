"""The OpenAPI schema is valid, documents every route and method of the API (as the URL
resolver sees them), and the docs page is served."""

from __future__ import annotations

import re

import pytest
import yaml
from django.urls import URLPattern, URLResolver, get_resolver
from drf_spectacular.validation import validate_schema

from erasure.api.auth import required_scopes
from erasure.api.errors import not_found

pytestmark = pytest.mark.django_db

PREFIX = "/api/v1/"
# Served next to the API, not part of it.
NOT_OPERATIONS = {"/api/v1/schema/", "/api/v1/docs/"}


def _api_routes() -> dict[str, dict[str, type]]:
    """Every route under /api/v1/ as an OpenAPI path, with the view of each method. A path
    routed by method (erasure.api.routing) has one pattern per view, under one route."""
    routes: dict[str, dict[str, type]] = {}

    def walk(patterns: list, prefix: str) -> None:
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, route)
            elif isinstance(pattern, URLPattern) and route.startswith(PREFIX.lstrip("/")):
                if pattern.callback is not_found:
                    continue  # the catch-all 404 of unknown paths
                path = "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)
                view = pattern.callback.cls  # type: ignore[attr-defined]
                for method in view.http_method_names:
                    if method not in ("options", "head") and hasattr(view, method):
                        assert method not in routes.get(path, {}), (path, method)
                        routes.setdefault(path, {})[method] = view

    walk(get_resolver().url_patterns, "")
    return routes


@pytest.fixture(scope="module")
def schema(django_db_blocker) -> dict:
    from django.test import Client

    with django_db_blocker.unblock():
        response = Client().get("/api/v1/schema/")
    assert response.status_code == 200
    return yaml.safe_load(response.content)


def test_schema_is_valid_openapi_3(schema):
    assert schema["openapi"].startswith("3.")
    validate_schema(schema)  # raises on an invalid document


def test_schema_covers_every_route_and_method_of_the_api(schema):
    routes = {p: r for p, r in _api_routes().items() if p not in NOT_OPERATIONS}
    assert len(routes) >= 12
    assert set(schema["paths"]) == set(routes)
    for path, views in routes.items():
        assert set(schema["paths"][path]) == set(views), path


def test_every_operation_documents_its_scope_errors_and_auth(schema):
    routes = _api_routes()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            view = routes[path][method]
            if not view.authentication_classes:  # published for anyone
                assert operation.get("security", []) == [], (method, path)
                assert "Public: no key needed" in operation["description"], (method, path)
                continue
            scopes = required_scopes(view)
            assert scopes, (method, path)
            for scope in scopes:
                assert f"`{scope}`" in operation["description"], (method, path)
            assert {"400", "401", "403"} <= set(operation["responses"]), (method, path)
            assert operation["security"] == [{"apiKey": []}], (method, path)
            for code, response in operation["responses"].items():
                if code >= "400":
                    ref = response["content"]["application/json"]["schema"]["$ref"]
                    assert ref == "#/components/schemas/Error", (method, path, code)


def test_every_post_takes_an_idempotency_key(schema):
    routes = _api_routes()
    posts = [(p, routes[p]["post"]) for p, ops in schema["paths"].items() if "post" in ops]
    assert len(posts) == 14
    for path, view in posts:
        assert getattr(view.post, "idempotent", False), path
        names = [p["name"] for p in schema["paths"][path]["post"].get("parameters", [])]
        assert "Idempotency-Key" in names, path


def test_the_docs_page_loads_without_a_cdn(client):
    docs = client.get("/api/v1/docs/")
    assert docs.status_code == 200
    # Swagger UI comes from our own static files, not a CDN.
    assert b"cdn." not in docs.content
