"""/healthz and /readyz: a real worker process is started, killed and started again, and
readiness follows it; every other check is made to fail once."""

from __future__ import annotations

import io
import json
import signal
import subprocess
import sys
import time

import pytest
from django.core.management import call_command
from django.db import connection

from erasure.services.execution import request_execute
from tests.conftest import EMULATOR_KEY, ROOT, worker_env
from tests.services.execution.helpers import prepare

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def installation(db):
    """The fingerprint the first migrate records (a transactional test's flush empties the
    table; the guard check needs it back)."""
    from django.conf import settings

    from erasure.hash_key_guard import fingerprint
    from erasure.models import Installation

    Installation.objects.get_or_create(
        id=1, defaults={"subject_hash_key_fingerprint": fingerprint(settings.SUBJECT_HASH_KEY)}
    )


def ready(client) -> tuple[int, dict]:
    response = client.get("/readyz")
    return response.status_code, response.json()


def start_worker(emulator) -> subprocess.Popen:
    env = worker_env(
        connection.settings_dict["NAME"], emulator, ERASURE_WORKER_HEARTBEAT_SECONDS="0.3"
    )
    return subprocess.Popen(  # noqa: S603
        [sys.executable, "manage.py", "procrastinate", "worker", "--concurrency", "1"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def wait_for(client, status: int, seconds: float = 30) -> dict:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        code, body = ready(client)
        if code == status:
            return body
        time.sleep(0.2)
    raise AssertionError(f"/readyz did not answer {status}: {body}")


def test_healthz_answers_without_the_database(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert (response.status_code, response.content) == (200, b"ok\n")


def test_readiness_follows_the_worker(client, emulator, settings):
    settings.READYZ_WORKER_MAX_AGE_SECONDS = 2
    code, body = ready(client)
    assert code == 503 and not body["ready"]
    assert body["checks"]["worker"]["ok"] is False
    assert all(
        body["checks"][name]["ok"] for name in ("database", "migrations", "subject_hash_key")
    )

    worker = start_worker(emulator)
    try:
        body = wait_for(client, 200)
        assert body["ready"] and body["checks"]["worker"]["alive"] == 1
        worker.send_signal(signal.SIGKILL)  # a worker that dies says nothing
        worker.wait(timeout=10)
        body = wait_for(client, 503)
        assert "no worker heartbeat" in body["checks"]["worker"]["error"]
        worker = start_worker(emulator)  # ... and one that comes back
        wait_for(client, 200)
    finally:
        worker.kill()
        worker.wait(timeout=10)


def test_a_refused_key_or_another_hash_key_is_not_ready(client, emulator, settings):
    worker = start_worker(emulator)
    try:
        wait_for(client, 200)
        # The API refuses the key: the erasure stops there, and readiness names the API.
        request = prepare(emulator, texts=3, vectors=0, others=0)
        emulator.control("config", {"disabled_api_keys": [EMULATOR_KEY]})
        request_execute(request_id=request.pk)
        code, body = ready(client)
        api = body["checks"]["namespace_api"]["apis"]["default"]
        assert code == 503 and api["last_status"] == 401 and api["ok"] is False
        assert "namespace API default" in api["error"]
        # The key works again and an operator lifts the refusal: the erasure completes.
        emulator.control("config", {"disabled_api_keys": []})
        call_command("namespace_api", "resume", "default", stdout=io.StringIO())
        request_execute(request_id=request.pk)
        request.refresh_from_db()
        assert request.status == "completed"
        code, body = ready(client)
        assert code == 200 and body["checks"]["namespace_api"]["apis"]["default"]["ok"]

        settings.SUBJECT_HASH_KEY = "another-key"
        code, body = ready(client)
        assert code == 503 and body["checks"]["subject_hash_key"]["ok"] is False
        assert "another-key" not in json.dumps(body)
    finally:
        worker.kill()
        worker.wait(timeout=10)
