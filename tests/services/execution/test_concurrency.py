"""Several worker processes on one large request; a soak with mixed faults."""

from __future__ import annotations

import os
import time

import pytest
from procrastinate.contrib.django.models import ProcrastinateWorker

from erasure.lifecycle import ItemOutcome
from erasure.models import Dispatch, ErasureItem, ErasureRequest, Namespace
from tests.services.execution.helpers import (
    approve,
    assert_consistent,
    drive_to_completion,
    prepare,
    worker,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("workers", [2, 4])
def test_workers_share_one_request_without_sending_any_item_twice(emulator, workers):
    request = prepare(emulator, texts=1500, vectors=6000, approve=False)
    emulator.control("calls/clear", {})
    processes = [
        worker(emulator, one_shot=False, ERASURE_JOBS_PER_REQUEST="4") for _ in range(workers)
    ]
    try:
        # Every worker is up and polling before the work appears, so that all share it.
        deadline = time.monotonic() + 60
        while ProcrastinateWorker.objects.count() < workers:
            assert time.monotonic() < deadline, "the workers did not start"
            time.sleep(0.1)
        approve(request)
        while ErasureRequest.objects.get(pk=request.pk).status in ("approved", "running"):
            assert time.monotonic() < deadline + 120, "the request did not finish"
            time.sleep(0.1)
    finally:
        for process in processes:
            process.terminate()
        outputs = [p.communicate(timeout=60)[0] for p in processes]
    assert "Traceback" not in "".join(outputs), outputs
    final = ErasureRequest.objects.get(pk=request.pk)

    outcomes = assert_consistent(final, emulator)
    assert outcomes == {"deleted": 7500}
    # Every item was sent to a delete endpoint exactly once.
    deletes = [c for c in emulator.calls() if c["path"].endswith("/delete")]
    assert sum(c["ids_count"] for c in deletes) == 7500
    assert Dispatch.objects.filter(request=request, endpoint__endswith="delete").count() == len(
        deletes
    )
    # The work was spread: dispatches name the worker (host:pid:thread:claim) that sent them.
    pids = {
        w.split(":")[1]
        for w in Dispatch.objects.filter(request=request).values_list("worker", flat=True)
    }
    assert len(pids) >= 2


SOAK_ITEMS = int(os.environ.get("ERASURE_SOAK_ITEMS", "1500"))
SOAK_FAILED_CEILING = 0.01


@pytest.mark.parametrize("text_mode", ["exact", "adaptive"])
def test_soak_with_mixed_faults_ends_with_every_item_correctly_attributed(emulator, text_mode):
    """A short soak (CI); `make soak` runs it with ERASURE_SOAK_ITEMS=50000. The text
    namespace runs in `exact` (whose pre-check proves every existing item `deleted`), and
    in `adaptive`, the default, which deletes first: there an existing item in a mixed
    answer, or after an ambiguous try, can only be `deleted_or_not_found`."""
    request = prepare(emulator, texts=SOAK_ITEMS, vectors=SOAK_ITEMS, absent=SOAK_ITEMS // 10)
    Namespace.objects.filter(name="notes").update(attribution_mode=text_mode)
    emulator.control(
        "faults",
        {
            "namespace": "*",
            "probabilities": {
                "partial": 0.15,
                "rate_limit": 0.1,
                "server_error": 0.1,
                "delete_then_error": 0.1,
                "drop": 0.05,
                "delete_then_drop": 0.05,
            },
        },
    )
    final = drive_to_completion(
        emulator,
        request.pk,
        deadline_s=600,
        ERASURE_MAX_ATTEMPTS="12",
        ERASURE_JOBS_PER_REQUEST="2",
    )
    emulator.control("faults/clear", {})
    outcomes = assert_consistent(final, emulator)
    items = ErasureItem.objects.filter(request=request)
    absent = SOAK_ITEMS // 10
    # An item that existed is never reported not_found; one that never existed is never
    # reported deleted.
    existed_text = {f"t{n}" for n in range(SOAK_ITEMS)}
    existed_vec = {f"v{n}" for n in range(SOAK_ITEMS)}
    text = dict(items.filter(namespace__name="notes").values_list("item_id", "outcome"))
    vec = dict(items.filter(namespace__name="vecs").values_list("item_id", "outcome"))
    proven = (
        ("deleted", "failed")
        if text_mode == "exact"
        else ("deleted", "deleted_or_not_found", "failed")
    )
    assert all(text[i] in proven for i in existed_text)
    assert all(
        text[i] in ("not_found", "deleted_or_not_found", "failed") for i in set(text) - existed_text
    )
    assert all(vec[i] in ("deleted", "deleted_or_not_found", "failed") for i in existed_vec)
    assert all(
        vec[i] in ("deleted_or_not_found", "not_found", "failed") for i in set(vec) - existed_vec
    )
    assert sum(outcomes.values()) == 2 * (SOAK_ITEMS + absent)
    # A ceiling: with 12 tries per item, an item fails only if about half of all calls
    # fail twelve times in a row for it. A run where most items end `failed` satisfies
    # every attribution check above, and must not pass.
    failed = outcomes.get(ItemOutcome.FAILED, 0)
    assert failed <= SOAK_FAILED_CEILING * sum(outcomes.values()), outcomes
    # The faults did happen: some calls failed and were retried.
    assert Dispatch.objects.filter(request=request, http_status__in=[207, 429, 500]).exists()
