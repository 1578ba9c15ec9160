"""Mapping registration: rows per second through the API and the import command, next to
PostgreSQL's own COPY of the same rows.

    .venv/bin/python -m bench.mappings [--rows 1000000] [--api-rows 200000]
                                       [--subjects 100000] [--batch-size 10000]
                                       [--gunicorn-workers 2] [--api-clients 1]

Generates `--rows` CSV rows (`subject,namespace,item_id`, two namespaces, `--subjects`
distinct subjects) and measures, in the same run and on the same database server:

* the REST API: the first `--api-rows` rows, POSTed in calls of 10,000 items to a real
  server process (gunicorn, `config.wsgi`) by `--api-clients` client threads;
* `manage.py import_mappings FILE` (its own process, as an operator runs it), on empty
  tables, then again on the same file (every row a duplicate);
* raw COPY of the same CSV into a plain table of three text columns: no hashing, no
  subjects, no unique index, no transaction of ours: the floor of getting the rows into
  PostgreSQL at all (the ratios are against it); and the same COPY into a table with a
  unique index over the three columns, the least any idempotent store pays.

Each phase starts from empty mapping and subject tables. Uses a database of its own
(`erasure_bench_mappings`, recreated) on the server of DATABASE_URL, or on
127.0.0.1:5432; the namespace API is the emulator, in its own process.
"""

from __future__ import annotations

import argparse
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psycopg

from bench.common import KEY, ROOT, emulator_process, free_port, fresh_database, seed, table

BENCH_DB = "erasure_bench_mappings"
NAMESPACES = (("docs", "text"), ("vecs", "vector"))
API_BATCH = 10_000


def bench_database_url() -> str:
    return fresh_database(BENCH_DB)


def row(i: int, subjects: int) -> tuple[str, str, str]:
    name = NAMESPACES[i % len(NAMESPACES)][0]
    return f"bench|user-{i % subjects}", name, f"{name}-item-{i:09d}"


def write_csv(path: Path, rows: int, subjects: int) -> None:
    with path.open("w", encoding="utf-8") as fh:
        fh.write("subject,namespace,item_id\n")
        for i in range(rows):
            fh.write(",".join(row(i, subjects)) + "\n")


def empty_tables(database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        # The audit trail is append-only (triggers): a superuser empties it between runs.
        conn.execute("SET session_replication_role = replica")
        conn.execute(
            "TRUNCATE erasure_itemmapping, erasure_auditevent, erasure_audittreenode, "
            "erasure_auditcheckpoint, erasure_erasurerequest, erasure_subject CASCADE"
        )
        conn.execute("VACUUM ANALYZE erasure_itemmapping")
        conn.execute("VACUUM ANALYZE erasure_subject")


def mapping_count(database_url: str) -> int:
    with psycopg.connect(database_url) as conn:
        return conn.execute("SELECT count(*) FROM erasure_itemmapping").fetchone()[0]


def copy_floor(database_url: str, path: Path, *, unique: bool = False) -> float:
    """COPY the CSV file into a plain (logged) table of three text columns; with `unique`,
    the table has a unique index over them as the mapping table has (over its ids)."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_copy")
        conn.execute(
            "CREATE TABLE bench_copy (subject text, namespace text, item_id text"
            + (", UNIQUE (subject, namespace, item_id))" if unique else ")")
        )
        started = time.perf_counter()
        with (
            conn.cursor() as cursor,
            cursor.copy("COPY bench_copy FROM STDIN WITH (FORMAT csv, HEADER true)") as copy,
            path.open("rb") as fh,
        ):
            while block := fh.read(1 << 20):
                copy.write(block)
        elapsed = time.perf_counter() - started
        conn.execute("DROP TABLE bench_copy")
    return elapsed


def fair_floor(database_url: str) -> float:
    """The fair floor of an import: COPY of the rows it wrote (its subjects, then its
    mappings, with their ids) into tables with the same columns, indexes and constraints
    (unique key hash; the mapping table's unique and secondary indexes; its foreign keys,
    deferred and checked at commit as Django's are), in one transaction. Read from the
    tables the import just filled, so that the rows are the same."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        subjects = _copy_out(conn, "COPY erasure_subject (id, key_hash, created_at) TO STDOUT")
        mappings = _copy_out(
            conn,
            "COPY erasure_itemmapping (subject_id, namespace_id, item_id, registered_at, "
            "registered_by) TO STDOUT",
        )
        conn.execute("DROP TABLE IF EXISTS bench_fair_mapping, bench_fair_subject")
        conn.execute("CREATE TABLE bench_fair_subject (LIKE erasure_subject INCLUDING ALL)")
        conn.execute("CREATE TABLE bench_fair_mapping (LIKE erasure_itemmapping INCLUDING ALL)")
        conn.execute(
            "ALTER TABLE bench_fair_mapping "
            "ADD FOREIGN KEY (subject_id) REFERENCES bench_fair_subject (id) "
            "DEFERRABLE INITIALLY DEFERRED, "
            "ADD FOREIGN KEY (namespace_id) REFERENCES erasure_namespace (id) "
            "DEFERRABLE INITIALLY DEFERRED"
        )
        started = time.perf_counter()
        with conn.transaction(), conn.cursor() as cursor:
            with cursor.copy(
                "COPY bench_fair_subject (id, key_hash, created_at) FROM STDIN"
            ) as copy:
                copy.write(subjects)
            with cursor.copy(
                "COPY bench_fair_mapping (subject_id, namespace_id, item_id, registered_at, "
                "registered_by) FROM STDIN"
            ) as copy:
                copy.write(mappings)
        elapsed = time.perf_counter() - started
        conn.execute("DROP TABLE bench_fair_mapping, bench_fair_subject")
    return elapsed


def _copy_out(conn: psycopg.Connection, sql: str) -> bytes:
    with conn.cursor() as cursor, cursor.copy(sql) as copy:
        return b"".join(bytes(block) for block in copy)


def run_import(env: dict[str, str], path: Path, batch_size: int) -> tuple[float, str, int]:
    """The command in its own process; returns wall seconds, its summary, peak RSS (KiB)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    completed = subprocess.run(  # noqa: S603
        [
            sys.executable,
            "manage.py",
            "import_mappings",
            str(path),
            "--batch-size",
            str(batch_size),
            "--no-progress",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if completed.returncode != 0:
        raise RuntimeError(f"import_mappings failed: {completed.stderr}")
    # ru_maxrss of children is the largest of any child so far: reported only if it grew.
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return elapsed, completed.stdout.strip(), peak if peak > before else before


def api_key(env: dict[str, str]) -> str:
    completed = subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", "create_api_key", "bench", "--scope", "mappings:write"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return completed.stdout.strip().splitlines()[-1]


def gunicorn(env: dict[str, str], workers: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen(  # noqa: S603
        [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--timeout",
            "300",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.terminate()
                raise RuntimeError("gunicorn did not start") from None
            time.sleep(0.1)
    return process, f"http://127.0.0.1:{port}"


def run_api(url: str, key: str, rows: int, subjects: int, clients: int) -> float:
    batches = [
        [
            dict(zip(("subject", "namespace", "item_id"), row(i, subjects), strict=True))
            for i in range(start, min(start + API_BATCH, rows))
        ]
        for start in range(0, rows, API_BATCH)
    ]
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        list(pool.map(lambda items: post(url, key, items), batches))
    return time.perf_counter() - started


def api_latency(url: str, key: str, *, calls: int, size: int, subjects: int) -> list[float]:
    """Seconds of each of `calls` calls of `size` new items, one after the other."""
    headers = {"Authorization": f"Bearer {key}"}
    times = []
    with httpx.Client(base_url=url, timeout=300, headers=headers) as http:
        for n in range(calls):
            items = [
                {
                    "subject": f"bench|user-{i % subjects}",
                    "namespace": "docs",
                    "item_id": f"lat-{n}-{i}",
                }
                for i in range(size)
            ]
            started = time.perf_counter()
            response = http.post("/api/v1/mappings", json={"items": items})
            times.append(time.perf_counter() - started)
            response.raise_for_status()
    return times


def post(url: str, key: str, items: list[dict[str, str]]) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=url, timeout=300, headers=headers) as http:
        response = http.post("/api/v1/mappings", json={"items": items})
    response.raise_for_status()
    if response.json()["created"] != len(items):
        raise RuntimeError(f"unexpected answer {response.json()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--api-rows", type=int, default=200_000)
    parser.add_argument("--subjects", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=10_000, help="import batch size")
    parser.add_argument("--gunicorn-workers", type=int, default=2)
    parser.add_argument("--api-clients", type=int, default=1, help="client threads")
    parser.add_argument(
        "--latency-calls", type=int, default=200, help="1,000-item calls timed one by one"
    )
    args = parser.parse_args()
    database_url = bench_database_url()
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url,
        SECRET_KEY=os.environ.get("SECRET_KEY", "bench-secret"),
        SUBJECT_HASH_KEY=os.environ.get("SUBJECT_HASH_KEY", "bench-subject-hash-key"),
        DJANGO_SETTINGS_MODULE="config.settings",
        LOG_LEVEL="WARNING",
        DEBUG="false",
    )
    subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True
    )
    results = []
    with emulator_process() as root, tempfile.TemporaryDirectory() as tmp:
        seed(
            root,
            [
                {"name": n, "type": k, "items": [], "vector_dimension": 2}
                if k == "vector"
                else {"name": n, "type": k, "items": []}
                for n, k in NAMESPACES
            ],
        )
        env.update(NAMESPACE_API_URL=f"{root}/v1", NAMESPACE_API_KEY=KEY)
        path = Path(tmp) / "mappings.csv"
        write_csv(path, args.rows, args.subjects)
        print(f"{args.rows:,} rows, {args.subjects:,} subjects: {path.stat().st_size / 1e6:.0f} MB")

        key = api_key(env)
        server, url = gunicorn(env, args.gunicorn_workers)
        try:
            # One untimed call first: the workers' first connection, and the namespaces
            # learnt from the API's list (the import then finds them known).
            post(
                url,
                key,
                [{"subject": "warm-up", "namespace": n, "item_id": "w"} for n, _ in NAMESPACES],
            )
            empty_tables(database_url)
            api_s = run_api(url, key, args.api_rows, args.subjects, args.api_clients)
            latencies = sorted(
                api_latency(url, key, calls=args.latency_calls, size=1000, subjects=args.subjects)
            )
        finally:
            server.terminate()
            server.wait(timeout=30)
        if mapping_count(database_url) != args.api_rows + args.latency_calls * 1000:
            raise RuntimeError("the API did not register every row")
        results.append(("API, 10,000 per call", args.api_rows, api_s))

        empty_tables(database_url)
        import_s, summary, peak_kib = run_import(env, path, args.batch_size)
        print(f"import: {summary}; peak RSS of the command {peak_kib / 1024:.0f} MiB")
        results.append(("import_mappings (new rows)", args.rows, import_s))
        fair_s = fair_floor(database_url)
        again_s, summary, _ = run_import(env, path, args.batch_size)
        print(f"re-import: {summary}")
        results.append(("import_mappings (all duplicates)", args.rows, again_s))

        copy_s = copy_floor(database_url, path)
        results.append(("COPY into a plain table", args.rows, copy_s))
        unique_s = copy_floor(database_url, path, unique=True)
        results.append(("COPY, with a unique index", args.rows, unique_s))
        results.append(("COPY of the same rows, same indexes and keys", args.rows, fair_s))

    copy_rate = args.rows / copy_s
    rows = [
        (
            what,
            f"{n:,}",
            f"{seconds:.2f}",
            f"{n / seconds:,.0f}",
            f"{copy_rate / (n / seconds):.1f}x",
        )
        for what, n, seconds in results
    ]
    print()
    print(table(rows, ("path", "rows", "seconds", "rows/s", "slower than COPY")))
    fair_rate = args.rows / fair_s
    print()
    print("Against the fair floor (COPY of the same subject and mapping rows into tables with")
    print("the same indexes and constraints):")
    for what, n, seconds in results[:3]:
        print(f"  {what}: {n / seconds / fair_rate:.1%} of the floor's rows/s")
    p50 = latencies[len(latencies) // 2]
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    print(
        f"POST /api/v1/mappings, 1,000 new items a call, {len(latencies)} calls one by one: "
        f"p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main()
