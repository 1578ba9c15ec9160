"""`POST /api/v1/namespaces/{name}/scans` and `GET /api/v1/namespaces/{name}/coverage`."""

from __future__ import annotations

import pytest
from django.db import connection
from procrastinate.contrib.django.models import ProcrastinateJob

from erasure.actors import Actor
from erasure.services.mappings import MappingInput, mappings_register
from tests.conftest import run_worker_once

APP = Actor.system("test-app")


def seed(emulator) -> None:
    emulator.seed(
        [
            {
                "name": "notes",
                "type": "text",
                "items": [{"id": f"n{i}", "text": "t"} for i in range(120)],
            },
            {
                "name": "vecs",
                "type": "vector",
                "vector_dimension": 2,
                "items": [{"id": f"v{i}", "vector": [0.5, 0.5]} for i in range(4)],
            },
        ]
    )
    mappings_register(
        items=[MappingInput("user-1", "notes", f"n{i}") for i in range(100)]
        + [MappingInput("user-1", "notes", "gone-1"), MappingInput("user-1", "vecs", "v0")],
        actor=APP,
    )


@pytest.mark.django_db(transaction=True)
def test_a_scan_started_by_the_api_is_carried_out_by_a_worker(emulator, api_key_factory):
    seed(emulator)
    operator = api_key_factory("ops", "requests:approve")
    started = operator.post("/api/v1/namespaces/notes/scans")
    assert started.status_code == 202, started.content
    assert (started.json()["state"], started.json()["full"]) == ("running", True)
    again = operator.post("/api/v1/namespaces/notes/scans")
    assert again.json()["id"] == started.json()["id"]  # one scan runs per namespace
    jobs = ProcrastinateJob.objects.filter(
        task_name="erasure.scan_namespace", status="todo", args={"scan_id": started.json()["id"]}
    )
    assert jobs.count() == 1  # one job for the one scan

    reader = api_key_factory("auditor", "audit:read")
    before = reader.get("/api/v1/namespaces/notes/coverage").json()
    assert before["last_scan"] is None and before["running_scan"]["id"] == started.json()["id"]

    run_worker_once(connection.settings_dict["NAME"], emulator)

    coverage = reader.get("/api/v1/namespaces/notes/coverage").json()
    assert coverage["running_scan"] is None and coverage["can_be_listed"] is True
    last = coverage["last_scan"]
    assert (last["state"], last["pages"], last["items_seen"]) == ("completed", 2, 120)
    assert (last["unmapped"], last["stale"]) == (20, 1)
    assert (last["api_item_count"], last["mapped_count"]) == (120, 101)


@pytest.mark.django_db
def test_a_vector_namespace_says_it_cannot_be_listed(emulator, api_key_factory):
    seed(emulator)
    coverage = api_key_factory("auditor", "audit:read").get("/api/v1/namespaces/vecs/coverage")
    assert coverage.status_code == 200
    assert coverage.json() == {
        "api": "default",
        "namespace": "vecs",
        "kind": "vector",
        "can_be_listed": False,
        "last_scan": None,
        "running_scan": None,
    }


@pytest.mark.django_db
def test_an_unknown_namespace_is_404(emulator, api_key_factory):
    operator = api_key_factory("ops", "requests:approve")
    assert operator.post("/api/v1/namespaces/nowhere/scans").status_code == 404
    assert operator.get("/api/v1/namespaces/nowhere/coverage").status_code == 404


@pytest.mark.django_db
def test_the_findings_of_the_latest_scan_export_as_csv_and_json_lines(emulator, api_key_factory):
    import json

    from erasure.clients import make_client
    from erasure.models import Namespace
    from erasure.services.scans import scan_run, scan_start

    seed(emulator)
    reader = api_key_factory("auditor", "audit:read")
    none_yet = reader.get("/api/v1/namespaces/notes/findings")
    assert none_yet.status_code == 404
    assert "no completed scan yet" in none_yet.json()["error"]["message"]
    with make_client() as client:
        scan = scan_run(scan_start(namespace=Namespace.objects.get(name="notes")), client=client)

    csv_answer = reader.get("/api/v1/namespaces/notes/findings")
    assert csv_answer.status_code == 200
    assert csv_answer["Content-Type"].startswith("text/csv")
    lines = b"".join(csv_answer.streaming_content).decode().splitlines()
    assert lines[0] == "namespace,scan,kind,item_id"
    assert {line.split(",")[3] for line in lines[1:]} == {f"n{i}" for i in range(100, 120)}

    stale = reader.get(f"/api/v1/namespaces/notes/findings?kind=stale&format=jsonl&scan={scan.pk}")
    rows = [json.loads(line) for line in b"".join(stale.streaming_content).decode().splitlines()]
    assert rows == [{"namespace": "notes", "scan": scan.pk, "kind": "stale", "item_id": "gone-1"}]
    assert reader.get("/api/v1/namespaces/notes/findings?kind=nope").status_code == 400
    assert reader.get("/api/v1/namespaces/notes/findings?scan=999999").status_code == 404
