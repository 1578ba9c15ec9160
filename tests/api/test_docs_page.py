"""The docs page in a real headless Chromium: Swagger UI renders every operation of the
schema from our own static files, with nothing fetched from another host."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.db import connections

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def page() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    # As in tests/admin: Playwright's sync API runs an event loop in this thread.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"],
        )
        yield browser.new_page()
        browser.close()
        connections.close_all()
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


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
