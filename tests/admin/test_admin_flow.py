"""The roles' paths in a real headless Chromium: an officer files a request and cannot
approve it (no control, and a forged POST is refused), an approver approves it, the page
shows it complete with every item's outcome and the certificate downloads; an auditor can
export but change nothing. Screenshots of the key pages go to artifacts/screenshots/
(git-ignored; CI keeps them)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection
from playwright.sync_api import expect

from tests.conftest import ROOT, run_worker_once

SCREENSHOTS = ROOT / "artifacts" / "screenshots"
pytestmark = pytest.mark.django_db(transaction=True)


def _login(page, live_server, username: str) -> None:
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "demo-password")
    page.click("input[type=submit]")
    page.wait_for_url(re.compile(r"/admin/$"))


def _forged_post(page, url: str) -> int:
    """POST from the signed-in page with a valid CSRF token, as a hand-made form would."""
    return page.evaluate(
        """async (url) => {
            const token = document.cookie.match(/csrftoken=([^;]+)/)[1];
            const response = await fetch(url, {method: "POST", headers: {"X-CSRFToken": token}});
            return response.status;
        }""",
        url,
    )


def _shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def test_officer_files_approver_approves_auditor_exports(
    browser, live_server, emulator, role_groups
):
    call_command("seed_demo")
    assert {f"user_alice-doc-{n}" for n in range(1, 6)} <= emulator.ids("demo-docs")

    page = browser.new_page()
    _login(page, live_server, "officer")
    page.goto(f"{live_server.url}/admin/erasure/erasurerequest/add/")
    page.fill("#id_subject_key", "user_alice")
    page.select_option("#id_regulation", "gdpr")
    page.fill("#id_reason", "Customer asked to be forgotten by e-mail")
    page.click("#preview-filing")
    page.wait_for_selector("#preview-summary")
    assert "10 item(s) in 2 namespace(s)" in page.inner_text("#preview-summary")
    assert page.inner_text("#preview-due").endswith("UTC")
    _shot(page, "1-officer-files")
    page.click("input[name=_save]")
    page.wait_for_url(re.compile(r"/admin/erasure/erasurerequest/[0-9a-f-]+/change/$"))
    change_url = page.url
    request_id = change_url.rstrip("/").split("/")[-2]
    assert "Awaiting approval" in page.inner_text("body")
    assert page.inner_text("td[data-outcome=total]") == "0"

    # The officer cannot approve: no control, and a forged POST is refused.
    assert page.locator("#approve-request").count() == 0
    approve_url = f"{live_server.url}/admin/erasure/erasurerequest/{request_id}/approve/"
    assert _forged_post(page, approve_url) == 403
    page.reload()
    assert "Awaiting approval" in page.inner_text("body")
    _shot(page, "2-officer-cannot-approve")

    second = browser.new_page()
    _login(second, live_server, "approver")
    second.goto(change_url)
    second.click("#approve-request")
    assert "The request was approved." in second.inner_text(".messagelist")
    assert second.inner_text("td[data-outcome=pending]") == "10"

    run_worker_once(connection.settings_dict["NAME"], emulator)

    # The open page follows the request by itself (it polls its progress): no navigation.
    # Locators, not evaluated strings: the page's Content-Security-Policy forbids eval.
    expect(second.locator("td[data-outcome=deleted]")).to_have_text("10", timeout=20_000)
    expect(second.locator("body")).to_contain_text("Completed", timeout=20_000)
    second.wait_for_load_state()
    body = second.inner_text("body")
    assert "Completed" in body
    assert second.inner_text("td[data-outcome=deleted]") == "10"
    assert second.inner_text("td[data-outcome=failed]") == "0"
    outcomes = second.locator("tr.item-row td.item-outcome").all_inner_texts()
    assert outcomes == ["deleted"] * 10
    assert second.locator("#namespace-counts tr[data-namespace]").count() == 2
    events = second.locator("#request-events td.event-type").all_inner_texts()
    assert events[:3] == ["request.filed", "request.approved", "request.started"]
    assert events[-1] == "request.completed"
    # Each namespace (text: adaptive, vectors: fast): one delete whose counts settle every
    # item.
    assert second.locator("#request-dispatches tbody tr").count() == 2
    _shot(second, "3-approver-sees-it-completed")
    with second.expect_download() as download:
        second.click("#download-certificate")
    certificate = download.value
    assert certificate.suggested_filename == f"erasure-certificate-{request_id}.pdf"
    assert Path(certificate.path()).read_bytes()[:5] == b"%PDF-"
    second.goto(f"{change_url.replace('/change/', '/certificate/')}?format=html")
    assert "Certificate of erasure" in second.inner_text("h1")
    _shot(second, "4-certificate")

    assert not {i for i in emulator.ids("demo-docs") if i.startswith("user_alice")}
    assert not {i for i in emulator.ids("demo-vectors") if i.startswith("user_alice")}
    assert {f"user_bob-doc-{n}" for n in range(1, 6)} <= emulator.ids("demo-docs")

    # The auditor reads and exports, and changes nothing.
    third = browser.new_page()
    _login(third, live_server, "auditor")
    third.goto(change_url)
    for control in ("#approve-request", "#cancel-request", "#retry-request"):
        assert third.locator(control).count() == 0
    with third.expect_download() as download:
        third.click("#export-items")
    exported = Path(download.value.path()).read_text(encoding="utf-8").splitlines()
    assert exported[0].startswith("request_id,namespace,namespace_kind,item_id,outcome")
    assert len(exported) == 11 and all(",deleted," in line for line in exported[1:])
    with third.expect_download() as download:
        third.click("#export-evidence")
    bundle = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
    assert bundle["format"] == "erasure-evidence/1" and bundle["certificate"]["totals"]
    cancel_url = approve_url.replace("/approve/", "/cancel/")
    assert _forged_post(third, cancel_url) == 403
    assert _forged_post(third, approve_url) == 403
    third.goto(f"{live_server.url}/admin/erasure/erasurerequest/add/")
    assert "403" in third.title() or "Forbidden" in third.inner_text("body")
    third.goto(f"{live_server.url}/admin/erasure/auditevent/")
    assert "Waiting for the sequencer" in third.inner_text("#log-state")
    _shot(third, "5-auditor-sees-the-log")
    third.goto(f"{live_server.url}/admin/erasure/auditevent/verify/")
    assert "The log is intact" in third.inner_text("#chain-result")
    _shot(third, "5-auditor-verifies-the-log")
    third.goto(f"{live_server.url}/admin/erasure/auditevent/export/")
    _shot(third, "6-auditor-export-form")
    third.goto(f"{live_server.url}/admin/")
    third.click("#dashboard-link")
    third.wait_for_selector("#weekly-chart svg")
    assert "100%" in third.inner_text("#on-time-rate")
    _shot(third, "7-dashboard")
