"""The mistakes the case file guards against, as a person meets them in Chromium: the
message each gets on the page, and every such page accessible (axe-core) and within a
1,280 px window."""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from erasure.models import ErasureRequest
from tests.browser_support import admin_login, page_check

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_empty_subject_an_unknown_alias_and_a_bare_approval_are_each_told(
    browser, live_server, emulator, role_groups
):
    call_command("seed_demo")
    base = live_server.url
    officer = browser.new_page()
    admin_login(officer, base, "officer")
    officer.goto(f"{base}/admin/erasure/erasurerequest/add/")

    # An alias nobody has.
    officer.fill("#id_subject_key", "nobody@example.com")
    officer.fill("#id_alias_kind", "email")
    officer.click("#preview-filing")
    expect(officer.locator("#preview-summary")).to_contain_text(
        "Unknown alias: no subject has this email alias"
    )
    page_check(officer, "mistake-1-unknown-alias-preview")

    # A subject with nothing mapped: the preview says so, filing asks for "File it anyway".
    officer.fill("#id_subject_key", "user_nobody")
    officer.fill("#id_alias_kind", "")
    officer.click("#preview-filing")
    expect(officer.locator("#preview-summary")).to_contain_text(
        "No item is mapped to this subject: the request would erase nothing"
    )
    officer.click("#file-request")
    expect(officer.locator(".errorlist")).to_contain_text(
        "No item is mapped to this subject, so the request would erase nothing"
    )
    assert not ErasureRequest.objects.exists()
    page_check(officer, "mistake-2-nothing-mapped-refused")
    officer.check("#id_confirm_nothing_mapped")
    officer.click("#file-request")
    officer.wait_for_url(re.compile(r"/change/$"))
    change_url = officer.url
    expect(officer.locator("#empty-warning")).to_contain_text("No item is mapped to this subject")
    assert officer.inner_text("#case-progress-text") == (
        "No item is mapped to this subject: approving would erase nothing."
    )

    # Approving it needs the box ticked, and says why.
    approver = browser.new_page()
    admin_login(approver, base, "approver")
    approver.goto(change_url)
    approver.click("#approve-request")
    expect(approver.locator("#confirm-consequence")).to_contain_text(
        "no item is mapped to this subject, so nothing will be erased"
    )
    approver.click("#confirm-submit")
    expect(approver.locator("#confirm-form .errornote")).to_contain_text(
        "Tick the box: this request erases nothing"
    )
    page_check(approver, "mistake-3-empty-approval-refused")
    assert ErasureRequest.objects.get().status == "awaiting_approval"
    approver.check("#id_confirm_nothing_mapped")
    approver.click("#confirm-submit")
    approver.wait_for_url(change_url)
    expect(approver.locator(".messagelist")).to_contain_text("The request was approved.")
    assert ErasureRequest.objects.get().status == "approved"
