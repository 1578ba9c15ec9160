"""The compliance officer's path in a real headless Chromium: file a request in the admin,
be refused approving it oneself, approve it as a second officer, watch it complete."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator

import pytest
from django.core.management import call_command
from django.db import connection, connections

from tests.conftest import run_worker_once

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the live server's database
    # work happens in its own thread, and ours here is plain setup between page steps.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()
        # With Playwright's loop running, Django keys connections to that context: close
        # the ones opened here, or they outlive the test and block dropping the test DB.
        connections.close_all()
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


def _login(page, live_server, username: str) -> None:
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "demo-password")
    page.click("input[type=submit]")
    page.wait_for_url(re.compile(r"/admin/$"))


def test_officer_files_another_approves_and_the_request_completes(
    browser, live_server, emulator, tmp_path
):
    call_command("seed_demo")
    assert {f"user_alice-doc-{n}" for n in range(1, 6)} <= emulator.ids("demo-docs")

    page = browser.new_page()
    _login(page, live_server, "officer")
    page.goto(f"{live_server.url}/admin/erasure/erasurerequest/add/")
    page.fill("#id_subject_key", "user_alice")
    page.select_option("#id_regulation", "gdpr")
    page.fill("#id_reason", "Customer asked to be forgotten by e-mail")
    page.click("input[name=_save]")
    page.wait_for_url(re.compile(r"/admin/erasure/erasurerequest/[0-9a-f-]+/change/$"))
    change_url = page.url
    assert "Awaiting approval" in page.inner_text("body")
    assert page.inner_text("td[data-outcome=total]") == "0"

    # Four-eyes: the officer who filed it is refused, with a clear message.
    page.click("#approve-request")
    assert "someone other than who filed it" in page.inner_text(".messagelist")
    assert "Awaiting approval" in page.inner_text("body")
    page.screenshot(path=str(tmp_path / "refused.png"))

    second = browser.new_page()
    _login(second, live_server, "approver")
    second.goto(change_url)
    second.click("#approve-request")
    assert "The request was approved." in second.inner_text(".messagelist")
    assert second.inner_text("td[data-outcome=pending]") == "10"

    run_worker_once(connection.settings_dict["NAME"], emulator)

    second.goto(change_url)
    body = second.inner_text("body")
    assert "Completed" in body
    assert second.inner_text("td[data-outcome=deleted]") == "10"
    assert second.inner_text("td[data-outcome=failed]") == "0"
    outcomes = second.locator("tr.item-row td.item-outcome").all_inner_texts()
    assert outcomes == ["deleted"] * 10
    second.screenshot(path=str(tmp_path / "completed.png"), full_page=True)

    assert not {i for i in emulator.ids("demo-docs") if i.startswith("user_alice")}
    assert not {i for i in emulator.ids("demo-vectors") if i.startswith("user_alice")}
    assert {f"user_bob-doc-{n}" for n in range(1, 6)} <= emulator.ids("demo-docs")
