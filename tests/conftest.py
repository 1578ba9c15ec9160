"""Shared fixtures: a real namespace API emulator on loopback, API keys, an API client.

Nothing here mocks our database or our client: tests run against the PostgreSQL that
DATABASE_URL names and talk HTTP to the emulator.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from rest_framework.test import APIClient

from erasure.actors import Actor
from erasure.services.api_keys import api_key_create
from erasure.transparency.notes import Signer
from namespace_api.emulator import EmulatorServer

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parent.parent
EMULATOR_KEY = "test-emulator-key"


class Emulator:
    """A handle on the running emulator through its control endpoint (real HTTP)."""

    def __init__(self, server: EmulatorServer, key: str = EMULATOR_KEY) -> None:
        self.server = server
        self.key = key
        self.url = server.url
        self.root = server.base_url
        self.http = httpx.Client(base_url=self.root, timeout=10)

    def control(self, path: str, payload: Any = None) -> Any:
        if payload is None:
            response = self.http.get(f"/_emulator/{path}")
        else:
            response = self.http.post(f"/_emulator/{path}", json=payload)
        response.raise_for_status()
        return response.json()

    def seed(self, namespaces: list[dict[str, Any]]) -> None:
        self.control("seed", {"api_key": self.key or None, "namespaces": namespaces})

    def ids(self, namespace: str) -> set[str]:
        return set(self.control("state")["namespaces"].get(namespace, {}).get("ids", []))

    def calls(self) -> list[dict[str, Any]]:
        return self.control("calls")["calls"]


TEST_SIGNING_KEY = Signer.generate("test.erasure.example/audit").encode()


@pytest.fixture(autouse=True, scope="session")
def audit_signing_key() -> Iterator[str]:
    """Checkpoints are signed in every test (and its subprocesses) unless one unsets it."""
    from django.conf import settings

    if not settings.AUDIT_SIGNING_KEY:
        settings.AUDIT_SIGNING_KEY = TEST_SIGNING_KEY
        os.environ["AUDIT_SIGNING_KEY"] = TEST_SIGNING_KEY
    yield settings.AUDIT_SIGNING_KEY


@pytest.fixture(autouse=True, scope="session")
def _flush_past_the_audit_triggers() -> Iterator[None]:
    """Transactional tests end with Django's flush, a TRUNCATE of every table, which the
    audit log's triggers refuse (migration 0009). The test run's superuser flushes with
    triggers off, as only a superuser can (`session_replication_role`); the triggers
    themselves are tested as a role that cannot do this (tests/transparency)."""
    from django.db.backends.postgresql.operations import DatabaseOperations

    original = DatabaseOperations.execute_sql_flush

    def execute_sql_flush(self: DatabaseOperations, sql_list: list[str]) -> None:
        return original(self, ["SET LOCAL session_replication_role = replica", *sql_list])

    DatabaseOperations.execute_sql_flush = execute_sql_flush  # type: ignore[method-assign]
    yield
    DatabaseOperations.execute_sql_flush = original  # type: ignore[method-assign]


@pytest.fixture(scope="session")
def emulator_server() -> Iterator[EmulatorServer]:
    server = EmulatorServer(api_keys=[EMULATOR_KEY], seed=1234)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def emulator(emulator_server: EmulatorServer, settings: Any) -> Iterator[Emulator]:
    """A clean emulator, configured as the service's namespace API for this test."""
    handle = Emulator(emulator_server)
    handle.control("reset", {})
    settings.NAMESPACE_API_URL = emulator_server.url
    settings.NAMESPACE_API_KEY = EMULATOR_KEY
    settings.NAMESPACE_API_FLAVOR = "cloud"
    yield handle
    handle.http.close()


@pytest.fixture(scope="session")
def onprem_server() -> Iterator[EmulatorServer]:
    server = EmulatorServer(flavor="onprem", seed=4321)
    server.start()
    yield server
    server.stop()


def onprem_api_settings(server: EmulatorServer) -> dict[str, dict[str, Any]]:
    """NAMESPACE_APIS with an on-prem API "onprem" served by `server` (on-prem takes no
    key), as config/namespace_apis.py parses it."""
    from config.namespace_apis import namespace_apis_parse

    return namespace_apis_parse(f'[onprem]\nurl = "{server.url}"\nflavor = "onprem"\n')


@pytest.fixture
def onprem(emulator: Emulator, onprem_server: EmulatorServer, settings: Any) -> Iterator[Emulator]:
    """A second namespace API, "onprem" (an on-prem emulator), next to the default cloud one."""
    handle = Emulator(onprem_server, key="")
    handle.control("reset", {})
    settings.NAMESPACE_APIS = onprem_api_settings(onprem_server)
    yield handle
    handle.http.close()


def make_api_client(name: str, *scopes: str) -> APIClient:
    _, raw = api_key_create(name=name, scopes=scopes, actor=Actor.system("test"))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


@pytest.fixture
def api_key_factory(db: None):
    return make_api_client


def database_url_of(database_name: str) -> str:
    """A URL of `database_name` on the server the tests use (TCP or a socket directory)."""
    from django.conf import settings

    db = settings.DATABASES["default"]
    auth = f"{db['USER']}:{db['PASSWORD']}"
    host = db["HOST"] or "localhost"
    if host.startswith("/"):
        return f"postgres://{auth}@/{database_name}?host={host}"
    return f"postgres://{auth}@{host}:{db['PORT'] or 5432}/{database_name}"


def worker_env(database_name: str, emulator: Emulator, **extra: str) -> dict[str, str]:
    """The environment of a worker process of the test database and emulator."""
    from django.conf import settings

    env = dict(os.environ)
    env.pop("ERASURE_FAILPOINTS", None)
    env.update(
        DATABASE_URL=database_url_of(database_name),
        NAMESPACE_API_URL=emulator.url,
        NAMESPACE_API_KEY=EMULATOR_KEY,
        NAMESPACE_API_FLAVOR="cloud",
        SECRET_KEY=settings.SECRET_KEY,
        SUBJECT_HASH_KEY=settings.SUBJECT_HASH_KEY,
        AUDIT_SIGNING_KEY=settings.AUDIT_SIGNING_KEY,
        ERASURE_RETRY_BASE_SECONDS="0.2",
    )
    env.update(extra)
    return env


def manage_py(*args: str, env: dict[str, str], timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def run_worker_once(database_name: str, emulator: Emulator, timeout: float = 120) -> str:
    """Run a real Procrastinate worker process until the queue is empty; return its output."""
    completed = manage_py(
        "procrastinate",
        "worker",
        "--one-shot",
        env=worker_env(database_name, emulator),
        timeout=timeout,
    )
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output
    return output


@pytest.fixture
def browser() -> Iterator[object]:
    """Debian's headless Chromium driven by Playwright (never a downloaded browser)."""
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the live server's database
    # work happens in its own thread, and ours here is plain setup between page steps.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()
        # With Playwright's loop running, Django keys connections to that context: close
        # the ones opened here, or they outlive the test and block dropping the test DB.
        from django.db import connections

        connections.close_all()
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


def tables_containing(needle: str) -> list[str]:
    """Every table.column whose text form contains `needle`: how the tests prove that no
    table keeps a raw subject key, an email or a provider's user id."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT table_name, column_name FROM information_schema.columns
            WHERE table_schema = 'public'
              AND data_type IN ('text', 'character varying', 'jsonb', 'json', 'ARRAY')
            """
        )
        found = []
        for table, column in cursor.fetchall():
            cursor.execute(
                f'SELECT count(*) FROM "{table}" WHERE "{column}"::text ILIKE %s',  # noqa: S608
                [f"%{needle}%"],
            )
            if cursor.fetchone()[0]:
                found.append(f"{table}.{column}")
    return found
