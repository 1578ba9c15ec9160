"""The production start of the README, run as written: a fresh database on the machine's
PostgreSQL, `migrate`, `collectstatic`, `check --deploy`, the one-time set-up, gunicorn
and a worker, with DEBUG off and the documented environment (HTTPS behind a TLS proxy).

Then Chromium, as through the proxy (X-Forwarded-Proto: https), signs in to the admin:
styled by WhiteNoise's hashed, compressed files, under the Content-Security-Policy with no
violation on the admin, the dashboard, a request's page and its certificate. An erasure
filed and approved over the API completes on the way.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from django.conf import settings

from tests.conftest import EMULATOR_KEY, ROOT, Emulator, database_url_of

pytestmark = pytest.mark.django_db(transaction=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _admin_connection() -> psycopg.Connection:
    return psycopg.connect(database_url_of("postgres"), autocommit=True)


@pytest.fixture
def production(tmp_path: Path, emulator: Emulator) -> Iterator[dict]:
    """The documented production environment, on a database of its own."""
    name = f"erasure_prod_{secrets.token_hex(4)}"
    with _admin_connection() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    secrets_dir = tmp_path / "secrets"
    secrets_dir.mkdir()
    for secret in ("secret_key", "subject_hash_key"):
        (secrets_dir / secret).write_text(secrets.token_urlsafe(48))
    port = _free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("ERASURE_", "NAMESPACE_API_", "AUDIT_", "DJANGO_"))
    }
    env.pop("SECRET_KEY", None)
    env.pop("SUBJECT_HASH_KEY", None)
    env.update(
        DEBUG="false",
        DATA_DIR=str(tmp_path / "data"),  # no make-run.env to borrow from
        DATABASE_URL=database_url_of(name),
        SECRET_KEY_FILE=str(secrets_dir / "secret_key"),
        SUBJECT_HASH_KEY_FILE=str(secrets_dir / "subject_hash_key"),
        AUDIT_SIGNING_KEY_FILE=str(secrets_dir / "audit_signing_key"),
        NAMESPACE_API_URL=emulator.url,
        NAMESPACE_API_KEY=EMULATOR_KEY,
        ALLOWED_HOSTS="127.0.0.1",
        # The browser here speaks plain HTTP to gunicorn, as if through the proxy: its
        # Origin is http://, where behind a real proxy it is the public https:// one.
        CSRF_TRUSTED_ORIGINS=f"http://127.0.0.1:{port}",
        BEHIND_TLS_PROXY="true",
        HTTPS="true",
        SECURE_HSTS_INCLUDE_SUBDOMAINS="true",
        SECURE_HSTS_PRELOAD="true",
        STATIC_ROOT=str(tmp_path / "static"),
        WEB_CONCURRENCY="2",
        METRICS_TOKEN="metrics-token-for-the-test",
        HOST="127.0.0.1",
        PORT=str(port),
        DJANGO_SUPERUSER_USERNAME="root",
        DJANGO_SUPERUSER_EMAIL="root@example.com",
        DJANGO_SUPERUSER_PASSWORD=secrets.token_urlsafe(12),
    )
    processes: list[subprocess.Popen] = []
    try:
        yield {"env": env, "port": port, "processes": processes, "database": name}
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
            if process.stdout:
                process.stdout.close()
        with _admin_connection() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run(env: dict, *args: str) -> str:
    done = subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, f"{args}: {done.stdout}\n{done.stderr}"
    return done.stdout


def wait_for_port(port: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stdout.read() if process.stdout else ""
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("gunicorn did not start")


def test_the_documented_production_start_serves_a_styled_admin_under_its_csp(
    production, browser, emulator
):
    env, port = production["env"], production["port"]
    # Once, before the first start: the audit log's signing key (its file named by the
    # environment does not exist yet).
    without_key = {k: v for k, v in env.items() if k != "AUDIT_SIGNING_KEY_FILE"}
    run(
        without_key,
        "audit_log",
        "new-key",
        "erasure.example.com/audit",
        "--out",
        env["AUDIT_SIGNING_KEY_FILE"],
    )
    # The release commands, and the rest of the one-time set-up.
    run(env, "migrate", "--noinput")
    run(env, "collectstatic", "--noinput")
    assert "System check identified no issues" in run(env, "check", "--deploy")
    run(env, "createsuperuser", "--noinput")
    filer = run(
        env, "create_api_key", "filer", "--scope", "requests:write", "--scope", "mappings:write"
    ).split()[-1]
    approver = run(env, "create_api_key", "approver", "--scope", "requests:approve").split()[-1]

    web = subprocess.Popen(  # noqa: S603
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "-c",
            "config/gunicorn.conf.py",
            "config.wsgi",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    production["processes"].append(web)
    worker = subprocess.Popen(  # noqa: S603
        [sys.executable, "manage.py", "procrastinate", "worker", "--concurrency", "2"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    production["processes"].append(worker)
    wait_for_port(port, web)
    base = f"http://127.0.0.1:{port}"
    proxy = {"X-Forwarded-Proto": "https"}

    # Plain HTTP is sent to HTTPS; through the proxy, HSTS and the policy are on.
    with httpx.Client(base_url=base, timeout=10) as http:
        assert http.get("/admin/login/").status_code == 301
        login = http.get("/admin/login/", headers=proxy)
        assert login.status_code == 200
        assert login.headers["strict-transport-security"].startswith("max-age=31536000")
        policy = login.headers["content-security-policy"]
        assert "script-src 'self' 'nonce-" in policy and "frame-ancestors 'none'" in policy

        # An erasure over the API, carried out by the worker.
        emulator.seed([{"name": "notes", "type": "text", "items": [{"id": "n1", "text": "t"}]}])
        http.headers.update(proxy)
        mapped = http.post(
            "/api/v1/mappings",
            json={"items": [{"subject": "user-1", "namespace": "notes", "item_id": "n1"}]},
            headers={"Authorization": f"Bearer {filer}"},
        )
        assert mapped.status_code == 200, mapped.text
        filed = http.post(
            "/api/v1/requests",
            json={"subject": "user-1"},
            headers={"Authorization": f"Bearer {filer}"},
        )
        request_id = filed.json()["id"]
        approved = http.post(
            f"/api/v1/requests/{request_id}/approve",
            headers={"Authorization": f"Bearer {approver}"},
        )
        assert approved.status_code == 200, approved.text
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            status = http.get(
                f"/api/v1/requests/{request_id}", headers={"Authorization": f"Bearer {filer}"}
            ).json()["status"]
            if status == "completed":
                break
            time.sleep(0.5)
        assert status == "completed"
        assert "n1" not in emulator.ids("notes")

        # /metrics shows it, whichever of the two gunicorn workers answers.
        assert http.get("/metrics").status_code == 403
        scrapes = [
            http.get(
                "/metrics", headers={"Authorization": "Bearer metrics-token-for-the-test"}
            ).text
            for _ in range(6)
        ]
        for text in scrapes:
            assert 'erasure_requests{status="completed"} 1.0' in text
            assert 'erasure_items{outcome="deleted"} 1.0' in text

    context = browser.new_context(extra_http_headers=proxy)
    page = context.new_page()
    violations: list[str] = []
    page.on(
        "console",
        lambda message: (
            violations.append(f"{page.url}: {message.text}")
            if "Content Security Policy" in message.text
            else None
        ),
    )
    static: list[tuple[str, int, dict]] = []
    page.on(
        "response",
        lambda response: (
            static.append((response.url, response.status, response.headers))
            if "/static/" in response.url
            else None
        ),
    )
    page.goto(f"{base}/admin/login/")
    page.fill("#id_username", "root")
    page.fill("#id_password", env["DJANGO_SUPERUSER_PASSWORD"])
    page.click("input[type=submit]")
    page.wait_for_url(f"{base}/admin/")
    # Styled: the admin's stylesheet applied (its header colour, not the browser's default).
    header = page.evaluate(
        "() => getComputedStyle(document.querySelector('#header')).backgroundColor"
    )
    assert header not in ("rgba(0, 0, 0, 0)", "transparent")
    for path in (
        "/admin/dashboard/",
        f"/admin/erasure/erasurerequest/{request_id}/change/",
        f"/admin/erasure/erasurerequest/{request_id}/certificate/?format=html",
        "/api/v1/docs/",
    ):
        response = page.goto(f"{base}{path}")
        assert response is not None and response.status == 200, path
        page.wait_for_load_state("networkidle")
    assert page.locator(".swagger-ui").count() == 1  # the API docs ran their script
    assert violations == []
    # Hashed names, compressed, cached for a year.
    css = [s for s in static if "/static/admin/css/base." in s[0]]
    assert css and css[0][1] == 200
    url, _, headers = css[0]
    assert url.rsplit("/", 1)[-1].count(".") == 2  # base.<hash>.css
    assert "max-age=315360000" in headers.get("cache-control", "")
    assert headers.get("content-encoding") in ("br", "gzip")
    assert settings.SECURE_CSP  # the same policy the tests' own pages run under
