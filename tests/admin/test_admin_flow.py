"""The three roles' journeys in a real headless Chromium, from the pages alone:

- an officer files a request with the keyboard only (the preview first), reads its case
  file, and cannot approve it (no control, and a forged POST is refused);
- an approver approves it with the keyboard only, on a page that states the consequence,
  with a comment that the timeline then shows; the page follows the erasure to its end;
  the certificate downloads and reads as the organisation's;
- an auditor reads the case file, exports, verifies the log and reads the dashboard, and
  can change nothing.

Every page of the journeys passes axe-core with no serious or critical violation, fits a
1,280 px window, and is captured at 1,280 and 1,920 px in artifacts/screenshots/
(git-ignored; CI keeps them). No link on the case file answers its viewer with an error.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection
from playwright.sync_api import expect

from erasure.models import AuditEvent, ErasureRequest
from tests.browser_support import admin_login, dead_links, page_check, tab_to
from tests.conftest import run_worker_once

pytestmark = pytest.mark.django_db(transaction=True)


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


def _file_with_the_keyboard(page, subject_key: str, reason: str) -> None:
    """Fill the filing form and send it with the Tab, typing and Enter keys only."""
    tab_to(page, "#id_subject_key")
    page.keyboard.type(subject_key)
    tab_to(page, "#id_regulation")
    page.keyboard.press("Home")  # the first choice, GDPR
    tab_to(page, "#id_reason")
    page.keyboard.type(reason)
    tab_to(page, "#preview-filing")
    page.keyboard.press("Enter")
    page.wait_for_selector("#preview-summary")
    tab_to(page, "#file-request")
    page.keyboard.press("Enter")


def test_officer_files_approver_approves_auditor_exports(
    browser, live_server, emulator, role_groups
):
    call_command("seed_demo")
    assert {f"user_alice-doc-{n}" for n in range(1, 6)} <= emulator.ids("demo-docs")
    base = live_server.url

    # The officer.
    page = browser.new_page()
    page_check(page, "officer-0-login", f"{base}/admin/login/")
    admin_login(page, base, "officer")
    page_check(page, "officer-1-index")
    page_check(page, "officer-2-requests", f"{base}/admin/erasure/erasurerequest/")
    page.goto(f"{base}/admin/erasure/erasurerequest/add/")
    page_check(page, "officer-3-filing-form")
    assert page.locator("input[name=_save]").get_attribute("value") == "File erasure request"
    assert page.locator("input[name=_addanother]").count() == 0
    _file_with_the_keyboard(page, "user_alice", "Ticket SUP-1042: asked to be forgotten")
    page.wait_for_url(re.compile(r"/admin/erasure/erasurerequest/[0-9a-f-]+/change/$"))
    change_url = page.url
    request_id = change_url.rstrip("/").split("/")[-2]
    # One message, and a true one.
    assert page.locator(".messagelist li").all_inner_texts() == [
        "The erasure request was filed; it awaits approval by someone else."
    ]
    assert page.inner_text("#case-status") == "Awaiting approval"
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\d \d\d:\d\d UTC \(in \d+ days\)", page.inner_text("#case-deadline")
    )
    # From filing on, the counts show what will be erased.
    assert page.inner_text("#case-progress-text") == "10 items in 2 namespaces will be erased."
    assert page.inner_text("#outcome-counts td[data-outcome=pending]") == "10"
    assert page.inner_text("#outcome-counts td[data-outcome=total]") == "10"
    assert page.inner_text("#case-reason") == "Ticket SUP-1042: asked to be forgotten"
    # "Filed by" is a name, not a link to a user page nobody but an administrator may open.
    assert page.inner_text("#case-filed-by") == "officer"
    assert page.locator("#case-filed-by a").count() == 0
    sentences = page.locator("#request-timeline .event-sentence").all_inner_texts()
    assert sentences == ["Filed by officer"]
    details = page.inner_text("#request-timeline .event-details")
    assert "Approved automatically" in details and "{" not in details
    assert dead_links(page) == []
    page_check(page, "officer-4-case-file-filed")
    # The officer cannot approve: no control, and a forged POST is refused.
    assert page.locator("#approve-request").count() == 0
    approve_url = f"{base}/admin/erasure/erasurerequest/{request_id}/approve/"
    assert _forged_post(page, approve_url) == 403
    # Filing the same subject again files nothing, and says so once.
    page.goto(f"{base}/admin/erasure/erasurerequest/add/")
    page.fill("#id_subject_key", "user_alice")
    page.click("#preview-filing")
    expect(page.locator("#preview-open-request")).to_contain_text("already has an open request")
    page.click("#file-request")
    page.wait_for_url(change_url)
    messages = page.locator(".messagelist li").all_inner_texts()
    assert len(messages) == 1 and messages[0].startswith("No new request was filed")
    assert ErasureRequest.objects.count() == 1
    # The list tells two requests apart: their items and reasons, all within 1,280 px.
    page.goto(f"{base}/admin/erasure/erasurerequest/")
    row = page.locator("#result_list tbody tr").first
    assert row.locator("td.field-items").inner_text() == "10"
    assert row.locator("td.field-short_reason").inner_text().startswith("Ticket SUP-1042")
    page_check(page, "officer-5-requests-listed")

    # The approver, with the keyboard only.
    second = browser.new_page()
    admin_login(second, base, "approver")
    second.goto(change_url)
    # The actions that take a reason say what they do, on an accessible page.
    second.click("#hold-request")
    assert "Nothing more is sent for this request" in second.inner_text("#content")
    page_check(second, "approver-0-hold-form")
    second.goto(change_url)
    tab_to(second, "#approve-request")
    second.keyboard.press("Enter")
    second.wait_for_url(approve_url)
    assert second.inner_text("#confirm-consequence") == (
        "Approve: erase 10 items in 2 namespaces; this cannot be undone."
    )
    page_check(second, "approver-1-confirm-approval")
    tab_to(second, "#id_comment")
    second.keyboard.type("Identity checked against the CRM")
    tab_to(second, "#confirm-submit")
    second.keyboard.press("Enter")
    second.wait_for_url(change_url)
    assert "The request was approved." in second.inner_text(".messagelist")
    approved = second.locator('#request-timeline li[data-event-type="request.approved"]')
    expect(approved).to_contain_text("Approved by approver")
    expect(approved).to_contain_text("Comment")
    expect(approved).to_contain_text("Identity checked against the CRM")
    event = AuditEvent.objects.get(request_id=request_id, event_type="request.approved")
    assert event.details["comment"] == "Identity checked against the CRM"

    run_worker_once(connection.settings_dict["NAME"], emulator)

    # The open page follows the request by itself (it polls its progress): no navigation.
    # Locators, not evaluated strings: the page's Content-Security-Policy forbids eval.
    expect(second.locator("#outcome-counts td[data-outcome=deleted]")).to_have_text(
        "10", timeout=20_000
    )
    expect(second.locator("#case-status")).to_have_text("Completed", timeout=20_000)
    second.wait_for_load_state()
    assert second.inner_text("#outcome-counts td[data-outcome=failed]") == "0"
    assert second.inner_text("#case-progress-percent") == "100%"
    outcomes = second.locator("tr.item-row td.item-outcome").all_inner_texts()
    assert outcomes == ["Deleted"] * 10
    assert second.locator("#namespace-counts tr[data-namespace]").count() == 2
    sentences = second.locator("#request-timeline .event-sentence").all_inner_texts()
    assert sentences[:3] == ["Filed by officer", "Approved by approver", "Erasure started"]
    assert sentences[-1] == "Erasure finished"
    # Each namespace (text: adaptive, vectors: fast): one delete whose counts settle every
    # item; the timeline counts them instead of listing them.
    assert second.locator("#request-dispatches tbody tr").count() == 2
    assert second.inner_text("#timeline-calls").startswith("2 calls to the namespace API")
    # The items filter.
    second.select_option("#items-namespace", "demo-docs")
    second.click("#items-filter-submit")
    expect(second.locator("tr.item-row")).to_have_count(5)
    second.select_option("#items-outcome", "failed")
    second.click("#items-filter-submit")
    expect(second.locator("#request-items tbody")).to_have_text("No item matches this filter.")
    second.goto(change_url)
    page_check(second, "approver-2-case-file-completed")
    with second.expect_download() as download:
        second.click("#download-certificate")
    certificate = download.value
    assert certificate.suggested_filename == f"erasure-certificate-{request_id}.pdf"
    assert Path(certificate.path()).read_bytes()[:5] == b"%PDF-"
    second.goto(f"{change_url.replace('/change/', '/certificate/')}?format=html")
    assert "Certificate of erasure" in second.inner_text("h1")
    page_check(second, "approver-3-certificate")
    second.click("#certificate-request-link")
    second.wait_for_url(change_url)
    downloads = AuditEvent.objects.filter(
        request_id=request_id, event_type="certificate.downloaded"
    )
    assert downloads.count() == 2

    assert not {i for i in emulator.ids("demo-docs") if i.startswith("user_alice")}
    assert not {i for i in emulator.ids("demo-vectors") if i.startswith("user_alice")}
    assert {f"user_bob-doc-{n}" for n in range(1, 6)} <= emulator.ids("demo-docs")

    # The auditor reads and exports, and changes nothing.
    third = browser.new_page()
    admin_login(third, base, "auditor")
    third.goto(change_url)
    assert third.locator("#case-actions").count() == 0
    page_check(third, "auditor-1-case-file")
    assert dead_links(third) == []
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
    third.goto(f"{base}/admin/erasure/erasurerequest/add/")
    assert "403" in third.title() or "Forbidden" in third.inner_text("body")
    third.goto(f"{base}/admin/erasure/erasureitem/?request__id__exact={request_id}")
    expect(third.locator("#result_list tbody tr")).to_have_count(10)
    page_check(third, "auditor-2-items")
    third.goto(f"{base}/admin/erasure/auditevent/")
    assert "Waiting for the sequencer" in third.inner_text("#log-state")
    page_check(third, "auditor-3-audit-log")
    third.goto(f"{base}/admin/erasure/auditevent/verify/")
    assert "The log is intact" in third.inner_text("#chain-result")
    page_check(third, "auditor-4-verify")
    third.goto(f"{base}/admin/erasure/auditevent/export/")
    page_check(third, "auditor-5-export-form")
    third.goto(f"{base}/admin/")
    third.click("#dashboard-link")
    third.wait_for_selector("#weekly-chart svg")
    assert "100%" in third.inner_text("#on-time-rate")
    page_check(third, "auditor-6-dashboard")
