"""How cost grows: the registry from 100,000 to 10,000,000 mappings, a tenant offboarded at
each decade.

    .venv/bin/python -m bench.scale [--sizes 100000,1000000,10000000]
                                    [--tenant-items 1000000] [--probe-rows 200000]
                                    [--workers 2] [--concurrency 4]

At each size the registry is grown to that many mappings of ordinary subjects (10 items
each, two namespaces), plus one tenant subject of `--tenant-items` items, through
`manage.py import_mappings` (its own process, as an operator runs it). Then the tenant is
erased: a request filed and approved, real worker processes, the emulator (its own process,
no added latency) holding the tenant's items; the database is vacuumed and checkpointed
before the probe and before the erasure (outside the timing), as autovacuum keeps a live
one and so that no checkpoint of an earlier phase writes during a timed one. Reports per
decade, in the same run:

* registration rows/s: a probe file of `--probe-rows` new mappings (200,000) imported once
  the registry has grown to the decade's size, the same file size at every decade, net of
  the command's start-up (an import of an empty file, timed beside each probe); the median
  of `--probe-repeat` probes (3), each of new subjects and removed again before the next,
  so that every probe of a decade meets the same registry. The growth import's own rate is
  printed too ("growth rows/s"), and the peak memory of both;
* expanding the tenant's items (the request's start to its last `items.expanded`) and
  erasing them (approval to completion), in microseconds per item;
* the table and index sizes of mappings, subjects and items;
* the workers' peak memory;
* each per-item cost as a ratio to the first decade's (the goal: within 0.75-1.25).

Uses a database of its own (`erasure_bench_scale`, recreated) on the server of DATABASE_URL,
or on 127.0.0.1:5432. The full run takes about 20 minutes on 2 cores; `--sizes 100000,1000000
--tenant-items 100000` is a one-minute look.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import psycopg

from bench.common import (
    KEY,
    ROOT,
    emulator_process,
    fresh_database,
    seed_batches,
    start_workers,
    statements,
    table,
)

BENCH_DB = "erasure_bench_scale"
NAMESPACES = (("docs", "text"), ("vecs", "vector"))
PER_SUBJECT = 10


class PeakMemory:
    """The peak resident memory (MB) of a set of processes, sampled every 50 ms."""

    def __init__(self, pids: list[int]) -> None:
        self.pids = pids
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            for pid in self.pids:
                try:
                    rss = psutil.Process(pid).memory_info().rss / 1e6
                except psutil.NoSuchProcess:
                    continue
                self.peak = max(self.peak, rss)
            self._stop.wait(0.05)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def tenant_item(size: int, n: int) -> tuple[str, str]:
    name = NAMESPACES[n % 2][0]
    return name, f"tenant-{size}-{n:08d}"


def write_rows(path: Path, *, start: int, stop: int, size: int, tenant_items: int) -> None:
    """Ordinary subjects' mappings `start` to `stop`, then the tenant of this decade."""
    with path.open("w", encoding="utf-8") as fh:
        fh.write("subject,namespace,item_id\n")
        for i in range(start, stop):
            name = NAMESPACES[i % 2][0]
            fh.write(f"bench|user-{i // PER_SUBJECT},{name},{name}-{i:09d}\n")
        for n in range(tenant_items):
            name, item_id = tenant_item(size, n)
            fh.write(f"bench|tenant-{size},{name},{item_id}\n")


def write_probe(path: Path, *, size: int, rows: int, index: int) -> None:
    """`rows` mappings of new ordinary subjects (10 items each), none registered before: the
    registration probe of a decade (the `index`th), the same file size at every decade."""
    with path.open("w", encoding="utf-8") as fh:
        fh.write("subject,namespace,item_id\n")
        for i in range(rows):
            name = NAMESPACES[i % 2][0]
            fh.write(
                f"bench|probe-{size}-{index}-{i // PER_SUBJECT},{name},"
                f"probe-{size}-{index}-{i:09d}\n"
            )


def registration_probe(
    env: dict[str, str], database_url: str, tmp: str, *, size: int, rows: int, repeat: int
) -> tuple[list[float], float]:
    """Seconds per probe (net of the command's start-up) and the peak MB: `repeat` probes
    of `rows` new mappings, each into the registry as the decade grew it. A probe's
    mappings and subjects are deleted after it, and the database vacuumed, so the next one
    meets the same registry (and none of its dead rows)."""
    empty = Path(tmp) / "empty.csv"
    empty.write_text("subject,namespace,item_id\n", encoding="utf-8")
    seconds, peak = [], 0.0
    for n in range(repeat):
        start_up = run_import(env, empty)[0]
        probe = Path(tmp) / f"probe-{size}-{n}.csv"
        write_probe(probe, size=size, rows=rows, index=n)
        elapsed, probe_peak = run_import(env, probe)
        probe.unlink()
        seconds.append(elapsed - start_up)
        peak = max(peak, probe_peak)
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(
                """
                WITH gone AS (
                    DELETE FROM erasure_itemmapping WHERE item_id LIKE %s RETURNING subject_id
                )
                DELETE FROM erasure_subject WHERE id IN (SELECT subject_id FROM gone)
                """,
                [f"probe-{size}-{n}-%"],
            )
        vacuum(database_url)
    empty.unlink()
    return seconds, peak


def run_import(env: dict[str, str], path: Path) -> tuple[float, float]:
    """(seconds, peak MB) of `manage.py import_mappings path`."""
    started = time.perf_counter()
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "manage.py", "import_mappings", str(path), "--no-progress"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    with PeakMemory([process.pid]) as memory:
        out, err = process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"import_mappings failed: {err or out}")
    return time.perf_counter() - started, memory.peak


def vacuum(database_url: str) -> None:
    """VACUUM (ANALYZE), then a CHECKPOINT: every timed phase starts a checkpoint cycle of
    its own. Without it, the checkpoint that the growth import's WAL set off (several GB
    at the larger decades) writes its pages while the probe runs, and each decade's
    figure depends on where that checkpoint happens to be."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")
        conn.execute("CHECKPOINT")


def sizes_mb(database_url: str) -> dict[str, tuple[float, float]]:
    """(table MB, indexes MB) of the registry and item tables."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        return {
            name: tuple(
                v / 1e6
                for v in conn.execute(
                    "SELECT pg_table_size(%s::regclass), pg_indexes_size(%s::regclass)",
                    [name, name],
                ).fetchone()
            )
            for name in ("erasure_itemmapping", "erasure_subject", "erasure_erasureitem")
        }


def erase_tenant(args, env: dict[str, str], size: int) -> dict:
    """File and approve the tenant's request; real workers erase it. Seconds and peak MB."""
    from django.contrib.auth import get_user_model
    from django.db.models import Count

    from erasure.actors import Actor
    from erasure.models import AuditEvent, ErasureRequest
    from erasure.services.requests import request_approve, request_file

    users = get_user_model().objects
    filer = users.get_or_create(username="bench-filer")[0]
    approver = users.get_or_create(username="bench-approver")[0]
    filed = request_file(
        subject_key=f"bench|tenant-{size}", actor=Actor.for_user(filer), source="admin"
    )
    workers = start_workers(args.workers, args.concurrency, env)
    try:
        with PeakMemory([w.pid for w in workers]) as memory:
            started = time.perf_counter()
            request_approve(request=filed.request, actor=Actor.for_user(approver))
            while True:
                status = ErasureRequest.objects.values_list("status", flat=True).get(
                    pk=filed.request.pk
                )
                if status not in ("approved", "running"):
                    break
                time.sleep(0.05)
            wall = time.perf_counter() - started
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(timeout=60)
    request = ErasureRequest.objects.get(pk=filed.request.pk)
    events = AuditEvent.objects.filter(request=request)
    began = events.get(event_type="request.started").occurred_at
    expanded = events.filter(event_type="items.expanded").order_by("-id").first().occurred_at
    counts = dict(request.items.values_list("outcome").annotate(n=Count("id")))
    return {
        "status": status,
        "wall": wall,
        "expand": (expanded - began).total_seconds(),
        "peak": memory.peak,
        "counts": counts,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="100000,1000000,10000000")
    parser.add_argument("--tenant-items", type=int, default=1_000_000)
    parser.add_argument(
        "--probe-rows",
        type=int,
        default=200_000,
        help="rows of the registration probe imported at each decade, once it is grown",
    )
    parser.add_argument(
        "--probe-repeat",
        type=int,
        default=3,
        help="registration probes per decade; the median is reported (one varies by a third)",
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=4, help="jobs per worker process")
    parser.add_argument(
        "--statements",
        action="store_true",
        help="print each erasure's top statements (needs pg_stat_statements preloaded)",
    )
    args = parser.parse_args()
    if args.probe_repeat < 1:
        parser.error("--probe-repeat must be at least 1")
    sizes = [int(x) for x in args.sizes.split(",")]
    database_url = fresh_database(BENCH_DB)
    os.environ.update(
        DATABASE_URL=database_url,
        DJANGO_SETTINGS_MODULE="config.settings",
        LOG_LEVEL="WARNING",
    )
    os.environ.setdefault("SECRET_KEY", "bench-secret")
    os.environ.setdefault("SUBJECT_HASH_KEY", "bench-subject-hash-key")
    subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, check=True
    )
    rows = []
    with emulator_process() as root, tempfile.TemporaryDirectory() as tmp:
        os.environ.update(NAMESPACE_API_URL=f"{root}/v1", NAMESPACE_API_KEY=KEY)
        env = dict(os.environ)
        env.update(
            ERASURE_JOBS_PER_REQUEST=str(args.workers * args.concurrency),
            ERASURE_SCAN_INTERVAL_HOURS="0",
        )
        import django

        django.setup()
        from django.conf import settings

        settings.ERASURE_JOBS_PER_REQUEST = args.workers * args.concurrency
        registered = 0
        for size in sizes:
            for name, kind in NAMESPACES:
                items = (
                    tenant_item(size, n)[1]
                    for n in range(args.tenant_items)
                    if tenant_item(size, n)[0] == name
                )
                seed_batches(
                    root,
                    namespace={"name": name, "type": kind, "vector_dimension": 2},
                    items=(
                        {"id": i, "text": "t"}
                        if kind == "text"
                        else {"id": i, "vector": [0.1, 0.2]}
                        for i in items
                    ),
                )
            path = Path(tmp) / f"rows-{size}.csv"
            write_rows(path, start=registered, stop=size, size=size, tenant_items=args.tenant_items)
            new_rows = size - registered + args.tenant_items
            grow_seconds, grow_peak = run_import(env, path)
            path.unlink()
            registered = size
            # Each decade starts from a vacuumed database, as autovacuum keeps a live one:
            # otherwise the last decade's dead rows are vacuumed during this one's timing.
            vacuum(database_url)
            # Registration into a registry of this size: a file of the same size at every
            # decade (the growth file's size grows with the decade, and a larger file in
            # one transaction costs more per row whatever the registry holds).
            probes, import_peak = registration_probe(
                env,
                database_url,
                tmp,
                size=size,
                rows=args.probe_rows,
                repeat=args.probe_repeat,
            )
            seconds = sorted(probes)[len(probes) // 2]
            print(
                f"[{size:,}] registration probes: "
                + ", ".join(f"{args.probe_rows / p:,.0f}" for p in probes)
                + " rows/s (net of start-up; the median is reported)",
                flush=True,
            )
            if args.statements:
                statements(database_url, reset=True)
            erased = erase_tenant(args, env, size)
            if args.statements:
                print(
                    table(
                        statements(database_url, reset=False),
                        ("calls", "ms", "hit", "read", "statement"),
                    ),
                    flush=True,
                )
            space = sizes_mb(database_url)
            n = args.tenant_items
            rows.append(
                {
                    "registry": size,
                    "new rows": new_rows,
                    "growth rows/s": new_rows / grow_seconds,
                    "growth peak MB": grow_peak,
                    "rows/s": args.probe_rows / seconds,
                    "import peak MB": max(import_peak, grow_peak),
                    "expand us/item": erased["expand"] / n * 1e6,
                    "erase us/item": erased["wall"] / n * 1e6,
                    "workers peak MB": erased["peak"],
                    "mappings MB (table+idx)": sum(space["erasure_itemmapping"]),
                    "subjects MB": sum(space["erasure_subject"]),
                    "items MB": sum(space["erasure_erasureitem"]),
                    "status": erased["status"],
                    "outcomes": erased["counts"],
                }
            )
            print(f"[{size:,}] {rows[-1]}", flush=True)
    first = rows[0]
    print()
    print(
        f"tenant of {args.tenant_items:,} items per decade; {args.workers} workers x "
        f"{args.concurrency} jobs"
    )
    headers = (
        "registry",
        "status",
        "growth rows/s",
        "rows/s",
        "import MB",
        "expand us/item",
        "erase us/item",
        "workers MB",
        "mappings MB",
        "subjects MB",
        "items MB",
        "rows/s ratio",
        "expand ratio",
        "erase ratio",
    )
    print(
        table(
            [
                (
                    f"{r['registry']:,}",
                    r["status"],
                    f"{r['growth rows/s']:,.0f}",
                    f"{r['rows/s']:,.0f}",
                    f"{r['import peak MB']:.0f}",
                    f"{r['expand us/item']:.1f}",
                    f"{r['erase us/item']:.1f}",
                    f"{r['workers peak MB']:.0f}",
                    f"{r['mappings MB (table+idx)']:.0f}",
                    f"{r['subjects MB']:.0f}",
                    f"{r['items MB']:.0f}",
                    f"{first['rows/s'] / r['rows/s']:.2f}",
                    f"{r['expand us/item'] / first['expand us/item']:.2f}",
                    f"{r['erase us/item'] / first['erase us/item']:.2f}",
                )
                for r in rows
            ],
            headers,
        )
    )
    print("ratios: cost per item against the first decade (1.00 = no growth; goal 0.75-1.25)")


if __name__ == "__main__":
    main()
