"""A worker killed with SIGKILL at chosen points, then another worker: nothing is lost,
nothing is recorded twice, and what is reported is only what can be proven."""

from __future__ import annotations

import time

import pytest
from django.db import connection

from erasure.models import ErasureItem, ErasureRequest
from tests.conftest import manage_py
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
