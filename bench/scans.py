"""Namespace scans: their rate against the latency floor, their memory, and what a
per-request scan adds to an erasure.

    .venv/bin/python -m bench.scans [--items 1000,100000] [--latency-ms 20] [--mapped 0.9]
                                    [--request-items 10000]
                                    [--request-cost | --no-request-cost]

Both measurements run by default, the scan table first; `--request-cost` runs only the
second, `--no-request-cost` only the first. `--items 1000000` is practical (about 10 min at
20 ms; the floor alone is 200 s) but not the default, so that `make bench` stays short.
Uses a database of its own (`scans_bench`, recreated) on the server of DATABASE_URL (or
127.0.0.1:5432); the emulator runs in its own process, each API call answered after
`--latency-ms`.

1. The scan table. For each size, a text namespace of that many items, seeded in batches
   of 50,000; `--mapped` of them registered as mappings through `mappings_import` (COPY
   into a staging table, then set-based inserts: memory independent of the count); then a
   scan run by `manage.py namespace_scan` in a process of its own. Figures:

   * seed s, register s: setting the namespace up (not part of the scan);
   * pages: fetch-text-data pages the scan read (100 items a page);
   * wall s: the scan command, process start included; scan s: the scan's own
     started_at to finished_at;
   * floor s: pages x latency / in-flight. In flight is 1: each fetch-text-data page needs
     the cursor the previous one returned, so one scan's calls cannot overlap, whatever
     NAMESPACE_API_MAX_IN_FLIGHT says. (The scan's one list-namespaces call is left out.)
   * floor/wall: 1.0 would mean the API's latency is all there is; items/s over wall;
   * peak MiB: the maximum resident set of that scan process (its own, from wait4); flat
     memory means it does not grow with the namespace.

2. The per-request cost (`--request-cost`). Two identical text namespaces of
   `--request-items` items, each with a subject owning 100 mapped items and 20 unmapped
   ones that name it in their metadata (`{"user_id": subject}`); every other item is
   mapped to, and names, one of 1,000 other subjects. Two namespaces, so that the scan of
   (b) does not discover what (a) left behind of its own subject (it would, as mappings
   after an erasure, and file a new request). Each erasure is driven in process:
   `request_file` + `request_approve`, then `request_execute` until it finishes.

   * (a) subject_field empty: no per-request scan; its 20 unmapped items stay in the API.
   * (b) subject_field "user_id": the request is about to complete, finds no scan of the
     namespace since its approval, starts one and waits; the bench runs that scan
     (`scan_carry_on`), which discovers the 20 items into the running request, and calls
     `request_execute` again, which erases them and completes. Queue delays (a worker
     picking the scan job up, the wake-up) are not in the figure.

   Printed: wall time and emulator API calls for each, the ratio (b)/(a), and the scan's
   own floor (pages x latency / 1 in flight). The bench fails unless the emulator no
   longer holds any of (b)'s subject's 120 items, and none of (a)'s 100 mapped ones. A
   namespace whose last scan counted more than ERASURE_REQUEST_SCAN_MAX_ITEMS items
   (default 1,000,000) skips per-request scans; the output says where that bound leaves
   the cost.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import httpx

from bench.common import (
    KEY,
    ROOT,
    api_call_log,
    api_calls_clear,
    emulator_process,
    emulator_reset,
    fresh_database,
    seed_batches,
    table,
)

BENCH_DB = "scans_bench"
PAGE = 100
# One scan reads one page at a time: the next page's cursor comes with the previous page.
SCAN_IN_FLIGHT = 1
OTHER_SUBJECTS = 1000
# The per-request measurement's subject: mapped items, and items only its metadata names.
SUBJECT_MAPPED = 100
SUBJECT_UNMAPPED = 20
SUBJECT_FIELD = "user_id"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", default="1000,100000", help="namespace sizes, comma-separated")
    parser.add_argument("--latency-ms", type=int, default=20)
    parser.add_argument("--mapped", type=float, default=0.9)
    parser.add_argument(
        "--request-items",
        type=int,
        default=10_000,
        help="size of each namespace of the per-request cost measurement",
    )
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--request-cost", action="store_true", help="only the per-request scan cost")
    which.add_argument("--no-request-cost", action="store_true", help="only the scan table")
    args = parser.parse_args()
    sizes = [int(n) for n in args.items.split(",")]
    if args.request_items < 10 * (SUBJECT_MAPPED + SUBJECT_UNMAPPED):
        parser.error(f"--request-items must be at least {10 * (SUBJECT_MAPPED + SUBJECT_UNMAPPED)}")

    database_url = fresh_database(BENCH_DB)
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url,
        SECRET_KEY=os.environ.get("SECRET_KEY", "bench-secret"),
        SUBJECT_HASH_KEY=os.environ.get("SUBJECT_HASH_KEY", "bench-subject-hash-key"),
        DJANGO_SETTINGS_MODULE="config.settings",
        LOG_LEVEL="WARNING",
    )
    subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True
    )
    with emulator_process(latency_ms=args.latency_ms) as root:
        env.update(NAMESPACE_API_URL=f"{root}/v1", NAMESPACE_API_KEY=KEY)
        os.environ.update(env)
        import django

        django.setup()
        if not args.request_cost:
            scan_table(root, env, sizes=sizes, latency_ms=args.latency_ms, mapped=args.mapped)
        if not args.no_request_cost:
            request_cost(root, items=args.request_items, latency_ms=args.latency_ms)


def scan_table(
    root: str, env: dict[str, str], *, sizes: list[int], latency_ms: int, mapped: float
) -> None:
    from erasure.actors import Actor
    from erasure.models import NamespaceScan, ScanState
    from erasure.services.mappings import mappings_import
    from erasure.services.namespaces import namespace_create

    actor = Actor.system("bench")
    rows = []
    for size in sizes:
        name = f"notes-{size}"
        started = time.perf_counter()
        # One namespace in the emulator at a time: its memory is the current size's.
        emulator_reset(root)
        seed_batches(
            root,
            namespace={"name": name, "type": "text"},
            items=({"id": f"{name}-{n}", "text": "t"} for n in range(size)),
        )
        seeded = time.perf_counter()
        namespace_create(name=name, kind="text", attribution_mode="exact", actor=actor)
        n_mapped = int(size * mapped)
        mappings_import(
            rows=(
                (n + 1, (f"user-{n % OTHER_SUBJECTS}", name, f"{name}-{n}"))
                for n in range(n_mapped)
            ),
            actor=actor,
        )
        registered = time.perf_counter()
        wall, peak_mib = _run_measured(
            [sys.executable, "manage.py", "namespace_scan", name], env=env
        )
        scan = NamespaceScan.objects.filter(namespace__name=name).latest("started_at")
        _check(
            scan.state == ScanState.COMPLETED
            and scan.items_seen == size
            and scan.unmapped == size - n_mapped,
            f"scan of {name}: expected {size} items seen, {size - n_mapped} unmapped; got "
            f"state {scan.state}, {scan.items_seen} seen, {scan.unmapped} unmapped",
        )
        assert scan.finished_at is not None  # completed
        floor = scan.pages * latency_ms / 1000 / SCAN_IN_FLIGHT
        rows.append(
            (
                f"{size:,}",
                f"{seeded - started:.1f}",
                f"{registered - seeded:.1f}",
                f"{scan.pages:,}",
                f"{wall:.2f}",
                f"{(scan.finished_at - scan.started_at).total_seconds():.2f}",
                f"{floor:.2f}",
                f"{floor / wall:.2f}",
                f"{size / wall:,.0f}",
                f"{peak_mib:.0f}",
                f"{scan.unmapped:,}",
            )
        )
    print()
    print(
        f"Namespace scans, {latency_ms} ms per call, {PAGE} items a page, "
        f"{mapped:.0%} mapped, {os.cpu_count()} CPUs"
    )
    print(
        table(
            rows,
            (
                "items",
                "seed s",
                "register s",
                "pages",
                "wall s",
                "scan s",
                "floor s",
                "floor/wall",
                "items/s",
                "peak MiB",
                "unmapped",
            ),
        )
    )
    print(
        f"floor: pages x {latency_ms} ms / {SCAN_IN_FLIGHT} in flight (each fetch-text-data "
        "page follows the previous page's cursor, so one scan has 1 call in flight)"
    )
    print(
        "wall: the scan command, process start included; scan s: the scan's started_at to "
        "finished_at; peak MiB: that scan process's maximum resident set"
    )


def _run_measured(command: list[str], *, env: dict[str, str]) -> tuple[float, float]:
    """Run a command to its end; (wall seconds, its own peak resident set in MiB)."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)  # noqa: S603
    # wait4 gives this child's own rusage (ru_maxrss in KiB on Linux), where
    # RUSAGE_CHILDREN would give the largest of every child waited for so far.
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise subprocess.CalledProcessError(process.returncode, command)
    return wall, usage.ru_maxrss / 1024


@dataclass(frozen=True)
class Erasure:
    wall: float
    calls: Counter[str]
    erased: int
    discovered: int
    scan_wall: float
    scan_pages: int
    left: int


def request_cost(root: str, *, items: int, latency_ms: int) -> None:
    from django.conf import settings

    from erasure.actors import Actor
    from erasure.services.mappings import mappings_import
    from erasure.services.namespaces import namespace_create, namespace_update

    actor = Actor.system("bench")
    emulator_reset(root)
    cases = {}
    for case in ("a", "b"):
        name = f"cost-{case}-{items}"
        subject = f"bench|cost-{case}"
        seed_batches(
            root, namespace={"name": name, "type": "text"}, items=_cost_items(name, subject, items)
        )
        namespace = namespace_create(name=name, kind="text", attribution_mode="exact", actor=actor)
        mappings_import(rows=_cost_mappings(name, subject, items), actor=actor)
        cases[case] = (namespace, subject)

    namespace_a, subject_a = cases["a"]
    a = _erase(root, namespace_a, subject_a, items)
    namespace_b, subject_b = cases["b"]
    namespace_b = namespace_update(
        namespace=namespace_b, changes={"subject_field": SUBJECT_FIELD}, actor=actor
    )
    b = _erase(root, namespace_b, subject_b, items)

    # (a) erases what is mapped and leaves the rest; (b) must leave nothing of its subject.
    _check(
        a.erased == SUBJECT_MAPPED and a.left == SUBJECT_UNMAPPED,
        f"(a): expected {SUBJECT_MAPPED} erased and {SUBJECT_UNMAPPED} left in the API, "
        f"got {a.erased} erased and {a.left} left",
    )
    _check(
        b.left == 0
        and b.discovered == SUBJECT_UNMAPPED
        and b.erased == SUBJECT_MAPPED + SUBJECT_UNMAPPED,
        f"(b): expected {SUBJECT_MAPPED + SUBJECT_UNMAPPED} erased ({SUBJECT_UNMAPPED} "
        f"discovered) and nothing left in the API, got {b.erased} erased ({b.discovered} "
        f"discovered) and {b.left} of the subject's items still in the API",
    )
    rows = [
        _cost_row("(a) subject_field empty", a),
        _cost_row(f'(b) subject_field "{SUBJECT_FIELD}"', b),
        (
            "(b)/(a)",
            "",
            "",
            "",
            f"{b.calls.total() / a.calls.total():.1f}x",
            "",
            f"{b.wall / a.wall:.1f}x",
        ),
    ]
    floor = b.scan_pages * latency_ms / 1000 / SCAN_IN_FLIGHT
    limit = settings.ERASURE_REQUEST_SCAN_MAX_ITEMS
    print()
    print(
        f"Per-request scan cost: a text namespace of {items:,} items, {latency_ms} ms per "
        f"call; the subject has {SUBJECT_MAPPED} mapped items and {SUBJECT_UNMAPPED} unmapped "
        f'ones whose metadata names it ("{SUBJECT_FIELD}")'
    )
    print(
        table(
            rows,
            (
                "erasure",
                "erased",
                "discovered",
                "left in API",
                "API calls",
                "by endpoint",
                "wall s",
            ),
        )
    )
    print(
        f"(b)'s scan: {b.scan_pages:,} pages in {b.scan_wall:.2f} s; its floor "
        f"{b.scan_pages:,} pages x {latency_ms} ms / {SCAN_IN_FLIGHT} in flight = {floor:.2f} s"
    )
    print(
        "wall: file + approve + request_execute until completed, (b)'s scan included, queue "
        "delays not; left in API: the subject's items the emulator still holds"
    )
    if limit:
        cap_floor = -(-limit // PAGE) * latency_ms / 1000 / SCAN_IN_FLIGHT
        print(
            f"ERASURE_REQUEST_SCAN_MAX_ITEMS = {limit:,}: a namespace whose last scan counted "
            f"more items skips the per-request scan (its periodic scans serve instead); up to "
            f"that size a request waits for a scan whose floor is {cap_floor:,.0f} s at "
            f"{latency_ms} ms"
        )
    else:
        print("ERASURE_REQUEST_SCAN_MAX_ITEMS = 0: every namespace with a subject field is scanned")


def _cost_items(name: str, subject: str, size: int) -> Iterator[dict]:
    """The namespace: the subject's items spread through it, the first SUBJECT_MAPPED of
    them mapped; every item names its subject in metadata."""
    stride = size // (SUBJECT_MAPPED + SUBJECT_UNMAPPED)
    for n in range(size):
        owner = subject if _subject_index(n, stride) is not None else _other(n)
        yield {"id": f"{name}-{n}", "text": "t", "metadata": {SUBJECT_FIELD: owner}}


def _cost_mappings(name: str, subject: str, size: int) -> Iterator[tuple[int, tuple[str, ...]]]:
    stride = size // (SUBJECT_MAPPED + SUBJECT_UNMAPPED)
    for n in range(size):
        index = _subject_index(n, stride)
        if index is None:
            yield n + 1, (_other(n), name, f"{name}-{n}")
        elif index < SUBJECT_MAPPED:
            yield n + 1, (subject, name, f"{name}-{n}")


def _subject_index(n: int, stride: int) -> int | None:
    """Which of the subject's items item `n` is, or None when it is another subject's."""
    if n % stride or n // stride >= SUBJECT_MAPPED + SUBJECT_UNMAPPED:
        return None
    return n // stride


def _other(n: int) -> str:
    return f"user-{n % OTHER_SUBJECTS}"


def _erase(root: str, namespace, subject: str, size: int) -> Erasure:
    from erasure.actors import Actor
    from erasure.lifecycle import ERASED_OUTCOMES
    from erasure.models import ErasureItem, NamespaceScan, RequestSource, RequestStatus, ScanState
    from erasure.services.execution import request_execute
    from erasure.services.requests import request_approve, request_file
    from erasure.services.scans import scan_carry_on

    actor = Actor.system("bench")
    api_calls_clear(root)
    started = time.perf_counter()
    filed = request_file(subject_key=subject, actor=actor, source=RequestSource.ADMIN)
    request = request_approve(request=filed.request, actor=actor)
    summary = request_execute(request_id=request.pk)
    scan_wall = 0.0
    scan_pages = 0
    for _ in range(3):  # one wait for one scan is expected; more is a bug
        if summary.finished:
            break
        scan = NamespaceScan.objects.filter(namespace=namespace, state=ScanState.RUNNING).first()
        _check(
            scan is not None,
            f"request {request.pk} did not finish and no scan of {namespace.name} runs: {summary}",
        )
        assert scan is not None  # for the type checker: _check raised otherwise
        scan_started = time.perf_counter()
        scan_carry_on(scan_id=scan.pk)
        scan_wall += time.perf_counter() - scan_started
        scan.refresh_from_db()
        _check(scan.state == ScanState.COMPLETED, f"scan {scan.pk}: {scan.state} {scan.error}")
        scan_pages += scan.pages
        summary = request_execute(request_id=request.pk)
    wall = time.perf_counter() - started
    _check(summary.finished, f"request {request.pk} did not finish: {summary}")
    calls = Counter(_endpoint(call["path"]) for call in api_call_log(root))
    request.refresh_from_db()
    erased_items = ErasureItem.objects.filter(request=request, outcome__in=ERASED_OUTCOMES)
    _check(
        request.status == RequestStatus.COMPLETED,
        f"request {request.pk} ended {request.status}, not completed",
    )
    with httpx.Client(base_url=root, timeout=60) as http:
        state = http.get("/_emulator/state").json()["namespaces"]
    stored = set(state[namespace.name]["ids"])
    ours = _subject_item_ids(namespace.name, size)
    return Erasure(
        wall=wall,
        calls=calls,
        erased=erased_items.count(),
        discovered=erased_items.filter(discovered=True).count(),
        scan_wall=scan_wall,
        scan_pages=scan_pages,
        left=len(stored & ours),
    )


def _subject_item_ids(name: str, size: int) -> set[str]:
    stride = size // (SUBJECT_MAPPED + SUBJECT_UNMAPPED)
    return {f"{name}-{i * stride}" for i in range(SUBJECT_MAPPED + SUBJECT_UNMAPPED)}


def _endpoint(path: str) -> str:
    """`/v1/namespaces/NAME/documents/get` -> `documents/get`; `/v1/namespaces` -> `list`."""
    parts = path.strip("/").split("/")
    return "/".join(parts[3:]) if len(parts) > 3 else "list"


def _cost_row(label: str, erasure: Erasure) -> tuple:
    by_endpoint = ", ".join(
        f"{endpoint.removeprefix('documents/')} {n}"
        for endpoint, n in sorted(erasure.calls.items())
    )
    return (
        label,
        erasure.erased,
        erasure.discovered,
        erasure.left,
        erasure.calls.total(),
        by_endpoint,
        f"{erasure.wall:.2f}",
    )


def _check(ok: bool, message: str) -> None:
    """Fail the bench (not an assert: `python -O` would drop it)."""
    if not ok:
        raise SystemExit(f"bench.scans: {message}")


if __name__ == "__main__":
    main()
