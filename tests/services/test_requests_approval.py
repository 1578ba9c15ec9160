"""The execution job is deferred in the approval's transaction: both or neither."""

from __future__ import annotations

import pytest
from django.db import transaction
from procrastinate.contrib.django.models import ProcrastinateJob

from erasure.actors import Actor
from erasure.errors import InvalidTransition
from erasure.services.requests import request_approve, request_file

pytestmark = pytest.mark.django_db


def _file(user_factory):
    return request_file(
        subject_key="subject-1", actor=Actor.for_user(user_factory("filer")), source="admin"
    ).request


@pytest.fixture
def user_factory(django_user_model):
    return lambda name: django_user_model.objects.create(username=name)


def test_approval_defers_one_job_per_slot(user_factory, settings):
    settings.ERASURE_JOBS_PER_REQUEST = 3
    request = _file(user_factory)
    request_approve(request=request, actor=Actor.for_user(user_factory("approver")))
    jobs = ProcrastinateJob.objects.filter(task_name="erasure.execute_request")
    assert [job.args for job in jobs] == [{"request_id": str(request.pk)}] * 3
    # Waking the request again while those are queued adds nothing.
    from erasure import queue

    queue.enqueue_execution(request_id=request.pk)
    assert jobs.count() == 3


def test_a_rolled_back_approval_leaves_no_job(user_factory):
    request = _file(user_factory)
    approver = Actor.for_user(user_factory("approver"))
    with pytest.raises(RuntimeError), transaction.atomic():
        request_approve(request=request, actor=approver)
        raise RuntimeError("the caller's transaction fails after approving")
    request.refresh_from_db()
    assert request.status == "awaiting_approval"
    assert not ProcrastinateJob.objects.exists()


def test_approving_a_completed_request_is_refused(user_factory):
    request = _file(user_factory)
    type(request).objects.filter(pk=request.pk).update(status="completed")
    with pytest.raises(InvalidTransition, match="only a request awaiting approval"):
        request_approve(request=request, actor=Actor.for_user(user_factory("approver")))
