"""Helpers shared by the benchmarks: an emulator in its own process, timing, a table."""

from __future__ import annotations

import itertools
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg

ROOT = Path(__file__).resolve().parent.parent
KEY = "bench-key"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def emulator_process(*, flavor: str = "cloud", latency_ms: int = 0) -> Iterator[str]:
    """An emulator in its own process (so it does not share our GIL); yields its root URL."""
    port = free_port()
    code = (
        "from namespace_api.emulator import EmulatorServer; "
        f"EmulatorServer(port={port}, flavor={flavor!r}, api_keys=[{KEY!r}], "
        f"latency_ms={latency_ms}).serve_forever()"
    )
    process = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT)  # noqa: S603
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("the emulator did not start") from None
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def seed(root: str, namespaces: list[dict]) -> None:
    with httpx.Client(base_url=root, timeout=60) as http:
        http.post("/_emulator/reset").raise_for_status()
        http.post(
            "/_emulator/seed", json={"api_key": KEY, "namespaces": namespaces}
        ).raise_for_status()


def api_calls(root: str) -> int:
    with httpx.Client(base_url=root, timeout=60) as http:
        return len(http.get("/_emulator/calls").json()["calls"])


def api_calls_by_endpoint(root: str) -> dict[str, int]:
    """The emulator's calls so far, by the last part of their path (delete, get, ...)."""
    with httpx.Client(base_url=root, timeout=60) as http:
        calls = http.get("/_emulator/calls").json()["calls"]
    counts: dict[str, int] = {}
    for call in calls:
        tail = "/".join(call["path"].rstrip("/").split("/")[-2:])
        counts[tail] = counts.get(tail, 0) + 1
    return counts


def table(rows: list[tuple], headers: tuple) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows, strict=True)]
    line = lambda r: "  ".join(str(v).rjust(w) for v, w in zip(r, widths, strict=True))  # noqa: E731
    return "\n".join(
        [line(headers), line(tuple("-" * w for w in widths))] + [line(r) for r in rows]
    )


def fresh_database(name: str) -> str:
    """Drop and create the benchmark's own database on the server of DATABASE_URL (or
    127.0.0.1:5432); returns its URL."""
    base = os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/postgres"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")
    return urlunsplit(urlsplit(base)._replace(path=f"/{name}"))


def process_cpu_seconds(pids: list[int]) -> dict[int, float]:
    """User + system CPU seconds used so far by each live process (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    used = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        used[pid] = (int(fields[11]) + int(fields[12])) / tick
    return used


def children_of(pid: int) -> list[int]:
    """The direct children of a process (Linux /proc)."""
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(child) for child in text.split()]


def postgres_backends(database_url: str) -> list[int]:
    """The server processes of the other connections to the database of `database_url`
    (the server runs on this machine)."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    return [row[0] for row in rows]


def emulator_reset(root: str) -> None:
    """Back to the emulator's start-up state: no namespace, no call logged."""
    with httpx.Client(base_url=root, timeout=60) as http:
        http.post("/_emulator/reset").raise_for_status()


def seed_batches(
    root: str, *, namespace: dict, items: Iterable[dict], batch_size: int = 50_000
) -> int:
    """Add `items` to one namespace (`{"name", "type", "vector_dimension"?}`, created if
    missing; nothing is reset), `batch_size` items per seed call, so that neither this
    process nor one request body holds them all. Returns how many were sent."""
    sent = 0
    with httpx.Client(base_url=root, timeout=120) as http:
        for batch in itertools.batched(items, batch_size):
            body = {"api_key": KEY, "namespaces": [{**namespace, "items": list(batch)}]}
            http.post("/_emulator/seed", json=body).raise_for_status()
            sent += len(batch)
    return sent


def api_call_log(root: str) -> list[dict]:
    """The emulator's API calls since the last clear, oldest first (`{method, path, status,
    ids_count, fault}`; the emulator keeps the last 100,000)."""
    with httpx.Client(base_url=root, timeout=60) as http:
        return http.get("/_emulator/calls").json()["calls"]


def api_calls_clear(root: str) -> None:
    with httpx.Client(base_url=root, timeout=60) as http:
        http.post("/_emulator/calls/clear").raise_for_status()


def timed_threads(target: Callable[[], None], count: int) -> float:
    """Seconds from starting `count` threads running `target` until the last one ends."""
    threads = [threading.Thread(target=target) for _ in range(count)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started


def start_workers(count: int, concurrency: int, env: dict[str, str]) -> list[subprocess.Popen]:
    """`count` real worker processes of `concurrency` jobs each, up and listening when this
    returns (their stderr shown only with BENCH_WORKER_LOG_LEVEL set)."""
    workers = [
        subprocess.Popen(  # noqa: S603
            [sys.executable, "manage.py", "procrastinate", "worker", "-c", str(concurrency)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=None if os.environ.get("BENCH_WORKER_LOG_LEVEL") else subprocess.DEVNULL,
        )
        for _ in range(count)
    ]
    time.sleep(2)  # the workers are up and listening before the clock starts
    return workers


def statements(database_url: str, *, reset: bool, limit: int = 10) -> list[tuple]:
    """With --statements (pg_stat_statements loaded): the top statements by time since the
    last reset."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        if reset:
            conn.execute("SELECT pg_stat_statements_reset()")
            return []
        return conn.execute(
            "SELECT calls, round(total_exec_time)::int, shared_blks_hit, shared_blks_read,"
            " left(regexp_replace(query, '\\s+', ' ', 'g'), 80) FROM pg_stat_statements"
            " WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
            " ORDER BY total_exec_time DESC LIMIT %s",
            [limit],
        ).fetchall()
