"""`manage.py erasure_replay`, run as an operator would, after the emulator restored a
snapshot: the command's report is compared with the emulator's truth."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from erasure.models import Replay, ReplayItem
from erasure.services.execution import request_execute
from tests.conftest import manage_py, worker_env
from tests.services.execution.helpers import prepare

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_command_replays_a_restored_backup(emulator):
    since = (timezone.now() - timedelta(seconds=1)).isoformat()
    request = prepare(emulator, texts=4, vectors=2)
    emulator.control("snapshots", {"name": "backup"})
    assert request_execute(request_id=request.pk).finished
    emulator.control("snapshots/restore", {"name": "backup"})
    env = worker_env(connection.settings_dict["NAME"], emulator)

    dry = manage_py("erasure_replay", "--since", since, "--dry-run", env=env)
    assert dry.returncode == 0, dry.stderr
    assert "notes: 4 items would be sent again" in dry.stdout
    assert "vecs: 2 items would be sent again" in dry.stdout
    assert not Replay.objects.exists() and "t0" in emulator.ids("notes")

    done = manage_py("erasure_replay", "--since", since, "--namespace", "notes", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "4 came back and were deleted again, 0 were not there" in done.stdout
    assert not {f"t{n}" for n in range(4)} & emulator.ids("notes")
    assert {"v0", "v1"} <= emulator.ids("vecs")
    replay = Replay.objects.get()
    assert (replay.state, replay.came_back) == ("completed", 4)
    assert set(ReplayItem.objects.values_list("outcome", flat=True)) == {"deleted"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "last tuesday"], "is not an ISO 8601 time"),
        (["--since", "2026-01-01T00:00:00"], "must carry a time zone"),
        (["--since", "2026-01-01T00:00:00Z", "--namespace", "nope"], "unknown namespace"),
        (["--since", "2999-01-01T00:00:00Z"], "must not be in the future"),
    ],
)
def test_bad_input_exits_2_and_writes_nothing(emulator, args, message):
    env = worker_env(connection.settings_dict["NAME"], emulator)
    result = manage_py("erasure_replay", *args, env=env)
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr
    assert not Replay.objects.exists()
