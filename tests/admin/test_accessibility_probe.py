"""A probe of the admin's accessibility: axe-core on each page of the three journeys, as a
superuser on the demo data, with one request filed and approved so the lists have rows.

For now it collects the serious and critical violations and prints them (run with -s)
rather than failing on them; it asserts that every page loaded and that axe ran on it and
returned results. Each page's axe result goes to artifacts/axe/, its screenshots at 1,280
and 1,920 px to artifacts/screenshots/ (tests/browser_support.py).
"""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command

from erasure.management.commands.seed_demo import DEMO_PASSWORD as PASSWORD
from tests.browser_support import (
    admin_login,
    axe_run,
    blocking_violations,
    describe_violations,
    screenshot_widths,
)

pytestmark = pytest.mark.django_db(transaction=True)

SUPERUSER = "probe-admin"

# (artifact name, path): the pages that the brief names, in journey order.
PAGES = [
    ("probe-admin-index", "/admin/"),
    ("probe-requests-list", "/admin/erasure/erasurerequest/"),
    ("probe-request-add", "/admin/erasure/erasurerequest/add/"),
    ("probe-audit-list", "/admin/erasure/auditevent/"),
    ("probe-audit-export", "/admin/erasure/auditevent/export/"),
    ("probe-audit-verify", "/admin/erasure/auditevent/verify/"),
    ("probe-dashboard", "/admin/dashboard/"),
    ("probe-items-list", "/admin/erasure/erasureitem/"),
]


def _probe(page, name: str, findings: dict[str, dict]) -> None:
    """axe on the page as it is now, and its screenshots; what it found goes in `findings`."""
    page.wait_for_load_state("load")
    result = axe_run(page, name)
    shots = screenshot_widths(page, name)
    findings[name] = {
        "url": page.url,
        "result": result,
        "blocking": blocking_violations(result),
        "overflow_1280": next(s.overflow for s in shots if s.width == 1280),
    }


def _file_and_approve(browser, page, live_server, findings: dict[str, dict], notes: list[str]):
    """File a request for user_alice as the superuser (probing the add page after its
    preview), then approve it as the demo approver; return its change page's URL.

    Only a means to give the lists rows: the journeys themselves are tested in
    test_admin_flow.py, so a step that fails here is noted and the probe goes on."""
    from playwright.sync_api import Error as PlaywrightError

    try:
        page.goto(f"{live_server.url}/admin/erasure/erasurerequest/add/")
        page.fill("#id_subject_key", "user_alice")
        page.select_option("#id_regulation", "gdpr")
        page.fill("#id_reason", "Customer asked to be forgotten by e-mail")
        page.click("#preview-filing")
        try:
            page.wait_for_selector("#preview-summary", state="attached", timeout=10_000)
            _probe(page, "probe-request-add-previewed", findings)
        except PlaywrightError as error:
            notes.append(f"the filing preview did not appear: {error.message.splitlines()[0]}")
        page.click("input[name=_save]")
        page.wait_for_url(
            re.compile(r"/admin/erasure/erasurerequest/[0-9a-f-]+/change/$"), timeout=10_000
        )
    except PlaywrightError as error:
        notes.append(f"filing a request failed: {error.message.splitlines()[0]}")
        return None
    change_url = page.url

    approver = browser.new_page()
    try:
        admin_login(approver, live_server.url, "approver")
        approver.goto(change_url)
        approver.click("#approve-request", timeout=10_000)
        approver.wait_for_load_state("load")
        if approver.locator("#confirm-form").count():
            # Approval asks for a confirmation on a page of its own: probe that too.
            _probe(approver, "probe-approve-confirm", findings)
            for box in approver.locator("#confirm-form input[type=checkbox]").all():
                box.check()
            approver.click("#confirm-submit", timeout=10_000)
            approver.wait_for_load_state("load")
        if "The request was approved." not in approver.inner_text("body"):
            notes.append("approving the request showed no confirmation")
    except PlaywrightError as error:
        notes.append(f"approving the request failed: {error.message.splitlines()[0]}")
    finally:
        approver.close()
    return change_url


def test_axe_runs_on_every_admin_page(
    browser, live_server, emulator, role_groups, django_user_model
):
    call_command("seed_demo")
    django_user_model.objects.create_superuser(SUPERUSER, password=PASSWORD)
    findings: dict[str, dict] = {}
    notes: list[str] = []

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    # The login page as an anonymous visitor sees it: every journey starts there.
    page.goto(f"{live_server.url}/admin/login/")
    _probe(page, "probe-login", findings)
    admin_login(page, live_server.url, SUPERUSER, PASSWORD)

    change_url = _file_and_approve(browser, page, live_server, findings, notes)
    for name, path in PAGES:
        response = page.goto(f"{live_server.url}{path}")
        assert response is not None and response.ok, f"{name}: {path} answered {response}"
        _probe(page, name, findings)
    if change_url:
        page.goto(change_url)
        _probe(page, "probe-request-change", findings)
    page.close()

    report = []
    for name, found in findings.items():
        blocking = found["blocking"]
        report.append(
            f"== {name} ({found['url']}): {len(blocking)} serious/critical rule(s), "
            f"{len(found['result']['violations'])} violated in all, "
            f"{found['overflow_1280']} px overflow at 1280"
        )
        if blocking:
            report.append(describe_violations(blocking))
    report.extend(f"note: {note}" for note in notes)
    print("\n" + "\n".join(report))

    assert {"probe-login"} | {name for name, _ in PAGES} <= set(findings)
    for name, found in findings.items():
        result = found["result"]
        assert result.get("testEngine", {}).get("name") == "axe-core", name
        assert result["passes"], f"axe passed no rule on {name}: did it run?"
