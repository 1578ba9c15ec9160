"""POST /api/v1/replays and GET /api/v1/replays/{id}: a replay after a backup restore,
over the API, run by the worker's own code path."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from procrastinate.contrib.django.models import ProcrastinateJob

from erasure.models import AuditEvent, AuditEventType, Replay
from erasure.services.execution import request_execute
from erasure.services.replays import replay_carry_on
from tests.api.helpers import error_of, written
from tests.services.execution.helpers import prepare

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def approver(api_key_factory):
    return api_key_factory("approver", "requests:approve")


def test_a_replay_over_the_api_sends_again_what_a_restore_brought_back(emulator, approver):
    since = (timezone.now() - timedelta(seconds=1)).isoformat()
    request = prepare(emulator, texts=3, vectors=2)
    emulator.control("snapshots", {"name": "backup"})
    assert request_execute(request_id=request.pk).finished
    emulator.control("snapshots/restore", {"name": "backup"})

    plan = approver.post("/api/v1/replays", {"since": since, "dry_run": True}, format="json")
    assert plan.status_code == 200
    assert plan.json() == {"dry_run": True, "items": 5, "by_namespace": {"notes": 3, "vecs": 2}}
    assert not Replay.objects.exists()

    response = approver.post(
        "/api/v1/replays", {"since": since, "namespaces": ["notes"]}, format="json"
    )
    assert response.status_code == 202, response.content
    body = response.json()
    assert (body["state"], body["items"], body["namespaces"]) == ("running", 3, ["notes"])
    job = ProcrastinateJob.objects.get(task_name="erasure.replay")
    replay_carry_on(replay_id=job.args["replay_id"])  # what the worker does

    report = approver.get(f"/api/v1/replays/{body['id']}").json()
    assert (report["state"], report["came_back"], report["absent"]) == ("completed", 3, 0)
    assert not {"t0", "t1", "t2"} & emulator.ids("notes")
    assert {"v0", "v1"} <= emulator.ids("vecs")  # not named: left as restored
    started = AuditEvent.objects.get(event_type=AuditEventType.REPLAY_STARTED)
    assert started.actor == "api_key:approver"


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"since": "yesterday"},
        {"since": (timezone.now() + timedelta(days=1)).isoformat()},
        {"since": "2026-01-01T00:00:00Z", "namespaces": ["nope"]},
        {"since": "2026-01-01T00:00:00Z", "namespaces": "notes"},
    ],
)
def test_a_bad_replay_is_400_and_writes_nothing(emulator, approver, payload):
    prepare(emulator, texts=1, vectors=0)
    before = written()
    error_of(approver.post("/api/v1/replays", payload, format="json"), 400)
    assert written() == before and not Replay.objects.exists()


def test_an_unknown_replay_is_404(approver, db):
    assert error_of(approver.get("/api/v1/replays/999"), 404)["code"] == "not_found"
