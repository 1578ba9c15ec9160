"""A worker killed with SIGKILL at chosen points, then another worker: nothing is lost,
nothing is recorded twice, and what is reported is only what can be proven."""

from __future__ import annotations

import time

import pytest
from django.db import connection
from django.utils import timezone

from erasure.models import Dispatch, ErasureItem, ErasureRequest
from tests.conftest import ROOT, manage_py
from tests.services.execution.helpers import (
    assert_consistent,
    drive_to_completion,
    env,
    prepare,
    worker,
)

pytestmark = pytest.mark.django_db(transaction=True)

TEXTS, VECTORS = 40, 30


@pytest.fixture(autouse=True)
def one_job_at_a_time(settings):
    # The failpoints count hits per process: one job, one thread, so that "the second
    # batch" means the same batch on every run.
    settings.ERASURE_JOBS_PER_REQUEST = 1


def _crash(emulator, request, failpoint: str) -> None:
    process = worker(
        emulator, concurrency=1, ERASURE_FAILPOINTS=failpoint, ERASURE_JOBS_PER_REQUEST="1"
    )
    output, _ = process.communicate(timeout=60)
    assert process.returncode == -9, f"the worker was meant to die at {failpoint}:\n{output}"


@pytest.mark.parametrize(
    ("failpoint", "crashed", "vector_outcome"),
    [
        # Claimed, nothing sent yet (namespaces go in name order: notes, then vecs).
        ("execution.after_claim", "notes", "deleted"),
        # The text batch was deleted but not recorded: the pre-check had written down what it
        # saw, so the text items are proven deleted on the rerun.
        ("execution.after_answer", "notes", "deleted"),
        ("execution.before_commit", "notes", "deleted"),
        # The vector batch was deleted but not recorded: the rerun's counts are 0, and the
        # API cannot tell "we deleted it" from "it was never there".
        ("execution.after_answer@2", "vecs", "deleted_or_not_found"),
        ("execution.before_commit@2", "vecs", "deleted_or_not_found"),
        # Claimed, nothing sent: the resend's counts prove every vector deleted.
        ("execution.after_claim@2", "vecs", "deleted"),
    ],
)
def test_a_killed_worker_loses_nothing_and_claims_nothing_it_cannot_prove(
    emulator, failpoint, crashed, vector_outcome
):
    request = prepare(emulator, texts=TEXTS, vectors=VECTORS)
    _crash(emulator, request, failpoint)
    leased = ErasureItem.objects.filter(request=request).exclude(lease_owner="")
    assert leased.exists(), "the dead worker's claim is still in place"

    time.sleep(2.2)  # its lease runs out, its heartbeat is stale
    final = drive_to_completion(emulator, request.pk)

    outcomes = assert_consistent(final, emulator)
    texts = ErasureItem.objects.filter(request=request, namespace__name="notes")
    vectors = ErasureItem.objects.filter(request=request, namespace__name="vecs")
    assert set(texts.values_list("outcome", flat=True)) == {"deleted"}
    assert set(vectors.values_list("outcome", flat=True)) == {vector_outcome}
    assert outcomes["deleted"] + outcomes["deleted_or_not_found"] == TEXTS + VECTORS
    # The crashed batch was tried twice; nothing else was.
    for name, expected in (
        ("notes", 2 if crashed == "notes" else 1),
        ("vecs", 2 if crashed == "vecs" else 1),
    ):
        tries = ErasureItem.objects.filter(request=request, namespace__name=name)
        assert set(tries.values_list("attempts", flat=True)) == {expected}, name


def test_a_sweeper_killed_midway_is_harmless_and_the_next_sweep_finishes_the_job(emulator):
    request = prepare(emulator, texts=TEXTS, vectors=VECTORS)
    _crash(emulator, request, "execution.after_answer")
    time.sleep(2.2)
    killed = manage_py("erasure_sweep", env=env(emulator, ERASURE_FAILPOINTS="sweeper.midway"))
    assert killed.returncode == -9
    # The stalled job was put back before the sweeper died: the queue holds it again.
    from erasure import queue

    assert queue.has_live_execution_job(request.pk)
    final = drive_to_completion(emulator, request.pk)
    assert_consistent(final, emulator)
    assert set(ErasureItem.objects.filter(request=request).values_list("outcome", flat=True)) == {
        "deleted"
    }


def test_a_request_that_never_finishes_is_flagged_for_an_operator(emulator, settings):
    from erasure.services.sweeper import requests_sweep

    request = prepare(emulator, texts=3, vectors=0)
    ErasureRequest.objects.filter(pk=request.pk).update(status="running")
    settings.ERASURE_MAX_WAKEUPS = 2
    results = []
    for _ in range(3):
        # Each time, the job that the sweeper queued is lost (deleted by hand here, as a
        # queue wipe would); the sweeper gives up after the limit instead of looping.
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM procrastinate_jobs")
        results.append(requests_sweep())
    assert [r.requeued for r in results] == [1, 1, 0]
    assert [r.flagged for r in results] == [0, 0, 1]
    request.refresh_from_db()
    assert request.stuck_since is not None
    assert "operator" in request.last_error


def test_a_killed_workers_items_are_worked_again_within_seconds_not_a_lease(emulator, settings):
    """With a 600 s lease and a 600 s stall limit, only liveness can bring the items back in
    time: the dead worker's locks are gone with its connection, so a live worker's sweeper
    re-queues its job and claims its items at once. Reports the seconds from the kill to the
    next dispatch of those items."""
    slow = {"ERASURE_LEASE_SECONDS": "600", "ERASURE_STALLED_JOB_SECONDS": "600"}
    request = prepare(emulator, texts=TEXTS, vectors=VECTORS)
    process = worker(
        emulator,
        concurrency=1,
        ERASURE_FAILPOINTS="execution.after_claim",
        ERASURE_JOBS_PER_REQUEST="1",
        **slow,
    )
    output, _ = process.communicate(timeout=60)
    assert process.returncode == -9, output
    killed_at = timezone.now()
    crashed = list(
        ErasureItem.objects.filter(request=request)
        .exclude(lease_owner="")
        .values_list("pk", flat=True)
    )
    assert crashed, "the dead worker's claim is in place, its lease 600 s long"

    survivor = worker(emulator, concurrency=2, one_shot=False, ERASURE_JOBS_PER_REQUEST="1", **slow)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            first = (
                Dispatch.objects.filter(request=request, created_at__gt=killed_at)
                .order_by("created_at")
                .values_list("created_at", flat=True)
                .first()
            )
            if first and not ErasureItem.objects.filter(pk__in=crashed, outcome="pending").exists():
                break
            time.sleep(0.2)
        else:
            raise AssertionError("the killed worker's items were not worked again in 60 s")
    finally:
        survivor.terminate()
        survivor.communicate(timeout=30)
    seconds = (first - killed_at).total_seconds()
    report = ROOT / "artifacts" / "recovery.txt"
    report.parent.mkdir(exist_ok=True)
    report.write_text(f"kill -> next dispatch of the killed worker's items: {seconds:.1f} s\n")
    print(f"\nkill -> next dispatch of the killed worker's items: {seconds:.1f} s")
    final = ErasureRequest.objects.get(pk=request.pk)
    if final.status == "running":
        final = drive_to_completion(emulator, request.pk)
    assert_consistent(final, emulator)
