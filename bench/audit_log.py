"""The audit log: appends, the sequencer, proofs in a large log, offline verification.

    .venv/bin/python -m bench.audit_log [--quick] [--writers 1,4,16] [--seconds 8] [--rounds 2]
                                        [--sequence 200000] [--sizes 1000000,10000000]
                                        [--export 1000000] [--proofs 200] [--keep]

In one run, each against a floor or a baseline measured in the same run:

1. appends per second with 1, 4 and 16 concurrent writers (threads, a database connection
   each, every append its own `transaction.atomic()`), through `audit_record` (no lock; the
   sequencer's on-commit wake-up included, as in production), against a faithful copy of
   the retired hash chain's append (a global advisory lock, read the last event's hash,
   SHA-256 over canonical JSON with `prev_hash`, insert with `prev_hash`/`hash`); and, to
   show the wake-up's share, `audit_record` with the wake-up switched off;
2. the sequencer (`sequence_pending`, signed checkpoints and all) over N events inserted
   unsequenced, against one bare `UPDATE ... FROM unnest(...)` of the same leaf indexes and
   hashes on an identically indexed copy of the table (and on a copy with the log's row
   trigger);
3. inclusion and consistency proofs (median, p99) at two sizes of log (1M and 10M events;
   the tree is stored directly: synthetic events COPYed with their leaf index and hash,
   bypassing the INSERT trigger as superuser, and every complete subtree computed with
   `merkle.Frontier`, then VACUUM and CHECKPOINT, as a log in service would be). Every timed
   proof is verified against a root computed while building (not read back from the
   database);
4. `manage.py verify_audit --file --checkpoint --public-key` (a subprocess) on a JSON Lines
   export of the whole log at 1M events, written by the export's own code
   (`jsonl_lines(audit_export_rows())`), held to a checkpoint signed for the root, against
   a floor: `json.loads` and SHA-256 of every line, in process.

`--quick` (a smoke test: 10k and 100k events, an export of 100k) runs in under a minute;
the full run in about 8 minutes on 2 CPUs. Uses a database of its own (`bench_audit_log`,
recreated, and dropped at the end unless --keep) on the server of DATABASE_URL, or on
127.0.0.1:5432; the role must be a superuser (`session_replication_role`). The full run
needs about 10 GB of free disk on the database server (10M events, 10M nodes, their WAL;
the database is 5.8 GB at the end) and checks that it is there first.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

from bench.common import ROOT, fresh_database, table

BENCH_DB = "bench_audit_log"
# The retired chain's lock (a constant naming "the audit chain" among advisory locks).
OLD_CHAIN_LOCK = 0x45524153  # "ERAS"
GENESIS = "0" * 64
RESET_SQL = """
    SET session_replication_role = replica;
    TRUNCATE erasure_auditevent, erasure_audittreenode, erasure_auditcheckpoint,
             procrastinate_jobs RESTART IDENTITY CASCADE;
    RESET session_replication_role;
"""


def bench_database_url() -> str:
    return fresh_database(BENCH_DB)


def setup(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("SECRET_KEY", "bench-secret")
    os.environ.setdefault("SUBJECT_HASH_KEY", "bench-subject-hash-key")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ["DEBUG"] = "false"  # no query log in connection.queries
    os.environ["LOG_LEVEL"] = "WARNING"
    subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", "migrate", "-v", "0"],
        cwd=ROOT,
        env=dict(os.environ),
        check=True,
    )
    import django

    django.setup()
    from django.conf import settings

    from erasure.transparency.notes import Signer

    if not settings.AUDIT_SIGNING_KEY:
        settings.AUDIT_SIGNING_KEY = Signer.generate("bench-audit-log").encode()
        os.environ["AUDIT_SIGNING_KEY"] = settings.AUDIT_SIGNING_KEY


def reset(database_url: str) -> None:
    """Empty the log (as superuser: the triggers refuse TRUNCATE to everyone else)."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(RESET_SQL)


def percentiles_ms(times: list[float]) -> tuple[str, str, str]:
    ordered = sorted(times)
    p99 = ordered[min(math.ceil(len(ordered) * 0.99), len(ordered)) - 1]
    return (
        f"{statistics.median(ordered) * 1000:.2f}",
        f"{p99 * 1000:.2f}",
        f"{ordered[-1] * 1000:.2f}",
    )


# -- 1. appends ------------------------------------------------------------------------------


def old_audit_record(*, event_type: str, actor, details: dict | None = None):  # noqa: ANN001, ANN201
    """The retired linear chain's append, as it was: one writer at a time (a global
    transaction-scoped advisory lock), each reading the previous event's hash."""
    from django.db import connection
    from django.utils import timezone

    from erasure.models import AuditEvent

    if not connection.in_atomic_block:
        raise RuntimeError("audit_record must be called inside transaction.atomic()")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [OLD_CHAIN_LOCK])
    previous = AuditEvent.objects.order_by("-id").values_list("hash", flat=True).first()
    prev_hash = previous or GENESIS
    occurred_at = timezone.now()
    details = json.loads(json.dumps(details or {}, default=str))
    payload = {
        "occurred_at": occurred_at.astimezone(UTC).isoformat(),
        "event_type": event_type,
        "actor": actor.label,
        "request_id": None,
        "subject_hash": "",
        "details": details,
        "prev_hash": prev_hash,
    }
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    event = AuditEvent(
        occurred_at=occurred_at,
        event_type=event_type,
        actor=actor.label,
        request=None,
        subject_hash="",
        details=details,
        prev_hash=prev_hash,
        hash=hashlib.sha256(canonical.encode()).hexdigest(),
    )
    event.save(force_insert=True)
    return event


def run_appends(record: Callable, writers: int, seconds: float) -> tuple[int, float]:
    """`writers` threads appending for `seconds`; (appends after the warm-up, wall time)."""
    from django.db import connections, transaction

    from erasure.actors import Actor

    barrier = threading.Barrier(writers + 1)
    counts = [0] * writers
    ends = [0.0] * writers
    errors: list[BaseException] = []

    def writer(number: int) -> None:
        actor = Actor.system("bench")
        details = {"namespace": "docs-a", "writer": number, "items": 1000}
        try:
            with transaction.atomic():  # warm-up: the connection, the first queries
                record(event_type="mappings.registered", actor=actor, details=details)
        except BaseException as exc:
            errors.append(exc)
            barrier.abort()
            raise
        try:
            barrier.wait()
            deadline = time.perf_counter() + seconds
            n = 0
            while time.perf_counter() < deadline:
                with transaction.atomic():
                    record(
                        event_type="mappings.registered", actor=actor, details={**details, "n": n}
                    )
                n += 1
            counts[number] = n
            ends[number] = time.perf_counter()
        except BaseException as exc:
            errors.append(exc)
            raise
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    if errors:
        raise RuntimeError(f"a writer failed: {errors[0]!r}") from errors[0]
    return sum(counts), max(ends) - started


def check_old_chain(expected: int) -> str:
    from erasure.models import AuditEvent

    rows = list(AuditEvent.objects.order_by("id").values_list("prev_hash", "hash"))
    previous = GENESIS
    for prev_hash, digest in rows:
        if prev_hash != previous:
            raise RuntimeError("the old path forked its chain: the lock did not serialise it")
        previous = digest
    if len(rows) != expected:
        raise RuntimeError(f"old path: {len(rows)} events, expected {expected}")
    return "chain unbroken"


def check_new_appends(expected: int) -> str:
    from procrastinate.contrib.django.models import ProcrastinateJob

    from erasure import queue
    from erasure.models import AuditEvent

    events = AuditEvent.objects.count()
    pending = AuditEvent.objects.filter(leaf_index__isnull=True).count()
    jobs = ProcrastinateJob.objects.filter(
        task_name=queue.SEQUENCE_AUDIT_TASK, status="todo"
    ).count()
    if events != expected or pending != expected or jobs != 1:
        raise RuntimeError(
            f"new path: {events} events ({pending} unsequenced), {jobs} sequencer jobs queued; "
            f"expected {expected} and 1"
        )
    return "1 sequencer job queued"


def check_unwoken_appends(expected: int) -> str:
    from procrastinate.contrib.django.models import ProcrastinateJob

    from erasure.models import AuditEvent

    events = AuditEvent.objects.filter(leaf_index__isnull=True).count()
    jobs = ProcrastinateJob.objects.count()
    if events != expected or jobs:
        raise RuntimeError(f"new path without wake-up: {events} events, {jobs} jobs")
    return "no job"


def bench_appends(
    database_url: str, writer_counts: list[int], seconds: float, rounds: int
) -> list[tuple]:
    """Old, new and (to show its share) new without the wake-up in turn, `rounds` times per
    writer count; the best run of each counts (the disk's fsync time varies from second to
    second on a shared machine)."""
    from erasure.services import audit

    def unwoken(**kwargs):  # noqa: ANN003, ANN202
        return audit.audit_record(**kwargs)

    variants = (
        ("old", old_audit_record, check_old_chain),
        ("new", audit.audit_record, check_new_appends),
        ("new without wake-up", unwoken, check_unwoken_appends),
    )
    wake = audit._wake_sequencer_after_commit
    rows = []
    for writers in writer_counts:
        best: dict[str, float] = {}
        for _ in range(rounds):
            for name, record, check in variants:
                reset(database_url)
                if record is unwoken:
                    audit._wake_sequencer_after_commit = lambda: None  # type: ignore[assignment]
                try:
                    count, elapsed = run_appends(record, writers, seconds)
                finally:
                    audit._wake_sequencer_after_commit = wake  # type: ignore[assignment]
                note = check(count + writers)
                print(
                    f"  appends, {writers} writers, {name}: {count:,} in {elapsed:.2f} s "
                    f"({count / elapsed:,.0f}/s; {note})",
                    flush=True,
                )
                best[name] = max(best.get(name, 0.0), count / elapsed)
        rows.append(
            (
                writers,
                f"{best['old']:,.0f}",
                f"{best['new']:,.0f}",
                f"{best['new'] / best['old']:.2f}",
                f"{best['new without wake-up']:,.0f}",
            )
        )
    reset(database_url)
    return rows


# -- 2. the sequencer ------------------------------------------------------------------------

FLOOR_TABLES = ("bench_sequencer_floor", "bench_sequencer_floor_trigger")
INSERT_UNSEQUENCED = """
    INSERT INTO erasure_auditevent (occurred_at, event_type, actor, request_id, subject_hash,
                                    details, prev_hash, hash)
    SELECT now() + g * interval '1 microsecond', 'dispatch.recorded', 'system:worker', NULL,
           encode(sha256(('subject-' || (g %% 1000))::bytea), 'hex'),
           jsonb_build_object(
               'namespace', 'docs-' || (g %% 4), 'dispatch_ids', jsonb_build_array(g),
               'items', 1000, 'results', jsonb_build_object('deleted', 990, 'not_found', 10),
               'recorded', 1000, 'mappings_removed', 1000, 'stopped', NULL),
           NULL, NULL
    FROM generate_series(1, %s) g
"""


def bench_sequencer(database_url: str, n: int) -> tuple[list[tuple], str]:
    from django.conf import settings
    from django.db import connection

    from erasure.models import AuditCheckpoint
    from erasure.services import audit_log
    from erasure.services.audit import leaf_record
    from erasure.transparency import merkle
    from erasure.transparency.leaves import event_leaf_hash

    reset(database_url)
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(INSERT_UNSEQUENCED, [n])
        # The floor's tables: the same columns, indexes and rows (LIKE copies no trigger);
        # the second one also has the log's row trigger, to show what that costs.
        for name in FLOOR_TABLES:
            conn.execute(f"DROP TABLE IF EXISTS {name}")
            conn.execute(f"CREATE TABLE {name} (LIKE erasure_auditevent INCLUDING ALL)")
            conn.execute(f"INSERT INTO {name} SELECT * FROM erasure_auditevent")  # noqa: S608
            conn.execute(f"ANALYZE {name}")
        conn.execute(
            f"CREATE TRIGGER guard BEFORE UPDATE ON {FLOOR_TABLES[1]} "
            "FOR EACH ROW EXECUTE FUNCTION erasure_audit_event_guard()"
        )
        conn.execute("ANALYZE erasure_auditevent")

    # In process only: the leaves' hashes and the tree's nodes, from the same rows.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, occurred_at, event_type, actor, request_id, subject_hash, details "
            "FROM erasure_auditevent WHERE leaf_index IS NULL ORDER BY id"
        )
        fetched = cursor.fetchall()
    started = time.perf_counter()
    frontier = merkle.Frontier()
    for event_id, occurred_at, event_type, actor, request_id, subject_hash, details in fetched:
        record = leaf_record(
            id=event_id,
            occurred_at=occurred_at,
            event_type=event_type,
            actor=actor,
            request_id=request_id,
            subject_hash=subject_hash,
            details=json.loads(details) if isinstance(details, str) else details,
        )
        frontier.append(event_leaf_hash(record))
    hashing = time.perf_counter() - started
    del fetched

    started = time.perf_counter()
    sequenced = audit_log.sequence_pending()
    sequencer = time.perf_counter() - started
    checkpoints = AuditCheckpoint.objects.count()
    latest = audit_log.latest_checkpoint()
    if (
        sequenced != n
        or audit_log.tree_size() != n
        or audit_log.pending_count()
        or latest is None
        or bytes(latest.root_hash) != frontier.root()
        or audit_log.root_at(n) != frontier.root()
    ):
        raise RuntimeError("the sequencer's tree is not the one computed in process")
    verified = audit_log.audit_verify()
    if not verified.ok or verified.tree_size != n:
        raise RuntimeError(f"audit_verify after sequencing: {verified}")

    with psycopg.connect(database_url, autocommit=True) as conn:
        ids, indexes, hashes = conn.execute(
            "SELECT array_agg(id ORDER BY id), array_agg(leaf_index ORDER BY id), "
            "array_agg(leaf_hash ORDER BY id) FROM erasure_auditevent"
        ).fetchone()
        floors = []
        for name in FLOOR_TABLES:
            started = time.perf_counter()
            updated = conn.execute(
                f"""
                UPDATE {name} e SET leaf_index = v.leaf_index, leaf_hash = v.leaf_hash
                FROM unnest(%s::bigint[], %s::bigint[], %s::bytea[])
                     AS v(id, leaf_index, leaf_hash)
                WHERE e.id = v.id
                """,  # noqa: S608
                [ids, indexes, hashes],
            ).rowcount
            floors.append(time.perf_counter() - started)
            conn.execute(f"DROP TABLE {name}")
            if updated != n:
                raise RuntimeError(f"the floor updated {updated} rows, not {n}")
    floor, floor_trigger = floors
    reset(database_url)

    batch = settings.AUDIT_SEQUENCE_BATCH
    rows = [
        (
            f"sequence_pending ({math.ceil(n / batch)} passes of <= {batch:,}, "
            f"{checkpoints} signed checkpoints)",
            f"{n:,}",
            f"{sequencer:.2f}",
            f"{n / sequencer:,.0f}",
        ),
        (
            "floor: one UPDATE ... FROM unnest(...) on a copy",
            f"{n:,}",
            f"{floor:.2f}",
            f"{n / floor:,.0f}",
        ),
        (
            "(the same UPDATE, on a copy with the log's row trigger)",
            f"{n:,}",
            f"{floor_trigger:.2f}",
            f"{n / floor_trigger:,.0f}",
        ),
        (
            "(in process: leaf hashes + frontier only)",
            f"{n:,}",
            f"{hashing:.2f}",
            f"{n / hashing:,.0f}",
        ),
    ]
    summary = (
        f"sequencer / bare update (events/s): {(n / sequencer) / (n / floor):.2f} "
        f"(the sequencer takes {sequencer / floor:.1f}x the bare update's time); "
        "audit_verify after sequencing: OK"
    )
    return rows, summary


# -- 3. and 4. a large stored tree, proofs, an export verified offline ------------------------

EVENT_COLUMNS = (
    "id, occurred_at, event_type, actor, request_id, subject_hash, details, prev_hash, hash, "
    "leaf_index, leaf_hash"
)
BASE_TIME = datetime(2026, 1, 1, tzinfo=UTC)
SUBJECTS = [hashlib.sha256(f"subject-{n}".encode()).hexdigest() for n in range(1000)]
NAMESPACES = ("docs-a", "docs-b", "vecs-a", "vecs-b")


def synthetic_event(index: int) -> tuple[int, str, str, str]:
    """Leaf `index`'s event (id index + 1): id, occurred_at, subject hash, details JSON."""
    occurred_at = (BASE_TIME + timedelta(microseconds=index * 1013)).isoformat()
    details = (
        f'{{"dispatch_ids":[{index + 1}],"items":1000,"mappings_removed":1000,'
        f'"namespace":"{NAMESPACES[index % 4]}","recorded":1000,'
        '"results":{"deleted":990,"not_found":10},"stopped":null}'
    )
    return index + 1, occurred_at, SUBJECTS[index % 1000], details


def synthetic_canonical(event_id: int, occurred_at: str, subject: str, details: str) -> bytes:
    """canonical_bytes of the synthetic event, by template (checked against the real one)."""
    return (
        f'{{"actor":"system:worker","details":{details},"event_type":"dispatch.recorded",'
        f'"id":{event_id},"occurred_at":"{occurred_at}","request_id":null,'
        f'"subject_hash":"{subject}"}}'
    ).encode()


def check_template(index: int) -> None:
    from erasure.transparency.leaves import canonical_bytes

    event_id, occurred_at, subject, details = synthetic_event(index)
    record = {
        "id": event_id,
        "occurred_at": occurred_at,
        "event_type": "dispatch.recorded",
        "actor": "system:worker",
        "request_id": None,
        "subject_hash": subject,
        "details": json.loads(details),
    }
    if canonical_bytes(record) != synthetic_canonical(event_id, occurred_at, subject, details):
        raise RuntimeError(f"the synthetic leaf template is not canonical_bytes (leaf {index})")


def grow_tree(
    database_url: str, frontier, end: int, roots: dict[int, bytes]
) -> tuple[float, float]:  # noqa: ANN001
    """COPY leaves frontier.size..end-1 and the subtrees they complete; note the root at
    every size in `roots`. Returns the seconds of the COPY, and of VACUUM and CHECKPOINT."""
    from erasure.transparency import merkle

    started = time.perf_counter()
    chunk = 50_000
    with (
        psycopg.connect(database_url) as events_conn,
        psycopg.connect(database_url) as nodes_conn,
    ):
        # As superuser: past the trigger that refuses events with a leaf index.
        events_conn.execute("SET session_replication_role = replica")
        with (
            events_conn.cursor().copy(
                f"COPY erasure_auditevent ({EVENT_COLUMNS}) FROM STDIN"  # noqa: S608
            ) as events_copy,
            nodes_conn.cursor().copy(
                "COPY erasure_audittreenode (level, index, hash) FROM STDIN"
            ) as nodes_copy,
        ):
            for first in range(frontier.size, end, chunk):
                event_lines, node_lines = [], []
                for index in range(first, min(first + chunk, end)):
                    event_id, occurred_at, subject, details = synthetic_event(index)
                    leaf = merkle.leaf_hash(
                        synthetic_canonical(event_id, occurred_at, subject, details)
                    )
                    event_lines.append(
                        f"{event_id}\t{occurred_at}\tdispatch.recorded\tsystem:worker\t\\N\t"
                        f"{subject}\t{details}\t\\N\t\\N\t{index}\t\\\\x{leaf.hex()}\n"
                    )
                    for level, position, node in frontier.append(leaf):
                        node_lines.append(f"{level}\t{position}\t\\\\x{node.hex()}\n")
                    if frontier.size in roots:
                        roots[frontier.size] = frontier.root()
                events_copy.write("".join(event_lines))
                nodes_copy.write("".join(node_lines))
    copied = time.perf_counter() - started
    started = time.perf_counter()
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("SELECT setval(pg_get_serial_sequence('erasure_auditevent', 'id'), %s)", [end])
        # A log in service has long been vacuumed (hint bits, visibility map) and its
        # pages written out: proofs are timed in that state, not amid the COPY's writeback.
        conn.execute("VACUUM (ANALYZE) erasure_auditevent, erasure_audittreenode")
        conn.execute("CHECKPOINT")
    return copied, time.perf_counter() - started


def check_stored_events(size: int, rng: random.Random) -> None:
    """Events read back through the ORM have the leaf hashes that were stored for them."""
    from erasure.models import AuditEvent
    from erasure.services.audit import event_record
    from erasure.transparency.leaves import event_leaf_hash

    ids = [1, size, *(rng.randrange(size) + 1 for _ in range(20))]
    for event in AuditEvent.objects.filter(pk__in=ids):
        if event_leaf_hash(event_record(event)) != bytes(event.leaf_hash):
            raise RuntimeError(f"event {event.pk} does not read back as its leaf")


def time_proofs(size: int, count: int, roots: dict[int, bytes], pairs) -> list[tuple]:  # noqa: ANN001
    from erasure.services import audit_log
    from erasure.transparency import merkle

    rng = random.Random(size)  # noqa: S311 (a reproducible sample, not a secret)
    root = roots[size]
    if audit_log.root_at(size) != root:
        raise RuntimeError(f"root_at({size}) is not the root computed while building")
    for index in [rng.randrange(size) for _ in range(10)]:  # warm-up, untimed
        audit_log.inclusion_proof(event_id=index + 1, size=size)
    times = []
    for index in [rng.randrange(size) for _ in range(count)]:
        started = time.perf_counter()
        proof = audit_log.inclusion_proof(event_id=index + 1, size=size)
        times.append(time.perf_counter() - started)
        if proof.leaf_index != index:
            raise RuntimeError(f"event {index + 1} is leaf {proof.leaf_index}, not {index}")
        merkle.verify_inclusion(
            index=index, size=size, leaf=proof.leaf_hash, proof=proof.path, root=root
        )
    rows = [(f"{size:,}", "inclusion", count, *percentiles_ms(times), "all verified")]
    times = []
    for first, second in pairs:
        started = time.perf_counter()
        proof = audit_log.consistency_proof(first=first, second=second)
        times.append(time.perf_counter() - started)
        merkle.verify_consistency(
            first=first,
            second=second,
            first_root=roots[first],
            second_root=roots[second],
            proof=proof,
        )
    rows.append((f"{size:,}", "consistency", len(pairs), *percentiles_ms(times), "all verified"))
    return rows


def export_and_verify(directory: Path, size: int, root: bytes) -> tuple[list[tuple], str]:
    from erasure.exports import audit_export_rows, jsonl_lines
    from erasure.services import audit_log
    from erasure.transparency.notes import Checkpoint, sign_checkpoint

    export = directory / "export.jsonl"
    started = time.perf_counter()
    with export.open("w", encoding="utf-8") as fh:
        for chunk in jsonl_lines(audit_export_rows()):
            fh.write(chunk)
    exported = time.perf_counter() - started
    signer = audit_log.signer()
    if signer is None:
        raise RuntimeError("no signing key")
    checkpoint = directory / "checkpoint"
    checkpoint.write_text(
        sign_checkpoint(
            Checkpoint(origin=audit_log.log_origin(), size=size, root_hash=root), signer
        ),
        encoding="utf-8",
    )
    key = directory / "public-key"
    key.write_text(signer.verifier.encode() + "\n", encoding="utf-8")
    empty = directory / "empty.jsonl"
    empty.write_text("", encoding="utf-8")

    def verify(path: Path, *extra: str) -> tuple[float, str]:
        started = time.perf_counter()
        done = subprocess.run(  # noqa: S603
            [sys.executable, "manage.py", "verify_audit", "--file", str(path), *extra],
            cwd=ROOT,
            env=dict(os.environ),
            capture_output=True,
            text=True,
            check=False,
        )
        elapsed = time.perf_counter() - started
        if done.returncode != 0 or not done.stdout.startswith("OK"):
            raise RuntimeError(
                f"verify_audit failed ({done.returncode}): {done.stdout}{done.stderr}"
            )
        return elapsed, done.stdout.strip()

    startup, _ = verify(empty)
    verify_s, output = verify(export, "--checkpoint", str(checkpoint), "--public-key", str(key))
    if not output.startswith(f"OK: {size} events verified") or "1 signed checkpoints" not in output:
        raise RuntimeError(f"verify_audit did not hold the export to the checkpoint: {output}")

    started = time.perf_counter()
    lines = 0
    with export.open(encoding="utf-8") as fh:
        for line in fh:
            json.loads(line)
            hashlib.sha256(line.encode()).digest()
            lines += 1
    floor = time.perf_counter() - started
    if lines != size:
        raise RuntimeError(f"the export has {lines} lines, not {size}")

    megabytes = export.stat().st_size / 1e6
    rows = [
        (
            "export written (jsonl_lines(audit_export_rows()))",
            f"{size:,}",
            f"{exported:.2f}",
            f"{size / exported:,.0f}",
        ),
        (
            "verify_audit --file --checkpoint --public-key",
            f"{size:,}",
            f"{verify_s:.2f}",
            f"{size / verify_s:,.0f}",
        ),
        ("  of which process start (an empty export)", "0", f"{startup:.2f}", ""),
        (
            "floor: json.loads + sha256 per line, in process",
            f"{size:,}",
            f"{floor:.2f}",
            f"{size / floor:,.0f}",
        ),
    ]
    summary = (
        f"export: {megabytes:,.0f} MB; verify_audit said: {output}\n"
        f"verify / floor (events/s): {(size / verify_s) / (size / floor):.2f} "
        f"(startup excluded: {(size / max(verify_s - startup, 1e-9)) / (size / floor):.2f})"
    )
    return rows, summary


def free_bytes(database_url: str) -> int:
    with psycopg.connect(database_url, autocommit=True) as conn:
        directory = conn.execute("SHOW data_directory").fetchone()[0]
    try:
        return shutil.disk_usage(directory).free
    except OSError:
        return shutil.disk_usage(ROOT).free


def bench_large_log(
    database_url: str, sizes: list[int], export_size: int, proofs: int
) -> tuple[list[tuple], list[tuple], str, list[str]]:
    from erasure.transparency import merkle

    largest = max([*sizes, export_size])
    needed = largest * 1100 + export_size * 600  # rows, indexes, nodes, WAL; the export file
    free = free_bytes(database_url)
    if free < needed:
        raise SystemExit(
            f"{largest:,} events need about {needed / 1e9:.1f} GB of disk; {free / 1e9:.1f} free"
        )
    rng = random.Random(4321)  # noqa: S311 (a reproducible sample, not a secret)
    pairs = {}
    for size in sizes:
        chosen = []
        for _ in range(proofs):
            second = rng.randint(2, size)
            chosen.append((rng.randint(1, second - 1), second))
        pairs[size] = chosen
    roots: dict[int, bytes] = dict.fromkeys(
        {*sizes, export_size, *(n for chosen in pairs.values() for pair in chosen for n in pair)},
        b"",
    )
    for index in (0, 1, 999, 1000, largest - 1, *(rng.randrange(largest) for _ in range(1000))):
        check_template(index)

    reset(database_url)
    frontier = merkle.Frontier()
    proof_rows: list[tuple] = []
    verify_rows: list[tuple] = []
    summary = ""
    notes = []
    for stage in sorted({*sizes, export_size}):
        built_from = frontier.size
        seconds, vacuum = grow_tree(database_url, frontier, stage, roots)
        notes.append(
            f"stored tree grown {built_from:,} -> {stage:,} events by COPY in {seconds:.1f} s "
            f"({(stage - built_from) / seconds:,.0f} events/s, nodes included), then "
            f"VACUUM (ANALYZE) and CHECKPOINT in {vacuum:.1f} s"
        )
        print(f"  {notes[-1]}", flush=True)
        check_stored_events(stage, rng)
        if stage in sizes:
            proof_rows.extend(time_proofs(stage, proofs, roots, pairs[stage]))
            print(f"  proofs at {stage:,} timed", flush=True)
        if stage == export_size:
            with tempfile.TemporaryDirectory(prefix="bench-audit-log-") as directory:
                verify_rows, summary = export_and_verify(Path(directory), stage, roots[stage])
            print(f"  export of {stage:,} verified", flush=True)
    return proof_rows, verify_rows, summary, notes


def database_size(database_url: str) -> str:
    with psycopg.connect(database_url, autocommit=True) as conn:
        return conn.execute(
            "SELECT pg_size_pretty(pg_database_size(current_database()))"
        ).fetchone()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke test: small sizes")
    parser.add_argument("--writers", default="1,4,16", help="concurrent writers, one run each")
    parser.add_argument("--seconds", type=float, help="per append run (default 8; quick 2)")
    parser.add_argument("--sequence", type=int, help="events to sequence (200,000; quick 20,000)")
    parser.add_argument("--sizes", help="log sizes for proofs (1000000,10000000; quick 10k,100k)")
    parser.add_argument("--export", type=int, help="events exported (1,000,000; quick 100,000)")
    parser.add_argument("--rounds", type=int, help="append runs per path, best counts (2; quick 1)")
    parser.add_argument("--proofs", type=int, default=200, help="proofs timed of each kind")
    parser.add_argument("--keep", action="store_true", help="keep the database (else dropped)")
    args = parser.parse_args()
    seconds = args.seconds or (2.0 if args.quick else 8.0)
    rounds = args.rounds or (1 if args.quick else 2)
    sequence = args.sequence or (20_000 if args.quick else 200_000)
    sizes = [
        int(x)
        for x in (args.sizes or ("10000,100000" if args.quick else "1000000,10000000")).split(",")
    ]
    export_size = args.export or (100_000 if args.quick else 1_000_000)
    writer_counts = [int(x) for x in args.writers.split(",")]

    base_url = os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/postgres"
    database_url = bench_database_url()
    with psycopg.connect(database_url, autocommit=True) as conn:
        superuser = conn.execute("SHOW is_superuser").fetchone()[0] == "on"
        server = conn.execute("SHOW server_version").fetchone()[0]
    if not superuser:
        raise SystemExit("the bench needs a superuser (session_replication_role, TRUNCATE)")
    setup(database_url)
    began = time.perf_counter()

    print(f"appends ({seconds:g} s per run) ...", flush=True)
    append_rows = bench_appends(database_url, writer_counts, seconds, rounds)
    print(f"sequencer ({sequence:,} events) ...", flush=True)
    sequencer_rows, sequencer_summary = bench_sequencer(database_url, sequence)
    print(
        f"large log ({', '.join(f'{s:,}' for s in sizes)}; export {export_size:,}) ...", flush=True
    )
    proof_rows, verify_rows, verify_summary, notes = bench_large_log(
        database_url, sizes, export_size, args.proofs
    )
    size_on_disk = database_size(database_url)

    print()
    print(
        f"The audit log, {os.cpu_count()} CPUs, PostgreSQL {server}, database {BENCH_DB} "
        f"({size_on_disk} at the end){', --quick' if args.quick else ''}; "
        f"{time.perf_counter() - began:.0f} s in all"
    )
    print()
    print(
        f"1. Appends, events/s (best of {rounds} runs of {seconds:g} s; threads, a connection "
        "each, one transaction per append)\n   old: the retired chain (advisory lock, read the "
        "last hash); new: audit_record (no lock) + the on-commit sequencer wake-up"
    )
    print(table(append_rows, ("writers", "old/s", "new/s", "new/old", "(new without wake-up/s)")))
    print(
        "   (the wake-up finds the sequencer's job already queued, as under load: one indexed "
        "read, no defer; no worker runs during the appends)"
    )
    print()
    print("2. The sequencer")
    print(table(sequencer_rows, ("", "events", "s", "events/s")))
    print(sequencer_summary)
    print()
    print(
        "3. Proofs in the stored tree (audit_log.inclusion_proof / consistency_proof; random "
        "events / random pairs of sizes; each verified against a root computed in process)"
    )
    print(table(proof_rows, ("log size", "proof", "n", "median ms", "p99 ms", "max ms", "")))
    for note in notes:
        print(note)
    print()
    print(f"4. Offline verification of an export of {export_size:,} events")
    print(table(verify_rows, ("", "events", "s", "events/s")))
    print(verify_summary)
    if not args.keep:
        from django.db import connections

        connections.close_all()
        with psycopg.connect(base_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")


if __name__ == "__main__":
    main()
