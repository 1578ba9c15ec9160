"""Where completeness shows: the request page, the certificate's Completeness section, the
dashboard tile, and the re-check and replay lists, which every role reads."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

import pytest
from django.utils import timezone

from erasure.actors import Actor
from erasure.certificates import certificate_for, certificate_html
from erasure.clients import make_client
from erasure.models import Namespace, NamespaceScan
from erasure.roles import APPROVER, AUDITOR, COMPLETENESS_READ, OFFICER
from erasure.services.execution import request_execute
from erasure.services.rechecks import rechecks_run_due
from erasure.services.replays import replay_create
from erasure.services.scans import scan_carry_on, scan_run, scan_start
from tests.services.execution.helpers import prepare

pytestmark = pytest.mark.django_db


def text_of(html: str) -> str:
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)))


def completed_with_a_scan(emulator):
    """A request erased after a fresh scan of `notes` (subject field `user_id`) found one
    more item of the subject, then re-checked: one item came back."""
    request = prepare(emulator, texts=3, vectors=2)
    with make_client() as client:
        client.upload_documents(
            namespace="notes",
            documents=[
                {"id": "found", "text": "t", "metadata": {"user_id": "auth0|crash-test-subject"}}
            ],
        )
    Namespace.objects.filter(name="notes").update(subject_field="user_id")
    assert not request_execute(request_id=request.pk).finished  # waits for the scan
    scan = NamespaceScan.objects.get(state="running")
    scan_carry_on(scan_id=scan.pk)
    assert request_execute(request_id=request.pk).finished
    request.refresh_from_db()
    return request, scan


def test_the_certificate_states_completeness_per_namespace(emulator):
    request, scan = completed_with_a_scan(emulator)
    with make_client() as client:
        client.upload_documents(namespace="notes", documents=[{"id": "t1", "text": "back"}])
    rechecks_run_due(now=timezone.now() + timedelta(days=31))

    text = text_of(certificate_html(certificate_for(request)))

    assert "Completeness" in text
    assert (
        f"subject field 'user_id': scan {scan.pk} (after the approval) "
        "found 1 item(s) of this subject"
    ) in text
    assert "cannot be listed by the API: counts only" in text  # vecs
    assert "re-checked on" in text and "1 item(s) re-appeared" in text
    assert "0 item(s) re-appeared" in text  # vecs: nothing came back


def test_the_request_page_and_the_dashboard_show_completeness(client, emulator, role_user):
    request, scan = completed_with_a_scan(emulator)
    client.force_login(role_user("ann", AUDITOR))

    page = text_of(
        client.get(f"/admin/erasure/erasurerequest/{request.pk}/change/").content.decode()
    )
    assert "Completeness" in page and f"scan {scan.pk} (after the approval)" in page
    assert "due " in page  # the re-checks, 30 days on

    dashboard = client.get("/admin/dashboard/")
    assert dashboard.status_code == 200
    html = dashboard.content.decode()
    assert 'id="completeness"' in html
    assert 'data-namespace="notes" data-state="ok"' in html
    assert 'data-namespace="vecs" data-state="unknown"' in html  # never scanned


@pytest.mark.parametrize("role", [OFFICER, APPROVER, AUDITOR])
def test_every_role_reads_scans_rechecks_and_replays(client, emulator, role_user, role):
    prepare(emulator, texts=1, vectors=0)
    with make_client() as client_api:
        scan_run(scan_start(namespace=Namespace.objects.get(name="notes")), client=client_api)
    replay_create(
        since=timezone.now() - timedelta(days=1), actor=Actor.system("t"), run_in_worker=False
    )
    user = role_user("reader", role)
    assert all(user.has_perm(f"{app}.{codename}") for app, codename in COMPLETENESS_READ)
    client.force_login(user)
    for page in ("namespacescan", "recheck", "replay"):
        response = client.get(f"/admin/erasure/{page}/")
        assert response.status_code == 200, page
    assert client.get("/admin/erasure/replay/add/").status_code == 403
