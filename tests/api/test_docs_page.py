"""The docs page in a real headless Chromium: Swagger UI renders every operation of the
schema from our own static files, with nothing fetched from another host."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def page(browser) -> object:
    return browser.new_page()


def test_docs_page_renders_every_operation_offline(page, live_server, client):
    import yaml

    schema = yaml.safe_load(client.get("/api/v1/schema/").content)
    operations = sum(len(methods) for methods in schema["paths"].values())
    own_host = urlsplit(live_server.url).netloc
    elsewhere: list[str] = []
    errors: list[str] = []

    def route(route_handler: Any) -> None:
        url = route_handler.request.url
        if urlsplit(url).netloc != own_host:
            elsewhere.append(url)
            route_handler.abort()
        else:
            route_handler.continue_()

    page.route("**/*", route)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{live_server.url}/api/v1/docs/")
    page.wait_for_selector(".opblock", timeout=20_000)
    assert page.locator(".opblock").count() == operations
    assert page.locator(".opblock-summary-path", has_text="/api/v1/audit/export").count() == 1
    assert elsewhere == []
    assert errors == []
