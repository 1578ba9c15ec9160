"""The service's database connections run with PostgreSQL's JIT off, unless DATABASE_URL
says otherwise."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.db import connection

from tests.conftest import ROOT


@pytest.mark.django_db
def test_the_service_connections_run_without_the_jit():
    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        assert cursor.fetchone()[0] == "off"


def _options_for(database_url: str) -> str:
    env = dict(os.environ, DATABASE_URL=database_url, DJANGO_SETTINGS_MODULE="config.settings")
    return subprocess.run(  # noqa: S603
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings; "
            "print(settings.DATABASES['default']['OPTIONS']['options'])",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def test_options_given_in_the_database_url_come_after_ours_and_win():
    assert _options_for("postgres://u@127.0.0.1:5432/d") == "-c jit=off"
    given = _options_for("postgres://u@127.0.0.1:5432/d?options=-c%20jit%3Don")
    # PostgreSQL applies `-c` settings in order: the URL's own comes last.
    assert given == "-c jit=off -c jit=on"
