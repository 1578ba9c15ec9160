"""Completeness in a real headless Chromium: a superuser names the subject field of a
namespace in its form, a request then waits for a scan that finds an item no application
registered, and an auditor reads on the request page and the dashboard what was found.
Screenshots go to artifacts/screenshots/."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import connection

from erasure.actors import Actor
from erasure.clients import make_client
from erasure.models import AuditEvent, AuditEventType, Namespace
from erasure.services.requests import request_approve, request_file
from tests.browser_support import admin_login, page_check
from tests.conftest import run_worker_once

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_subject_field_set_in_the_admin_finds_what_nobody_registered(
    browser, live_server, emulator, django_user_model, role_groups
):
    call_command("seed_demo")
    django_user_model.objects.create_superuser("root", "root@example.com", "demo-password")
    namespace = Namespace.objects.get(name="demo-docs")
    with make_client() as client:
        client.upload_documents(
            namespace="demo-docs",
            documents=[{"id": "forgotten", "text": "t", "metadata": {"user_id": "user_alice"}}],
        )

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    admin_login(page, live_server.url, "root", "demo-password")
    page.goto(f"{live_server.url}/admin/erasure/namespace/{namespace.pk}/change/")
    page.fill("#id_subject_field", "user_id")
    page.fill("#id_recheck_after_days", "90")
    page.click("input[name=_save]")
    assert "was changed successfully" in page.inner_text(".messagelist")
    namespace.refresh_from_db()
    assert (namespace.subject_field, namespace.recheck_after_days) == ("user_id", 90)
    assert AuditEvent.objects.filter(event_type=AuditEventType.NAMESPACE_CHANGED).count() == 1

    filed = request_file(subject_key="user_alice", actor=Actor.system("test"), source="admin")
    request = request_approve(request=filed.request, actor=Actor.system("test-approver"))
    run_worker_once(connection.settings_dict["NAME"], emulator)
    request.refresh_from_db()
    assert request.status == "completed"
    assert "forgotten" not in emulator.ids("demo-docs")

    auditor = browser.new_page(viewport={"width": 1280, "height": 900})
    admin_login(auditor, live_server.url, "auditor")
    auditor.goto(f"{live_server.url}/admin/erasure/erasurerequest/{request.pk}/change/")
    row = auditor.locator("#request-completeness tr[data-namespace=demo-docs]")
    assert "found 1 item(s) of this subject" in row.inner_text()
    assert "due " in row.locator(".recheck-state").inner_text()
    page_check(auditor, "completeness-1-request")
    auditor.goto(f"{live_server.url}/admin/dashboard/")
    tile = auditor.locator("#completeness")
    assert tile.locator("tr[data-namespace=demo-docs]").get_attribute("data-state") == "ok"
    page_check(auditor, "completeness-2-dashboard")
