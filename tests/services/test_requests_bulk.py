"""`requests_file`: many filings at once, set-based, with what `request_file` promises
for one: one open request per subject, everything checked before anything is written."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from procrastinate.contrib.django.models import ProcrastinateJob

from erasure.actors import Actor
from erasure.errors import InvalidInput
from erasure.hashing import subject_hash
from erasure.models import AuditEvent, ErasureRequest, Subject
from erasure.services.requests import Filing, request_file, requests_file

pytestmark = pytest.mark.django_db

ACTOR = Actor.system("bulk-test")


def test_each_subject_gets_one_request_and_an_open_one_answers():
    earlier = request_file(subject_key="user-0", actor=ACTOR, source="api").request
    results = requests_file(
        filings=[
            Filing(subject_key="user-0", reason="again"),
            Filing(subject_key="user-1", reason="first"),
            Filing(subject_key="  user-1 ", reason="the same subject, spaced"),
            Filing(subject_key="user-2", reason="second"),
        ],
        actor=ACTOR,
        source="webhook",
    )
    assert [r.created for r in results] == [False, True, False, True]
    assert results[0].request.pk == earlier.pk
    assert results[1].request.pk == results[2].request.pk
    assert ErasureRequest.objects.count() == 3
    filed = ErasureRequest.objects.get(subject__key_hash=subject_hash("user-1"))
    assert (filed.reason, filed.status, filed.source) == ("first", "awaiting_approval", "webhook")
    # The raw keys an open request needs are stored; filed events name their requests.
    assert Subject.objects.get(key_hash=subject_hash("user-2")).raw_key == "user-2"
    filed_events = AuditEvent.objects.filter(event_type="request.filed")
    assert filed_events.count() == 3
    assert set(filed_events.values_list("request_id", flat=True)) == set(
        ErasureRequest.objects.values_list("pk", flat=True)
    )


def test_statements_do_not_grow_with_the_filings():
    def statements(n: int, prefix: str) -> int:
        with CaptureQueriesContext(connection) as queries:
            requests_file(
                filings=[Filing(subject_key=f"{prefix}-{i}") for i in range(n)],
                actor=ACTOR,
                source="webhook",
            )
        return len(queries.captured_queries)

    assert statements(3, "a") == statements(300, "b")
    assert ErasureRequest.objects.count() == 303


def test_a_bad_filing_refuses_them_all_before_writing():
    with pytest.raises(InvalidInput, match="longer than"):
        requests_file(
            filings=[Filing(subject_key="fine"), Filing(subject_key="x" * 513)],
            actor=ACTOR,
            source="webhook",
        )
    with pytest.raises(InvalidInput, match="grace_hours"):
        requests_file(
            filings=[Filing(subject_key="fine")], actor=ACTOR, source="webhook", grace_hours=-1
        )
    assert not Subject.objects.exists()
    assert not ErasureRequest.objects.exists()
    assert not AuditEvent.objects.exists()


def test_auto_approved_filings_are_approved_and_woken():
    results = requests_file(
        filings=[Filing(subject_key="auto-1"), Filing(subject_key="auto-2")],
        actor=ACTOR,
        source="webhook",
        auto_approve=True,
    )
    ids = {str(r.request.pk) for r in results}
    assert set(ErasureRequest.objects.values_list("status", flat=True)) == {"approved"}
    assert AuditEvent.objects.filter(event_type="request.approved", request_id__in=ids).count() == 2
    jobs = ProcrastinateJob.objects.filter(task_name="erasure.execute_request", status="todo")
    assert {job.args["request_id"] for job in jobs if job.args["request_id"] in ids} == ids
