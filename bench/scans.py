"""Namespace scans: items read per second against the latency floor, and peak memory.

    .venv/bin/python -m bench.scans [--items 1000,100000] [--latency-ms 20] [--mapped 0.9]

For each size, a text namespace of that many items in the emulator (its own process, each
call answered after `--latency-ms`), `--mapped` of them registered as mappings, and a
scan run by `manage.py namespace_scan` in a process of its own. The floor is the pages
times the latency: fetch-text-data pages follow a cursor, so they cannot overlap. Peak
memory is the scan process's maximum resident set; flat memory means it does not grow
with the namespace. Uses a database of its own (`scans_bench`, recreated).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time

from bench.common import KEY, ROOT, emulator_process, fresh_database, seed, table

BENCH_DB = "scans_bench"
PAGE = 100


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", default="1000,100000", help="namespace sizes, comma-separated")
    parser.add_argument("--latency-ms", type=int, default=20)
    parser.add_argument("--mapped", type=float, default=0.9)
    args = parser.parse_args()

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
    os.environ.update(env)
    rows = []
    with emulator_process(latency_ms=args.latency_ms) as root:
        env.update(NAMESPACE_API_URL=f"{root}/v1", NAMESPACE_API_KEY=KEY)
        os.environ.update(NAMESPACE_API_URL=f"{root}/v1", NAMESPACE_API_KEY=KEY)
        import django

        django.setup()
        from erasure.actors import Actor
        from erasure.models import Namespace, NamespaceScan
        from erasure.services.mappings import MappingInput, mappings_register

        for size in [int(n) for n in args.items.split(",")]:
            name = f"notes-{size}"
            items = [{"id": f"{name}-{n}", "text": "t"} for n in range(size)]
            seed(root, [{"name": name, "type": "text", "items": items}])
            Namespace.objects.get_or_create(
                name=name, defaults={"kind": "text", "attribution_mode": "exact"}
            )
            mapped = int(size * args.mapped)
            for start in range(0, mapped, 10_000):
                mappings_register(
                    items=[
                        MappingInput(f"user-{n % 1000}", name, f"{name}-{n}")
                        for n in range(start, min(start + 10_000, mapped))
                    ],
                    actor=Actor.system("bench"),
                )
            started = time.perf_counter()
            subprocess.run(  # noqa: S603
                [sys.executable, "manage.py", "namespace_scan", name],
                cwd=ROOT,
                env=env,
                check=True,
                stdout=subprocess.DEVNULL,
            )
            elapsed = time.perf_counter() - started
            # ru_maxrss of waited-for children: the largest so far, in KiB on Linux.
            peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
            scan = NamespaceScan.objects.filter(namespace__name=name).latest("started_at")
            assert scan.state == "completed" and scan.items_seen == size, scan
            assert scan.unmapped == size - mapped, scan
            pages = -(-size // PAGE)
            floor = pages * args.latency_ms / 1000
            rows.append(
                (
                    f"{size:,}",
                    scan.pages,
                    f"{elapsed:.2f}",
                    f"{floor:.2f}",
                    f"{floor / elapsed:.2f}",
                    f"{size / elapsed:,.0f}",
                    f"{peak:.0f}",
                    f"{scan.unmapped:,}",
                )
            )
    print()
    print(
        f"Namespace scans, {args.latency_ms} ms per call, {PAGE} items a page, "
        f"{args.mapped:.0%} mapped, {os.cpu_count()} CPUs"
    )
    print(
        table(
            rows,
            (
                "items",
                "pages",
                "wall s",
                "floor s",
                "floor/wall",
                "items/s",
                "peak MiB (largest so far)",
                "unmapped",
            ),
        )
    )
    print("(wall: the whole command, process start included; floor: pages x latency)")


if __name__ == "__main__":
    main()
