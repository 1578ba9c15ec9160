"""The admin's coverage column, its "scan now" action, and the scan history."""

from __future__ import annotations

import pytest
from django.test import Client
from procrastinate.contrib.django.models import ProcrastinateJob

from erasure.actors import Actor
from erasure.clients import make_client
from erasure.models import Namespace, NamespaceScan
from erasure.services.mappings import MappingInput, mappings_register
from erasure.services.scans import scan_run, scan_start

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(django_user_model) -> Client:
    user = django_user_model.objects.create_superuser("root", "root@example.com", "pw")
    client = Client()
    client.force_login(user)
    return client


def seed(emulator) -> Namespace:
    emulator.seed(
        [
            {
                "name": "notes",
                "type": "text",
                "items": [{"id": f"n{i}", "text": "t"} for i in range(5)],
            }
        ]
    )
    mappings_register(
        items=[MappingInput("user-1", "notes", f"n{i}") for i in range(3)]
        + [MappingInput("user-1", "notes", "gone")],
        actor=Actor.system("test"),
    )
    return Namespace.objects.get(name="notes")


def test_the_namespace_list_shows_coverage_and_starts_scans(
    admin, emulator, django_capture_on_commit_callbacks
):
    namespace = seed(emulator)
    page = admin.get("/admin/erasure/namespace/")
    assert "never scanned" in page.content.decode()

    with django_capture_on_commit_callbacks(execute=True):  # the job, once committed
        response = admin.post(
            "/admin/erasure/namespace/",
            {"action": "scan_now", "_selected_action": [namespace.pk]},
            follow=True,
        )
    assert "1 scan(s) started; 0 already running" in response.content.decode()
    scan = NamespaceScan.objects.get()
    assert ProcrastinateJob.objects.filter(
        task_name="erasure.scan_namespace", args={"scan_id": scan.pk}
    ).exists()
    assert "scanning: 0 items read" in admin.get("/admin/erasure/namespace/").content.decode()

    with make_client() as client:
        scan_run(scan_start(namespace=namespace), client=client)
    text = admin.get("/admin/erasure/namespace/").content.decode()
    assert "4 of 5 mapped, 2 unmapped, 1 stale" in text
    history = admin.get("/admin/erasure/namespacescan/")
    assert history.status_code == 200 and "Completed" in history.content.decode()
    detail = admin.get(f"/admin/erasure/namespacescan/{scan.pk}/change/")
    assert detail.status_code == 200
