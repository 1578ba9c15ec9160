"""Shared steps of the execution tests: a subject with items in two namespaces, a request
approved for it, real worker processes, and the checks every run must pass."""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter

from django.contrib.auth import get_user_model
from django.db import connection

from erasure.actors import Actor
from erasure.models import (
    AuditEvent,
    Dispatch,
    ErasureItem,
    ErasureRequest,
    ItemMapping,
    Namespace,
)
from erasure.services.mappings import MappingInput, mappings_register
from erasure.services.requests import request_approve, request_file
from tests.conftest import ROOT, Emulator, manage_py, worker_env

SUBJECT = "auth0|crash-test-subject"
OTHER = "auth0|someone-else"


def prepare(
    emulator: Emulator,
    *,
    texts: int,
    vectors: int,
    absent: int = 0,
    others: int = 5,
    approve: bool = True,
    text_mode: str | None = None,
) -> ErasureRequest:
    """Seed `notes` (text) and `vecs` (vector), map them, file and approve a request.

    `absent` extra mapped IDs per namespace do not exist in the emulator (→ not_found, or
    deleted_or_not_found where the API cannot tell); `others` belong to another subject and
    must survive.
    """
    emulator.seed(
        [
            {
                "name": "notes",
                "type": "text",
                "items": [{"id": f"t{n}", "text": f"text {n}"} for n in range(texts)]
                + [{"id": f"other-t{n}", "text": "keep"} for n in range(others)],
            },
            {
                "name": "vecs",
                "type": "vector",
                "vector_dimension": 2,
                "items": [{"id": f"v{n}", "vector": [0.1, 0.2]} for n in range(vectors)]
                + [{"id": f"other-v{n}", "vector": [0.1, 0.2]} for n in range(others)],
            },
        ]
    )
    items = [MappingInput(SUBJECT, "notes", f"t{n}") for n in range(texts + absent)]
    items += [MappingInput(SUBJECT, "vecs", f"v{n}") for n in range(vectors + absent)]
    items += [MappingInput(OTHER, "notes", f"other-t{n}") for n in range(others)]
    for start in range(0, len(items), 10_000):
        mappings_register(items=items[start : start + 10_000], actor=Actor.system("test"))
    if text_mode:
        Namespace.objects.filter(name="notes").update(attribution_mode=text_mode)
    users = get_user_model().objects
    filer = users.get_or_create(username="filer")[0]
    approver = users.get_or_create(username="approver")[0]
    request = request_file(subject_key=SUBJECT, actor=Actor.for_user(filer), source="admin")
    if not approve:
        return request.request
    return request_approve(request=request.request, actor=Actor.for_user(approver))


def approve(request: ErasureRequest) -> ErasureRequest:
    approver = get_user_model().objects.get(username="approver")
    return request_approve(request=request, actor=Actor.for_user(approver))


def file_and_approve() -> ErasureRequest:
    """A request for SUBJECT, filed and approved (its mappings registered beforehand)."""
    users = get_user_model().objects
    filer = users.get_or_create(username="filer")[0]
    users.get_or_create(username="approver")
    filed = request_file(subject_key=SUBJECT, actor=Actor.for_user(filer), source="admin")
    return approve(filed.request)


def env(emulator: Emulator, **extra: str) -> dict[str, str]:
    base = {
        "ERASURE_LEASE_SECONDS": "2",
        "ERASURE_STALLED_JOB_SECONDS": "1",
        "ERASURE_WORKER_HEARTBEAT_SECONDS": "0.5",
        "ERASURE_RETRY_BASE_SECONDS": "0.05",
        "NAMESPACE_API_TIMEOUT": "5",
    }
    base.update(extra)
    return worker_env(connection.settings_dict["NAME"], emulator, **base)


def worker(
    emulator: Emulator, *, concurrency: int = 2, one_shot: bool = True, **extra: str
) -> subprocess.Popen:
    """A real worker process; with `one_shot`, it exits when nothing is ready to run."""
    return subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "procrastinate",
            "worker",
            *(["--one-shot"] if one_shot else []),
            "--concurrency",
            str(concurrency),
        ],
        cwd=ROOT,
        env=env(emulator, **extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def drive_to_completion(emulator: Emulator, request_id, *, deadline_s: float = 120, **extra):
    """Sweep and run workers until the request leaves `running` (as an operator's cron
    and a restarted worker would)."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        request = ErasureRequest.objects.get(pk=request_id)
        if request.status not in ("approved", "running"):
            return request
        sweep = manage_py("erasure_sweep", env=env(emulator, **extra))
        assert sweep.returncode == 0, sweep.stdout + sweep.stderr
        process = worker(emulator, **extra)
        output, _ = process.communicate(timeout=deadline_s)
        assert process.returncode == 0, output
        time.sleep(0.2)
    raise AssertionError(f"request {request_id} did not finish in {deadline_s}s")


def assert_consistent(request: ErasureRequest, emulator: Emulator) -> Counter:
    """What every run must end with, whatever happened on the way."""
    items = ErasureItem.objects.filter(request=request)
    outcomes = Counter(items.values_list("outcome", flat=True))
    assert outcomes["pending"] == 0, outcomes
    # Each item is terminal once, decided by a recorded dispatch of this request.
    assert not items.filter(decided_by__isnull=True).exists()
    assert not items.exclude(decided_by__request=request).exists()
    assert not items.exclude(lease_owner="").exists()
    # Nothing the subject owned and this request did not report failed is still stored.
    stored = emulator.ids("notes") | emulator.ids("vecs")
    assert {i for i in stored if not i.startswith("other-")} == set(
        items.filter(outcome="failed").values_list("item_id", flat=True)
    )
    assert {i for i in stored if i.startswith("other-")} == {f"other-t{n}" for n in range(5)} | {
        f"other-v{n}" for n in range(5)
    }
    # Status and counts agree with the items.
    expected = "completed_with_failures" if outcomes["failed"] else "completed"
    assert request.status == expected
    # The audit trail has the whole story: one dispatch event per recorded batch (each
    # listing its dispatches), and the completion with the same counts.
    events = AuditEvent.objects.filter(request=request)
    recorded = [e.details for e in events.filter(event_type="dispatch.recorded")]
    listed = sorted(d for e in recorded for d in e["dispatch_ids"])
    assert listed == sorted(Dispatch.objects.filter(request=request).values_list("id", flat=True))
    completed = events.get(event_type="request.completed")
    assert completed.details["counts"] == {k: v for k, v in outcomes.items() if v}
    # The erased items' mappings are gone; the failed ones stay, to be retried.
    failed = set(items.filter(outcome="failed").values_list("item_id", flat=True))
    remaining = set(
        ItemMapping.objects.filter(subject=request.subject).values_list("item_id", flat=True)
    )
    assert remaining == failed
    return outcomes
