"""A second shell next to `make run` uses its database, secrets and emulator.

The real scripts/run_local.py runs here (with an external database, so the test needs no
embedded server), and a management command in another process, given no variables at all,
lands in the same database under the same subject-hash key.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg
import pytest

from config.local_run import FILE_NAME, load_local_run_environment, write_local_run_environment
from erasure.transparency.notes import Signer, open_checkpoint
from tests.conftest import ROOT, database_url_of


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def bare_env(**values: str) -> dict[str, str]:
    """The environment of a new shell: none of the service's variables."""
    names = ("DATABASE_URL", "SECRET_KEY", "SUBJECT_HASH_KEY", "NAMESPACE_API", "DEBUG", "AUDIT_")
    env = {name: value for name, value in os.environ.items() if not name.startswith(names)}
    env.update(values)
    return env


def test_the_environment_wins_over_the_file(tmp_path: Path):
    write_local_run_environment(
        {
            "SECRET_KEY_FILE": "/file/secret",
            "SUBJECT_HASH_KEY_FILE": "/file/hash",
            "NAMESPACE_API_URL": "http://127.0.0.1:1/v1",
            "DEBUG": "true",
            "OTHER": "never shared",
        },
        directory=tmp_path,
    )
    assert oct((tmp_path / FILE_NAME).stat().st_mode & 0o777) == "0o600"
    environ = {"DATA_DIR": str(tmp_path), "SECRET_KEY": "from-the-shell"}
    os.environ["DATA_DIR"], previous = str(tmp_path), os.environ.get("DATA_DIR")
    try:
        taken = load_local_run_environment(environ)
    finally:
        if previous is None:
            os.environ.pop("DATA_DIR")
        else:
            os.environ["DATA_DIR"] = previous
    assert sorted(taken) == ["DEBUG", "NAMESPACE_API_URL", "SUBJECT_HASH_KEY_FILE"]
    assert "SECRET_KEY_FILE" not in environ  # SECRET_KEY given in the shell keeps it out
    assert "OTHER" not in environ


@pytest.fixture
def scratch_database(db: None) -> str:
    name = f"make_run_{uuid.uuid4().hex[:8]}"
    admin_url = database_url_of("postgres")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield name
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_a_command_in_another_shell_uses_what_make_run_chose(tmp_path: Path, scratch_database):
    url = database_url_of(scratch_database)
    port, emulator_port = free_port(), free_port()
    log = (tmp_path / "make-run.log").open("w")
    run = subprocess.Popen(
        [sys.executable, "scripts/run_local.py"],
        cwd=ROOT,
        env=bare_env(
            DATABASE_URL=url,
            DATA_DIR=str(tmp_path),
            PORT=str(port),
            EMULATOR_PORT=str(emulator_port),
            WORKER_CONCURRENCY="1",
        ),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                assert run.poll() is None, (tmp_path / "make-run.log").read_text()
                time.sleep(0.3)
        else:
            pytest.fail("make run did not serve in time")

        # The second shell: only DATA_DIR (the checkout's .data/ by default).
        second = bare_env(DATA_DIR=str(tmp_path))
        created = subprocess.run(
            [
                sys.executable,
                "manage.py",
                "create_api_key",
                "second-shell",
                "--scope",
                "audit:read",
            ],
            cwd=ROOT,
            env=second,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert created.returncode == 0, created.stderr
        shown = subprocess.run(
            [
                sys.executable,
                "manage.py",
                "shell",
                "-c",
                "from django.conf import settings; from erasure.hash_key_guard import "
                "fingerprint; print(settings.NAMESPACE_API_URL); "
                "print(fingerprint(settings.SUBJECT_HASH_KEY))",
            ],
            cwd=ROOT,
            env=second,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert shown.returncode == 0, shown.stderr
        api_url, key_fingerprint = shown.stdout.split()[-2:]
        # make run's worker, woken by that commit, sequences the event and signs a
        # checkpoint with the key make run keeps under DATA_DIR.
        key_file = tmp_path / "audit_signing_key"
        assert key_file.stat().st_mode & 0o777 == 0o600
        deadline = time.monotonic() + 60
        note = None
        while note is None and time.monotonic() < deadline:
            with psycopg.connect(url) as conn:
                row = conn.execute(
                    "SELECT note FROM erasure_auditcheckpoint ORDER BY tree_size DESC LIMIT 1"
                ).fetchone()
            note = row[0] if row else None
            time.sleep(0.3)
        assert note is not None, "no checkpoint was signed"
        signer = Signer.decode(key_file.read_text())
        open_checkpoint(note, [signer.verifier], origin=signer.name)
    finally:
        os.killpg(run.pid, signal.SIGTERM)
        run.wait(timeout=30)
        log.close()

    assert api_url == f"http://127.0.0.1:{emulator_port}/v1"
    with psycopg.connect(url) as conn:
        names = [row[0] for row in conn.execute("SELECT name FROM erasure_apikey")]
        recorded = conn.execute(
            "SELECT subject_hash_key_fingerprint FROM erasure_installation"
        ).fetchone()[0]
    assert "second-shell" in names
    assert key_fingerprint == recorded  # the same subject-hash key as make run's
    # Stopped, make run takes back what belonged to it (its emulator, DEBUG).
    assert not (tmp_path / FILE_NAME).exists()
