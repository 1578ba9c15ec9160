"""`make run`: the whole service on one machine, from nothing but Python.

Starts, in order: the embedded PostgreSQL (when DATABASE_URL is unset), the namespace API
emulator (when NAMESPACE_API_URL is unset), migrations, the demo data, a Procrastinate
worker and the web server. Ctrl-C stops everything; data stays under .data/ for next time.
"""

from __future__ import annotations

import atexit
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("DATA_DIR", ROOT / ".data"))
PYTHON = sys.executable

sys.path.insert(0, str(ROOT))
from config.local_run import (  # noqa: E402 (needs ROOT on the path)
    remove_local_run_environment,
    write_local_run_environment,
)


def wait_for_port(host: str, port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"nothing answered on {host}:{port} after {timeout:.0f}s")


def keep_secret(path: Path, *, initial_from: Path | None = None) -> Path:
    """A secret kept in `path` (owner-only), made once and never changed."""
    if not path.exists():
        if initial_from is not None and initial_from.exists():
            value = initial_from.read_text().strip()
        else:
            value = secrets.token_urlsafe(50)
        path.touch(mode=0o600)
        path.write_text(value)
    return path


def keep_signing_key(path: Path) -> Path:
    """The audit log's signing key in `path` (owner-only), made once and never changed."""
    if not path.exists():
        from erasure.transparency.notes import Signer

        path.touch(mode=0o600)
        path.write_text(Signer.generate("localhost/erasure-audit").encode() + "\n")
    return path


def manage(*args: str, env: dict[str, str]) -> None:
    subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=env, check=True)


def main() -> None:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.setdefault("DEBUG", "true")
    secret_file = DATA_DIR / "secret_key"
    if not env.get("SECRET_KEY") and not env.get("SECRET_KEY_FILE"):
        env["SECRET_KEY_FILE"] = str(keep_secret(secret_file))
    if not env.get("SUBJECT_HASH_KEY") and not env.get("SUBJECT_HASH_KEY_FILE"):
        # Until SUBJECT_HASH_KEY had a file of its own, SECRET_KEY served as the hash key:
        # a demo database made then keeps its subjects by taking over that value.
        env["SUBJECT_HASH_KEY_FILE"] = str(
            keep_secret(DATA_DIR / "subject_hash_key", initial_from=secret_file)
        )

    if not env.get("AUDIT_SIGNING_KEY") and not env.get("AUDIT_SIGNING_KEY_FILE"):
        env["AUDIT_SIGNING_KEY_FILE"] = str(keep_signing_key(DATA_DIR / "audit_signing_key"))

    if not env.get("DATABASE_URL"):
        from config.embedded_postgres import database_url

        # This process holds the server; it stops when the last process using it exits.
        env["DATABASE_URL"] = database_url(DATA_DIR)
        print(f"Embedded PostgreSQL under {DATA_DIR / 'postgres'}", flush=True)

    children: list[subprocess.Popen[bytes]] = []

    def spawn(*args: str) -> subprocess.Popen[bytes]:
        child = subprocess.Popen([PYTHON, "manage.py", *args], cwd=ROOT, env=env)
        children.append(child)
        return child

    def stop(*_: object) -> None:
        for child in children:
            if child.poll() is None:
                child.terminate()
        for child in children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
        raise SystemExit(0)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)

    if not env.get("NAMESPACE_API_URL"):
        port = int(env.get("EMULATOR_PORT", "8765"))
        spawn("namespace_emulator", "--port", str(port))
        wait_for_port("127.0.0.1", port)
        env["NAMESPACE_API_URL"] = f"http://127.0.0.1:{port}/v1"
        env.setdefault("NAMESPACE_API_KEY", "emulator-key")

    # Commands typed in another shell use the same database, secrets and emulator.
    shared = dict(env) if os.environ.get("DATABASE_URL") else {**env, "DATABASE_URL": ""}
    write_local_run_environment(shared, directory=DATA_DIR)
    atexit.register(remove_local_run_environment, directory=DATA_DIR)
    manage("migrate", "--noinput", "-v", "0", env=env)
    manage("seed_demo", env=env)
    spawn("procrastinate", "worker", "--concurrency", env.get("WORKER_CONCURRENCY", "4"))
    web_port = int(env.get("PORT", "8000"))
    spawn("runserver", f"127.0.0.1:{web_port}", "--noreload")
    wait_for_port("127.0.0.1", web_port)
    print(
        "\n"
        f"  Admin:      http://127.0.0.1:{web_port}/admin/\n"
        "  Demo login: officer / demo-password  (files requests)\n"
        "              approver / demo-password (approves them: four-eyes)\n"
        "              auditor / demo-password  (reads and exports, changes nothing)\n"
        f"  API docs:   http://127.0.0.1:{web_port}/api/v1/docs/\n"
        "  Other shells: .venv/bin/python manage.py ... uses this database, secrets and\n"
        f"  emulator ({DATA_DIR / 'make-run.env'}).\n"
        "  Ctrl-C stops everything.\n",
        flush=True,
    )
    while True:
        for child in children:
            if child.poll() is not None:
                print(f"a process exited ({child.args[2]}); stopping", file=sys.stderr)
                stop()
        time.sleep(0.5)


if __name__ == "__main__":
    main()
