"""`adaptive`, the default for text namespaces: one delete per 1,000 IDs while the answers
settle every ID, and the pre-check once the data turns out mixed, for the rest of the run."""

from __future__ import annotations

from collections import Counter

import pytest

from erasure.actors import Actor
from erasure.models import AuditEvent, AuditEventType, Dispatch, ErasureItem, Namespace
from erasure.services.execution import ADAPTIVE_MIXED_ANSWERS, request_execute
from erasure.services.mappings import MappingInput, mappings_register
from tests.services.execution.helpers import SUBJECT, file_and_approve, prepare

ACTOR = Actor.system("test")

pytestmark = pytest.mark.django_db


@pytest.fixture
def one_job(settings):
    settings.ERASURE_JOBS_PER_REQUEST = 1  # one run: its switch is the one observed


def test_text_namespaces_are_adaptive_and_cost_one_call_per_1000_ids(emulator, one_job):
    request = prepare(emulator, texts=2500, vectors=0, others=3)
    assert Namespace.objects.get(name="notes").attribution_mode == "adaptive"
    assert request_execute(request_id=request.pk).finished
    outcomes = Counter(
        ErasureItem.objects.filter(request=request).values_list("outcome", flat=True)
    )
    assert outcomes == {"deleted": 2500}
    endpoints = list(
        Dispatch.objects.filter(request=request).values_list("endpoint", "ids_sent").order_by("id")
    )
    assert sorted(endpoints) == [
        ("documents/delete", 500),
        ("documents/delete", 1000),
        ("documents/delete", 1000),
    ]
    assert emulator.ids("notes") == {"other-t0", "other-t1", "other-t2"}
    modes = {
        e.details["mode"]
        for e in AuditEvent.objects.filter(event_type=AuditEventType.DISPATCH_RECORDED)
    }
    assert modes == {"adaptive"}


def test_mixed_answers_switch_the_rest_of_the_run_to_the_pre_check(emulator, one_job):
    # 6,000 mapped IDs, every sixth one absent: every batch of 1,000 is mixed.
    ids = [f"d{n:05d}" for n in range(6000)]
    absent = set(ids[::6])
    emulator.seed(
        [
            {
                "name": "notes",
                "type": "text",
                "items": [{"id": i, "text": "t"} for i in ids if i not in absent],
            }
        ]
    )
    mappings_register(items=[MappingInput(SUBJECT, "notes", i) for i in ids], actor=ACTOR)
    request = file_and_approve()
    assert request_execute(request_id=request.pk).finished

    modes = [
        e["mode"]
        for e in AuditEvent.objects.filter(
            request=request, event_type=AuditEventType.DISPATCH_RECORDED
        )
        .order_by("id")
        .values_list("details", flat=True)
    ]
    assert modes == ["adaptive"] * ADAPTIVE_MIXED_ANSWERS + ["exact"] * 4

    items = ErasureItem.objects.filter(request=request)
    # The two mixed batches: never a guess.
    assert items.filter(outcome="deleted_or_not_found").count() == ADAPTIVE_MIXED_ANSWERS * 1000
    # The rest, pre-checked: exact.
    checked = items.exclude(outcome="deleted_or_not_found")
    assert set(checked.filter(item_id__in=absent).values_list("outcome", flat=True)) == {
        "not_found"
    }
    assert set(checked.exclude(item_id__in=absent).values_list("outcome", flat=True)) == {"deleted"}
    assert checked.count() == 4000
    assert emulator.ids("notes") == set()
