"""Execution engine: 100,000 items of one subject, approval to completion.

    .venv/bin/python -m bench.execution [--items 100000] [--latency-ms 20,100] [--workers 2]
                                        [--concurrency 4] [--in-flight 4]
                                        [--modes default,fast] [--statements] [--repeat 1]

Seeds the emulator (its own process, fixed latency per call) with the items across four
namespaces (two text, two vector), registers their mappings, files and approves a request,
starts real worker processes, and measures until the request completes. Reports, in the
same run:

* calls made / the floor (ceil(n/1000) per namespace in `fast` and `adaptive`, the text
  default; the exact-mode count for text namespaces in `exact`: ceil(n/100) checks +
  ceil(n/1000) deletes);
* wall time / (calls x latency / concurrency): 1.0 means the API latency is all there is;
* our time (wall minus the calls' share of latency at that concurrency) spent in our code
  and the database;
* wall time / the API alone: the same calls made by bare HTTP, as many in flight, recording
  nothing (the latency floor as measured: the emulator's work per call included);
* the naive baseline on the same emulator: the official moorcheh-sdk deleting 1,000 IDs per
  call, one call at a time, recording nothing.

With `--repeat N` each latency and mode runs N times: the table shows the run of median
wall time (and the spread of all N), since one run on a shared 2-core machine can vary by
half. PostgreSQL's CPU is the median of the N runs' (it varies by a fifth between runs of
the same work), against the floor's median of three; and, since the machine's speed
drifts within minutes, each run's CPU over a floor measured right after it, whose median
is shown too. The run's CPU is also shown by
PostgreSQL process (connections, WAL writer, checkpointer, autovacuum, ...), with the WAL
it wrote.

Uses a database of its own (`erasure_bench`, recreated) on the server of DATABASE_URL, or on
127.0.0.1:5432. BENCH_WORKER_LOG_LEVEL=DEBUG shows each batch's claim/call/record times.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import subprocess
import sys
import time
from collections import Counter

import psutil
import psycopg

from bench.common import (
    KEY,
    ROOT,
    api_calls,
    api_calls_by_endpoint,
    api_calls_clear,
    emulator_process,
    fresh_database,
    seed,
    start_workers,
    statements,
    table,
    timed_threads,
)

BENCH_DB = "erasure_bench"
SUBJECT = "bench|subject-1"
NAMESPACES = (("docs-a", "text"), ("docs-b", "text"), ("vecs-a", "vector"), ("vecs-b", "vector"))


def bench_database_url() -> str:
    return fresh_database(BENCH_DB)


def seed_namespaces(root: str, per_ns: int) -> None:
    """The emulator holds `per_ns` items in each of the four namespaces (and nothing else)."""
    namespaces = []
    for name, kind in NAMESPACES:
        item = (
            (lambda i: {"id": i, "text": "t"})
            if kind == "text"
            else (lambda i: {"id": i, "vector": [0.1, 0.2]})
        )
        entry = {"name": name, "type": kind, "items": [item(f"{name}-{n}") for n in range(per_ns)]}
        if kind == "vector":
            entry["vector_dimension"] = 2
        namespaces.append(entry)
    seed(root, namespaces)


def api_floor(root: str, n: int, in_flight: int) -> tuple[float, int]:
    """(seconds, calls) of the API alone: the same items deleted in batches of 1,000 by
    bare HTTP calls, `in_flight` at a time (a thread each, taking the next batch as its
    call returns), recording nothing. The latency floor as measured, the emulator's own
    work per call and HTTP included."""
    import queue

    per_ns = n // len(NAMESPACES)
    seed_namespaces(root, per_ns)
    api_calls_clear(root)
    batches: queue.SimpleQueue = queue.SimpleQueue()
    for name, kind in NAMESPACES:
        path = f"/v1/namespaces/{name}/{'documents' if kind == 'text' else 'vectors'}/delete"
        for start in range(0, per_ns, 1000):
            ids = [f"{name}-{i}" for i in range(start, min(start + 1000, per_ns))]
            batches.put((path, ids))
    failures: list[str] = []

    def send() -> None:
        with httpx_client(root) as http:
            while True:
                try:
                    path, ids = batches.get_nowait()
                except queue.Empty:
                    return
                answer = http.post(path, json={"ids": ids}, headers={"x-api-key": KEY})
                if answer.status_code != 200:
                    failures.append(f"{path}: {answer.status_code}")

    elapsed = timed_threads(send, in_flight)
    if failures:
        raise RuntimeError(f"the API floor's calls failed: {failures[:3]}")
    return elapsed, api_calls(root)


def run_engine(args, root: str, database_url: str, *, modes_name: str) -> dict:
    import django
    from django.conf import settings

    per_ns = args.items // len(NAMESPACES)
    seed_namespaces(root, per_ns)

    os.environ["NAMESPACE_API_URL"] = f"{root}/v1"
    os.environ["NAMESPACE_API_KEY"] = KEY
    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import connection

    from erasure.actors import Actor
    from erasure.models import ErasureRequest, Namespace
    from erasure.services.mappings import MappingInput, mappings_register
    from erasure.services.requests import request_approve, request_file

    with connection.cursor() as cursor:
        # The audit trail is append-only (triggers): a superuser empties it between runs.
        cursor.execute("SET session_replication_role = replica")
        cursor.execute(
            "TRUNCATE erasure_erasureitem, erasure_dispatch, erasure_itemmapping, "
            "erasure_auditevent, erasure_audittreenode, erasure_auditcheckpoint, "
            "erasure_erasurerequest, erasure_subject, "
            "procrastinate_jobs CASCADE"
        )
        cursor.execute("RESET session_replication_role")
    mappings = [
        MappingInput(SUBJECT, name, f"{name}-{n}") for name, _ in NAMESPACES for n in range(per_ns)
    ]
    for start in range(0, len(mappings), 10_000):
        mappings_register(items=mappings[start : start + 10_000], actor=Actor.system("bench"))
    # Each run starts from the modes its name says (an earlier run may have changed them).
    for namespace in Namespace.objects.all():
        namespace.attribution_mode = {
            "default": Namespace.default_mode(namespace.kind),
            "fast": "fast",
            "exact": "exact" if namespace.kind == "text" else "fast",
        }[modes_name]
        namespace.save(update_fields=["attribution_mode"])
    modes = dict(Namespace.objects.values_list("name", "attribution_mode"))
    users = get_user_model().objects
    filer = users.get_or_create(username="bench-filer")[0]
    approver = users.get_or_create(username="bench-approver")[0]
    request = request_file(subject_key=SUBJECT, actor=Actor.for_user(filer), source="admin")

    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url,
        NAMESPACE_API_URL=f"{root}/v1",
        NAMESPACE_API_KEY=KEY,
        ERASURE_JOBS_PER_REQUEST=str(args.workers * args.concurrency),
        NAMESPACE_API_MAX_IN_FLIGHT=str(args.in_flight),
        SECRET_KEY=settings.SECRET_KEY,
        SUBJECT_HASH_KEY=settings.SUBJECT_HASH_KEY,
        LOG_LEVEL=os.environ.get("BENCH_WORKER_LOG_LEVEL", "WARNING"),
        # No periodic coverage scan reads the namespaces meanwhile (bench.scans measures
        # those): every call counted here is the erasure's.
        ERASURE_SCAN_INTERVAL_HOURS="0",
    )
    # The setup's writes are vacuumed before the clock starts: autovacuum catching up on
    # the registration would otherwise run (and be counted) during the erasure.
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE)")
    workers = start_workers(args.workers, args.concurrency, env)
    with httpx_client(root) as http:
        http.post("/_emulator/calls/clear").raise_for_status()
    settings.ERASURE_JOBS_PER_REQUEST = args.workers * args.concurrency
    workers_cpu_before = sum(_cpu(psutil.Process(w.pid)) for w in workers)
    postgres_cpu_before = _postgres_cpu()
    wal_before = _wal_lsn(database_url)
    emulator_cpu_before = _cpu(emulator_proc())
    if args.statements:
        statements(database_url, reset=True)
    started = time.perf_counter()
    request_approve(request=request.request, actor=Actor.for_user(approver))
    approved = time.perf_counter() - started
    # The poll is the harness's own statement, counted with PostgreSQL's CPU: prepared, it
    # costs a fifth of what the ORM's query did (parsed and planned at every poll).
    from erasure.prepared import prepared_cursor

    while True:
        with prepared_cursor() as cursor:
            cursor.execute(
                "SELECT status FROM erasure_erasurerequest WHERE id = %s", [request.request.pk]
            )
            status = cursor.fetchone()[0]
        if status not in ("approved", "running"):
            break
        time.sleep(0.02)
    wall = time.perf_counter() - started
    postgres_by_kind = _postgres_cpu() - postgres_cpu_before
    wal_bytes = _wal_lsn(database_url) - wal_before
    cpu = {
        "workers": sum(_cpu(psutil.Process(w.pid)) for w in workers) - workers_cpu_before,
        "postgres": sum(postgres_by_kind.values()),
        "emulator": _cpu(emulator_proc()) - emulator_cpu_before,
    }
    top = statements(database_url, reset=False, limit=25) if args.statements else []
    for worker in workers:
        worker.terminate()
    for worker in workers:
        worker.wait(timeout=30)
    calls = api_calls(root)
    by_endpoint = api_calls_by_endpoint(root)
    floor = 0
    for name, kind in NAMESPACES:
        floor += math.ceil(per_ns / 1000)
        if kind == "text" and modes[name] == "exact":
            floor += math.ceil(per_ns / 100)
    counts = dict(
        ErasureRequest.objects.get(pk=request.request.pk)
        .items.values_list("outcome")
        .annotate(n=django.db.models.Count("id"))
    )
    from django.db.models import Max, Min

    from erasure.models import Dispatch

    done = ErasureRequest.objects.get(pk=request.request.pk)
    span = Dispatch.objects.filter(request=done).aggregate(
        first=Min("created_at"), last=Max("created_at")
    )
    phases = {
        "approve (expand items, defer jobs)": approved,
        "approved -> first dispatch recorded": (span["first"] - done.approved_at).total_seconds(),
        "first -> last dispatch recorded": (span["last"] - span["first"]).total_seconds(),
        "last dispatch -> completed": (done.completed_at - span["last"]).total_seconds(),
    }
    return {
        "status": status,
        "wall": wall,
        "calls": calls,
        "by_endpoint": by_endpoint,
        "floor": floor,
        "counts": counts,
        "phases": phases,
        "cpu": cpu,
        "postgres_by_kind": postgres_by_kind,
        "wal_bytes": wal_bytes,
        "statements": top,
    }


def run_beside_floor(args, root: str, database_url: str, *, modes_name: str) -> dict:
    """One run, then the floor of PostgreSQL alone measured right after it (`db_floor`):
    this machine's speed drifts by a third within minutes, so a run's CPU is also compared
    with a floor measured beside it, not only with the one measured at the end."""
    run = run_engine(args, root, database_url, modes_name=modes_name)
    run["db_floor"] = database_floor(database_url, args.items, logged=True)
    return run


def _cpu(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def _postgres_cpu() -> Counter:
    """CPU seconds of every PostgreSQL process so far, by kind: the live ones under their
    title (`walwriter`, `checkpointer`, `autovacuum worker`, ...; every connection is a
    `backend`), and, through each postmaster's children times, the processes that have
    exited (`exited`: mostly the backends of jobs that ended, whose connection closes with
    them; an autovacuum worker too once it is done)."""
    total: Counter = Counter()
    for process in psutil.process_iter(["name", "ppid", "cmdline"]):
        if not (process.info["name"] or "").startswith("postgres"):
            continue
        try:
            times = process.cpu_times()
            parent = psutil.Process(process.info["ppid"]).name()
        except psutil.NoSuchProcess:
            continue
        if not parent.startswith("postgres"):  # a postmaster: its reaped children
            total["exited"] += times.children_user + times.children_system
            kind = "postmaster"
        else:
            kind = _process_kind(" ".join(process.info["cmdline"] or []))
        total[kind] += times.user + times.system
    return total


def _process_kind(title: str) -> str:
    """`postgres: walwriter` → walwriter; `postgres: postgres bench 127.0.0.1(5000) idle`
    (a connection) → backend."""
    name = title.removeprefix("postgres: ").strip()
    for kind in (
        "checkpointer",
        "background writer",
        "walwriter",
        "autovacuum launcher",
        "autovacuum worker",
        "logical replication launcher",
        "stats collector",
    ):
        if name.startswith(kind):
            return kind
    return "backend"


def _wal_lsn(database_url: str) -> int:
    with psycopg.connect(database_url, autocommit=True) as conn:
        return conn.execute("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn").fetchone()[0]


def emulator_proc() -> psutil.Process:
    me = psutil.Process()
    for child in me.children():
        if "EmulatorServer" in " ".join(child.cmdline()):
            return child
    raise RuntimeError("no emulator process")


def httpx_client(root: str):
    import httpx

    return httpx.Client(base_url=root, timeout=60)


def naive_sdk_loop(root: str, n: int) -> tuple[float, int]:
    """The official SDK, 1,000 IDs per call, one call at a time, recording nothing."""
    from moorcheh_sdk import MoorchehClient

    ids = [f"vecs-a-{i}" for i in range(n)]
    seed(
        root,
        [
            {
                "name": "vecs-a",
                "type": "vector",
                "vector_dimension": 2,
                "items": [{"id": i, "vector": [0.1, 0.2]} for i in ids],
            }
        ],
    )
    with httpx_client(root) as http:
        http.post("/_emulator/calls/clear").raise_for_status()
    client = MoorchehClient(api_key=KEY, base_url=f"{root}/v1")
    started = time.perf_counter()
    for start in range(0, n, 1000):
        client.vectors.delete(namespace_name="vecs-a", ids=ids[start : start + 1000])
    elapsed = time.perf_counter() - started
    client.close()
    return elapsed, api_calls(root)


def database_floor(database_url: str, n: int, *, logged: bool) -> float:
    """PostgreSQL alone: insert n item rows, then write their outcomes in 1,000-row
    UPDATEs by primary key (one session, a copy of the item table with its indexes: no
    locks, no claims, no dispatch or audit rows). What any engine that records one row per
    item pays at least, on this machine. `logged=False` leaves out the WAL too (an UNLOGGED
    table, which a crash empties: no engine that must not lose data can use one)."""
    # With the JIT off, as the service's own connections have it (config.settings).
    with psycopg.connect(database_url, autocommit=True, options="-c jit=off") as conn:
        conn.execute("DROP TABLE IF EXISTS bench_floor")
        kind = "" if logged else "UNLOGGED"
        conn.execute(f"CREATE {kind} TABLE bench_floor (LIKE erasure_erasureitem INCLUDING ALL)")
        # The item table's storage parameters too (its fillfactor).
        options = conn.execute(
            "SELECT coalesce(array_to_string(reloptions, ', '), '') FROM pg_class "
            "WHERE relname = 'erasure_erasureitem'"
        ).fetchone()[0]
        if options:
            conn.execute(f"ALTER TABLE bench_floor SET ({options})")
        request = conn.execute("SELECT gen_random_uuid()").fetchone()[0]
        started = time.perf_counter()
        conn.execute(
            """
            INSERT INTO bench_floor (request_id, namespace_id, item_id, outcome, attempts,
                                     last_error, lease_owner, seen_present, maybe_applied)
            SELECT %s, g / 25000, 'item-' || g, 'pending', 0, '', '', false, false
            FROM generate_series(0, %s - 1) g
            """,
            [request, n],
        )
        first = conn.execute("SELECT min(id) FROM bench_floor").fetchone()[0]
        for start in range(first, first + n, 1000):
            conn.execute(
                "UPDATE bench_floor SET outcome = 'deleted', decided_at = now(), "
                "last_http_status = 200 WHERE id = ANY(%s)",
                [list(range(start, min(start + 1000, first + n)))],
            )
        elapsed = time.perf_counter() - started
        conn.execute("DROP TABLE bench_floor")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument(
        "--latency-ms", default="20,100", help="fixed latency per call; several: one run each"
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=4, help="jobs per worker process")
    parser.add_argument("--in-flight", type=int, default=4, help="API calls in flight, in all")
    parser.add_argument(
        "--modes",
        default="default,fast",
        help="default (text adaptive, vectors fast), fast, exact (text exact, vectors fast)",
    )
    parser.add_argument(
        "--statements",
        action="store_true",
        help="print each run's top statements (needs pg_stat_statements preloaded)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="runs per latency and mode; the median run's figures are shown",
    )
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    database_url = bench_database_url()
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("SECRET_KEY", "bench-secret")
    os.environ.setdefault("SUBJECT_HASH_KEY", "bench-subject-hash-key")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ["LOG_LEVEL"] = "WARNING"
    subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", "migrate", "-v", "0"],
        cwd=ROOT,
        env=dict(os.environ),
        check=True,
    )
    concurrency = args.in_flight
    rows = []
    results = []
    naive = {}
    measured: dict[int, tuple[float, int]] = {}
    for latency_ms in [int(x) for x in args.latency_ms.split(",")]:
        latency = latency_ms / 1000
        with emulator_process(latency_ms=latency_ms) as root:
            for mode in args.modes.split(","):
                runs = sorted(
                    (
                        run_beside_floor(args, root, database_url, modes_name=mode)
                        for _ in range(args.repeat)
                    ),
                    key=lambda run: run["wall"],
                )
                result = runs[len(runs) // 2]
                # The PostgreSQL CPU of every run: its median is the figure compared with
                # the floor (itself a median of three), not the CPU of the median-wall run;
                # and each run's CPU over the floor measured right after it.
                result["postgres_runs"] = sorted(run["cpu"]["postgres"] for run in runs)
                result["postgres_ratios"] = sorted(
                    run["cpu"]["postgres"] / run["db_floor"] for run in runs
                )
                results.append(result)
                if len(runs) > 1:
                    print(
                        f"[{latency_ms} ms, {mode}] wall of {len(runs)} runs: "
                        + ", ".join(f"{run['wall']:.2f}" for run in runs)
                        + " s (the median run below); PostgreSQL CPU "
                        + ", ".join(f"{run['cpu']['postgres']:.2f}" for run in runs)
                        + " s",
                        flush=True,
                    )
                floor_time = result["calls"] * latency / concurrency
                ours = max(result["wall"] - floor_time, 0)
                rows.append(
                    (
                        latency_ms,
                        mode,
                        args.items,
                        result["status"],
                        result["calls"],
                        result["floor"],
                        f"{result['calls'] / result['floor']:.2f}",
                        f"{result['wall']:.2f}",
                        f"{floor_time:.2f}",
                        f"{result['wall'] / floor_time:.2f}",
                        f"{ours:.2f}",
                    )
                )
                print(f"[{latency_ms} ms, {mode}] outcomes: {result['counts']}", flush=True)
                print(f"    calls by endpoint: {result['by_endpoint']}")
                for phase, seconds in result["phases"].items():
                    print(f"    {phase}: {seconds:.2f} s")
                print(
                    "    CPU seconds during the run: "
                    + ", ".join(f"{k} {v:.2f}" for k, v in result["cpu"].items())
                )
                print(
                    "    PostgreSQL CPU by process: "
                    + ", ".join(f"{k} {v:.2f}" for k, v in result["postgres_by_kind"].most_common())
                    + f"; WAL written {result['wal_bytes'] / 2**20:.0f} MiB"
                )
                if result["statements"]:
                    print(
                        table(
                            result["statements"],
                            ("calls", "ms", "blocks hit", "blocks read", "statement"),
                        )
                    )
            naive[latency_ms] = naive_sdk_loop(root, args.items)
            measured[latency_ms] = api_floor(root, args.items, concurrency)
    # The median of three: one run of the floor varies by a third on this machine.
    floors = sorted(database_floor(database_url, args.items, logged=True) for _ in range(3))
    unlogged = sorted(database_floor(database_url, args.items, logged=False) for _ in range(3))
    db_floor, db_floor_unlogged = floors[1], unlogged[1]
    print()
    print(
        f"{args.items:,} items, 4 namespaces, {args.workers} workers x {args.concurrency} jobs, "
        f"{concurrency} calls in flight"
    )
    headers = (
        "latency ms",
        "modes",
        "items",
        "status",
        "calls",
        "floor",
        "calls/floor",
        "wall s",
        "latency floor s",
        "wall/floor",
        "our time s",
    )
    print(table(rows, headers))
    print()
    for latency_ms, (floor_seconds, floor_calls) in measured.items():
        print(
            f"the API alone at {latency_ms} ms ({floor_calls} bare calls of 1,000 IDs, "
            f"{concurrency} in flight, recording nothing): {floor_seconds:.2f} s, "
            f"{floor_seconds / (floor_calls * latency_ms / 1000 / concurrency):.2f}x the "
            "nominal latency floor"
        )
        for row in rows:
            if row[0] == latency_ms and row[4] == floor_calls:
                print(f"  {row[1]}: wall / the API alone = {float(row[7]) / floor_seconds:.2f}")
    for latency_ms, (naive_time, naive_calls) in naive.items():
        print(
            f"naive moorcheh-sdk loop at {latency_ms} ms (1,000 IDs per call, sequential, "
            f"records nothing): {naive_calls} calls, {naive_time:.2f} s"
        )
        for row in rows:
            if row[0] == latency_ms:
                print(f"  {row[1]}: naive / ours = {naive_time / float(row[7]):.2f}x")
    print(
        f"PostgreSQL alone, writing {args.items:,} item rows and their outcomes (no claims, "
        f"no audit): {db_floor:.2f} s (median of {', '.join(f'{f:.2f}' for f in floors)}); "
        f"without the WAL (UNLOGGED): {db_floor_unlogged:.2f} s"
    )
    for row, result in zip(rows, results, strict=True):
        runs = result["postgres_runs"]
        postgres = statistics.median(runs)
        spread = (
            f" (median of {', '.join(f'{cpu:.2f}' for cpu in runs)}: "
            f"{runs[0] / db_floor:.2f}x to {runs[-1] / db_floor:.2f}x)"
            if len(runs) > 1
            else ""
        )
        print(
            f"  [{row[0]} ms, {row[1]}] PostgreSQL CPU {postgres:.2f} s{spread} = "
            f"{postgres / db_floor:.2f}x that floor ({postgres / db_floor_unlogged:.2f}x "
            f"without the WAL); wall / that floor = {float(row[7]) / db_floor:.2f}"
        )
        ratios = result["postgres_ratios"]
        print(
            f"  [{row[0]} ms, {row[1]}] each run's PostgreSQL CPU / the floor measured right "
            f"after it: median {statistics.median(ratios):.2f}x "
            f"({', '.join(f'{ratio:.2f}' for ratio in ratios)})"
        )
    # What bounds a run's wall on this machine: a run whose processes keep every core busy
    # is bound by CPU, not by the latency it waits out; and where PostgreSQL alone, writing
    # the same rows in one session, needs more than the latency floor, that floor is out of
    # reach of any engine that records every item's outcome at that speed.
    cores = os.cpu_count() or 1
    print(f"What bounds the wall here ({cores} cores):")
    for row, result in zip(rows, results, strict=True):
        busy = sum(result["cpu"].values())
        wall, latency_floor = result["wall"], float(row[8])
        print(
            f"  [{row[0]} ms, {row[1]}] workers, PostgreSQL and emulator used {busy:.2f} CPU-s "
            f"in {wall:.2f} s: {busy / wall:.2f} of {cores} cores busy; "
            f"PostgreSQL alone / the latency floor = {db_floor / latency_floor:.2f}"
        )


if __name__ == "__main__":
    main()
