"""The OpenAPI schema renders, names every route of the API, and the docs page is served."""

from __future__ import annotations

import pytest
import yaml

pytestmark = pytest.mark.django_db


def test_schema_lists_every_route_and_the_docs_page_loads(client):
    response = client.get("/api/v1/schema/")
    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    assert schema["openapi"].startswith("3.")
    assert set(schema["paths"]) == {
        "/api/v1/mappings",
        "/api/v1/requests",
        "/api/v1/requests/{request_id}",
        "/api/v1/requests/{request_id}/approve",
        "/api/v1/requests/{request_id}/cancel",
        "/api/v1/requests/{request_id}/retry",
        "/api/v1/requests/{request_id}/items",
    }
    docs = client.get("/api/v1/docs/")
    assert docs.status_code == 200
    # Swagger UI comes from our own static files, not a CDN.
    assert b"cdn." not in docs.content
