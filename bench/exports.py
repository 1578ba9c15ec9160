"""Audit exports: 1,000,000 item outcomes as CSV through the API's code path.

    .venv/bin/python -m bench.exports [--items 1000000] [--small 100000] [--format csv]

Seeds a database of its own (`erasure_bench_exports`, recreated) with two completed
requests: one of `--small` items and one of the rest. Then, each in a fresh process so its
peak memory (max RSS) is its own:

* the export through the same code path as the admin and the API
  (`GET /api/v1/audit/export?what=items&format=csv`, a streamed response read to the end
  by Django's test client), of the small request and of everything;
* PostgreSQL's own `COPY (the same SELECT) TO STDOUT` of the same rows, read by psycopg.

Prints rows per second, the ratio against COPY, and peak memory at both sizes: the
export must not grow with the rows.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import psycopg

from bench.common import ROOT, fresh_database, table

BENCH_DB = "erasure_bench_exports"


def bench_database_url() -> str:
    return fresh_database(BENCH_DB)


def _django(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("SECRET_KEY", "bench-secret")
    os.environ.setdefault("SUBJECT_HASH_KEY", "bench-subject-hash-key")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ["LOG_LEVEL"] = "WARNING"
    import django

    django.setup()


def seed(database_url: str, total: int, small: int) -> dict[str, str]:
    """Two completed requests (small, rest) with every item decided; returns their ids."""
    subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", "migrate", "-v", "0"],
        cwd=ROOT,
        env={
            **os.environ,
            "DATABASE_URL": database_url,
            "SECRET_KEY": "bench-secret",
            "SUBJECT_HASH_KEY": "bench-subject-hash-key",
        },
        check=True,
    )
    ids = {}
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO erasure_namespace (api, name, kind, attribution_mode, created_at, "
            "subject_field, subject_field_kind) VALUES "
            "('default', 'docs', 'text', 'exact', now(), '', ''), "
            "('default', 'vecs', 'vector', 'fast', now(), '', '')"
        )
        for label, n in (("small", small), ("rest", total - small)):
            subject = conn.execute(
                "INSERT INTO erasure_subject (key_hash, created_at) "
                "VALUES (md5(%s) || md5(%s), now()) RETURNING id",
                [label, label + "!"],
            ).fetchone()[0]
            request = conn.execute(
                """
                INSERT INTO erasure_erasurerequest
                    (id, subject_id, status, source, regulation, reason, received_at, due_at,
                     auto_approved, approved_at, started_at, completed_at, last_error,
                     wakeups, updated_at, held_from, hold_reason, grace_seconds,
                     deadline_pause_reason, status_changed_at)
                VALUES (gen_random_uuid(), %s, 'completed', 'api', 'gdpr', '', now(),
                        now() + interval '30 days', false, now(), now(), now(), '', 0, now(),
                        '', '', 0, '', now())
                RETURNING id
                """,
                [subject],
            ).fetchone()[0]
            conn.execute(
                """
                INSERT INTO erasure_erasureitem
                    (request_id, namespace_id, item_id, outcome, attempts, last_http_status,
                     last_error, decided_at, lease_owner, seen_present, maybe_applied)
                SELECT %s, (SELECT id FROM erasure_namespace
                            WHERE name = CASE WHEN g %% 2 = 0 THEN 'docs' ELSE 'vecs' END),
                       'item-' || g,
                       CASE WHEN g %% 997 = 0 THEN 'failed' WHEN g %% 13 = 0 THEN 'not_found'
                            ELSE 'deleted' END,
                       1, CASE WHEN g %% 997 = 0 THEN 500 ELSE 200 END,
                       CASE WHEN g %% 997 = 0 THEN 'HTTP 500: internal error, "retry later"'
                            ELSE '' END,
                       now(), '', false, false
                FROM generate_series(1, %s) g
                """,
                [request, n],
            )
            ids[label] = str(request)
        conn.execute("VACUUM ANALYZE erasure_erasureitem")
    return ids


def child_export(database_url: str, request_id: str | None) -> dict:
    """The export through the API's view, read to the end, in this (fresh) process."""
    _django(database_url)
    from django.test import Client

    from erasure.actors import Actor
    from erasure.services.api_keys import api_key_create

    raw_key = api_key_create(
        name=f"bench-{os.getpid()}", scopes=["audit:read"], actor=Actor.system("bench")
    )[1]
    query = "what=items&format=csv" + (f"&request={request_id}" if request_id else "")
    client = Client()
    started = time.perf_counter()
    response = client.get(
        f"/api/v1/audit/export?{query}",
        HTTP_AUTHORIZATION=f"Bearer {raw_key}",
        HTTP_HOST="localhost",
    )
    assert response.status_code == 200, response.status_code
    rows = size = 0
    for chunk in response.streaming_content:
        rows += chunk.count(b"\n")
        size += len(chunk)
    elapsed = time.perf_counter() - started
    return {
        "rows": rows - 1,
        "bytes": size,
        "seconds": elapsed,
        "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def child_copy(database_url: str, request_id: str | None) -> dict:
    """PostgreSQL's COPY TO STDOUT of the same SELECT, read by psycopg, nothing else."""
    _django(database_url)
    from erasure.exports import _copy_statement

    started = time.perf_counter()
    rows = size = 0
    with psycopg.connect(database_url) as conn, conn.cursor() as cursor:
        statement = _copy_statement("items", "csv")
        params = {"request": request_id, "since": None, "until": None}
        with cursor.copy(statement, params) as copy:
            for block in copy:
                rows += bytes(block).count(b"\n")
                size += len(block)
    elapsed = time.perf_counter() - started
    return {
        "rows": rows - 1,
        "bytes": size,
        "seconds": elapsed,
        "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def run_child(kind: str, database_url: str, request_id: str | None) -> dict:
    out = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "bench.exports", "--child", kind, "--request", request_id or ""],
        cwd=ROOT,
        env={
            **os.environ,
            "DATABASE_URL": database_url,
            "SECRET_KEY": "bench-secret",
            "SUBJECT_HASH_KEY": "bench-subject-hash-key",
        },
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=100_000)
    parser.add_argument("--child", choices=["export", "copy"], help=argparse.SUPPRESS)
    parser.add_argument("--request", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        work = child_export if args.child == "export" else child_copy
        print(json.dumps(work(os.environ["DATABASE_URL"], args.request or None)))
        return
    database_url = bench_database_url()
    started = time.perf_counter()
    ids = seed(database_url, args.items, args.small)
    print(f"seeded {args.items:,} items in {time.perf_counter() - started:.1f} s", flush=True)
    rows = []
    for label, request_id in ((f"{args.small:,}", ids["small"]), (f"{args.items:,}", None)):
        copy = run_child("copy", database_url, request_id)
        ours = run_child("export", database_url, request_id)
        assert ours["rows"] == copy["rows"], (ours, copy)
        rows.append(
            (
                label,
                ours["rows"],
                f"{ours['rows'] / ours['seconds']:,.0f}",
                f"{copy['rows'] / copy['seconds']:,.0f}",
                f"{copy['seconds'] / ours['seconds']:.2f}",
                f"{ours['max_rss_mb']:.0f}",
                f"{copy['max_rss_mb']:.0f}",
                f"{ours['bytes'] / 1e6:.1f}",
            )
        )
    print()
    print("item outcomes as CSV: the API's streamed export vs PostgreSQL COPY TO STDOUT")
    print(
        table(
            rows,
            (
                "rows",
                "exported",
                "ours rows/s",
                "COPY rows/s",
                "ours/COPY speed",
                "ours peak MB",
                "COPY peak MB",
                "CSV MB",
            ),
        )
    )


if __name__ == "__main__":
    main()
