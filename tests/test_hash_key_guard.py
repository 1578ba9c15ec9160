"""The subject-hash key never changes under a database (erasure.hash_key_guard).

Each process is started for real (manage.py, config.wsgi) against the test database.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from django.conf import settings
from django.db import connection

from erasure.hash_key_guard import fingerprint, recorded_fingerprint
from erasure.models import ApiKey, Installation, ItemMapping
from tests.conftest import ROOT, database_url_of, manage_py

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def installed() -> None:
    # A transactional test before this one may have flushed the row the first migrate wrote.
    Installation.objects.get_or_create(
        id=1, defaults={"subject_hash_key_fingerprint": fingerprint(settings.SUBJECT_HASH_KEY)}
    )


def env_with(**values: str) -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("SUBJECT_HASH_KEY", "SECRET_KEY", "DEBUG"))
    }
    env.update(
        DATABASE_URL=database_url_of(connection.settings_dict["NAME"]),
        DATA_DIR=str(ROOT / ".data-tests-none"),  # no make-run.env defaults
        SECRET_KEY=settings.SECRET_KEY,
    )
    env.update(values)
    return env


def test_the_first_migrate_records_the_key_fingerprint():
    # The test database was made by migrate with the tests' SUBJECT_HASH_KEY.
    Installation.objects.get_or_create(
        id=1, defaults={"subject_hash_key_fingerprint": fingerprint(settings.SUBJECT_HASH_KEY)}
    )
    assert recorded_fingerprint() == fingerprint(settings.SUBJECT_HASH_KEY)
    assert settings.SUBJECT_HASH_KEY not in recorded_fingerprint()


@pytest.mark.parametrize(
    "command",
    [
        ["create_api_key", "intruder", "--scope", "audit:read"],
        ["import_mappings", "-", "--no-progress"],
        ["procrastinate", "worker", "--one-shot"],
        ["migrate", "--noinput"],
        ["erasure_sweep"],
    ],
    ids=lambda command: command[0] if command[0] != "procrastinate" else "worker",
)
def test_every_command_refuses_another_subject_hash_key(installed, command):
    completed = subprocess.run(
        [sys.executable, "manage.py", *command],
        cwd=ROOT,
        env=env_with(SUBJECT_HASH_KEY="another-key"),
        input="subject,namespace,item_id\nalice,docs,doc-1\n",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 2, completed.stdout + completed.stderr
    assert "SUBJECT_HASH_KEY" in completed.stderr
    assert "another-key" not in completed.stderr  # the message never shows a key
    assert not ApiKey.objects.filter(name="intruder").exists()
    assert not ItemMapping.objects.exists()


def test_debug_supplies_no_hash_key(installed):
    # DEBUG=true once swapped in a built-in key; now an unset key is refused, not replaced.
    env = env_with(DEBUG="true")
    env.pop("SECRET_KEY")
    completed = manage_py("create_api_key", "intruder", "--scope", "audit:read", env=env)
    assert completed.returncode == 2, completed.stdout + completed.stderr
    assert "SUBJECT_HASH_KEY is not set" in completed.stderr
    assert not ApiKey.objects.filter(name="intruder").exists()


def test_the_web_process_refuses_another_subject_hash_key(installed):
    completed = subprocess.run(
        [sys.executable, "-c", "import config.wsgi"],
        cwd=ROOT,
        env=env_with(SUBJECT_HASH_KEY="another-key"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 2, completed.stderr
    assert "SUBJECT_HASH_KEY" in completed.stderr


def test_the_right_key_starts(installed):
    completed = manage_py(
        "create_api_key",
        "welcome",
        "--scope",
        "audit:read",
        env=env_with(SUBJECT_HASH_KEY=settings.SUBJECT_HASH_KEY),
    )
    assert completed.returncode == 0, completed.stderr
    assert ApiKey.objects.filter(name="welcome").exists()
    web = subprocess.run(
        [sys.executable, "-c", "import config.wsgi"],
        cwd=ROOT,
        env=env_with(SUBJECT_HASH_KEY=settings.SUBJECT_HASH_KEY),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert web.returncode == 0, web.stderr


@pytest.fixture
def scratch_database() -> Iterator[str]:
    name = f"hash_key_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(database_url_of("postgres"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield name
    with psycopg.connect(database_url_of("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_an_upgrade_records_no_key_it_cannot_check(scratch_database):
    """A database from before the fingerprint, whose subjects were hashed with SECRET_KEY
    and keep no raw key to check against: a new key is refused unless confirmed."""
    url = database_url_of(scratch_database)
    before = env_with(DATABASE_URL=url, SUBJECT_HASH_KEY=settings.SECRET_KEY)
    assert manage_py("migrate", "erasure", "0006", env=before).returncode == 0
    with psycopg.connect(url) as conn:
        conn.execute(
            "INSERT INTO erasure_subject (key_hash, created_at) VALUES (%s, now())", ["a" * 64]
        )

    refused = manage_py("migrate", env=env_with(DATABASE_URL=url, SUBJECT_HASH_KEY="new-key"))
    assert refused.returncode != 0
    assert "SUBJECT_HASH_KEY_CONFIRMED" in refused.stderr
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT to_regclass('erasure_installation')").fetchone()[0] is None

    confirmed = env_with(DATABASE_URL=url, SUBJECT_HASH_KEY="new-key")
    confirmed["SUBJECT_HASH_KEY_CONFIRMED"] = "true"
    assert manage_py("migrate", env=confirmed).returncode == 0, "confirmed: recorded"
    with psycopg.connect(url) as conn:
        recorded = conn.execute(
            "SELECT subject_hash_key_fingerprint FROM erasure_installation"
        ).fetchone()[0]
    assert recorded == fingerprint("new-key")


def test_an_upgrade_with_the_former_secret_key_is_recorded(scratch_database):
    url = database_url_of(scratch_database)
    old = env_with(DATABASE_URL=url, SUBJECT_HASH_KEY=settings.SECRET_KEY)
    assert manage_py("migrate", "erasure", "0006", env=old).returncode == 0
    with psycopg.connect(url) as conn:
        conn.execute(
            "INSERT INTO erasure_subject (key_hash, created_at) VALUES (%s, now())", ["b" * 64]
        )
    assert manage_py("migrate", env=old).returncode == 0


def test_a_process_that_started_without_the_database_checks_its_first_connection(
    installed, settings
):
    # Its start-up check found no database to compare with; the first connection that
    # finds the fingerprint checks it (the receiver erasure.apps connects).
    from django.db.backends.signals import connection_created

    from erasure import hash_key_guard

    assert any(
        receiver[0][0] == "subject-hash-key-guard" for receiver in connection_created.receivers
    )
    original = settings.SUBJECT_HASH_KEY
    hash_key_guard._Verified.done = False
    settings.SUBJECT_HASH_KEY = "another-key"
    with pytest.raises(hash_key_guard.HashKeyMismatch, match="SUBJECT_HASH_KEY"):
        hash_key_guard.check_new_connection(sender=None, connection=connection)
    assert not hash_key_guard._Verified.done
    settings.SUBJECT_HASH_KEY = original
    hash_key_guard.check_new_connection(sender=None, connection=connection)
    assert hash_key_guard._Verified.done
