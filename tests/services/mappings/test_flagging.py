"""Mappings registered for a subject with a request: a running request takes them, and
after a completed erasure they are flagged (and, by default, erased by a new request)."""

from __future__ import annotations

import pytest
from django.db import connection
from procrastinate.contrib.django.models import ProcrastinateJob

from erasure.actors import Actor
from erasure.models import AuditEvent, AuditEventType, ErasureItem, ErasureRequest, ItemMapping
from erasure.services.api_keys import api_key_create
from erasure.services.execution import request_execute
from erasure.services.execution.start import start_request
from erasure.services.mappings import MappingInput, mappings_register
from erasure.services.requests import request_file
from tests.conftest import manage_py, worker_env
from tests.services.execution.helpers import OTHER, SUBJECT, prepare

pytestmark = pytest.mark.django_db

OPERATOR = Actor.system("test")


def _upload(emulator, *ids: str) -> None:
    emulator.seed(
        [{"name": "notes", "type": "text", "items": [{"id": i, "text": "late"} for i in ids]}]
    )


@pytest.fixture
def erased(emulator):
    """SUBJECT's request has run to completion (its 3 items erased)."""
    request = prepare(emulator, texts=3, vectors=0)
    request_execute(request_id=request.pk)
    request.refresh_from_db()
    assert request.status == "completed"
    return request


def test_a_running_request_takes_new_items_at_once(emulator):
    request = prepare(emulator, texts=2, vectors=0)
    start_request(request.pk)
    _upload(emulator, "late-0")
    result = mappings_register(items=[MappingInput(SUBJECT, "notes", "late-0")], actor=OPERATOR)
    assert (result.created, result.added_to_open_requests, result.after_erasure) == (1, 1, 0)
    assert ErasureItem.objects.filter(request=request, item_id="late-0").exists()
    assert not AuditEvent.objects.filter(event_type=AuditEventType.MAPPINGS_AFTER_ERASURE)


def test_an_approved_request_is_not_after_erasure(emulator):
    request = prepare(emulator, texts=2, vectors=0)
    result = mappings_register(items=[MappingInput(SUBJECT, "notes", "late-0")], actor=OPERATOR)
    # Its job expands every mapping when it starts.
    assert (result.created, result.added_to_open_requests, result.after_erasure) == (1, 0, 0)
    assert ErasureRequest.objects.filter(subject=request.subject).count() == 1


def test_report_mode_counts_and_records_mappings_after_erasure(erased, emulator, settings):
    settings.ERASURE_LATE_MAPPINGS = "report"
    _upload(emulator, "t0", "late-1")
    result = mappings_register(
        items=[
            MappingInput(SUBJECT, "notes", "t0"),  # erased before, uploaded again
            MappingInput(SUBJECT, "notes", "late-1"),
            MappingInput(OTHER, "notes", "other-t0"),  # no request: a re-registration
            MappingInput("never-erased", "notes", "n-1"),
        ],
        actor=OPERATOR,
    )
    assert (result.received, result.created, result.after_erasure) == (4, 3, 2)
    event = AuditEvent.objects.get(event_type=AuditEventType.MAPPINGS_AFTER_ERASURE)
    assert event.subject_hash == erased.subject.key_hash
    assert event.details == {
        "after_erasure": 2,
        "mode": "report",
        "subjects": [
            {
                "subject_hash": erased.subject.key_hash,
                "completed_request": str(erased.pk),
                "mappings": 2,
                "new_request": None,
            }
        ],
    }
    assert SUBJECT not in str(event.details)
    registered = AuditEvent.objects.filter(event_type=AuditEventType.MAPPINGS_REGISTERED).last()
    assert registered.details["after_erasure"] == 2
    # Only flagged: no new request.
    assert list(ErasureRequest.objects.filter(subject=erased.subject)) == [erased]


def test_re_registering_a_mapping_kept_after_erasure_is_not_flagged(erased, settings):
    settings.ERASURE_LATE_MAPPINGS = "report"
    # A mapping that survived the erasure (as a failed item's does) is not new data.
    mappings_register(items=[MappingInput(SUBJECT, "notes", "kept")], actor=OPERATOR)
    result = mappings_register(items=[MappingInput(SUBJECT, "notes", "kept")], actor=OPERATOR)
    assert (result.created, result.after_erasure) == (0, 0)
    assert AuditEvent.objects.filter(event_type=AuditEventType.MAPPINGS_AFTER_ERASURE).count() == 1


def test_erase_mode_files_an_approved_request_that_erases_the_late_items(erased, emulator):
    _upload(emulator, "late-1", "late-2")
    items = [MappingInput(SUBJECT, "notes", "late-1"), MappingInput(SUBJECT, "notes", "late-2")]
    result = mappings_register(items=items, actor=OPERATOR)
    assert result.after_erasure == 2
    new = ErasureRequest.objects.filter(subject=erased.subject).exclude(pk=erased.pk).get()
    assert new.status == "approved" and new.auto_approved
    assert (new.source, new.regulation) == ("system", erased.regulation)
    assert new.filed_by is None and new.approved_by is None
    assert str(erased.pk) in new.reason
    # The raw key is not brought back: the request was filed by subject, not by key.
    assert new.subject.raw_key is None
    assert ProcrastinateJob.objects.filter(args={"request_id": str(new.pk)}).exists()
    event = AuditEvent.objects.get(event_type=AuditEventType.MAPPINGS_AFTER_ERASURE)
    assert event.details["mode"] == "erase"
    assert event.details["subjects"][0]["new_request"] == str(new.pk)
    filed = AuditEvent.objects.get(event_type=AuditEventType.REQUEST_FILED, request=new)
    assert filed.actor == "system:late-mappings"

    request_execute(request_id=new.pk)
    new.refresh_from_db()
    assert new.status == "completed"
    assert not {"late-1", "late-2"} & emulator.ids("notes")
    assert not ItemMapping.objects.filter(subject=erased.subject, item_id__startswith="late")


def test_the_new_request_is_the_services_own_whoever_registered_the_items(erased, emulator):
    key, _ = api_key_create(name="uploader", scopes=["mappings:write"], actor=OPERATOR)
    mappings_register(
        items=[MappingInput(SUBJECT, "notes", "late-1")], actor=Actor.for_api_key(key)
    )
    new = ErasureRequest.objects.filter(subject=erased.subject).exclude(pk=erased.pk).get()
    assert new.source == "system" and new.filed_by_api_key is None
    filed = AuditEvent.objects.get(request=new, event_type=AuditEventType.REQUEST_FILED)
    assert filed.actor == "system:late-mappings"


def test_a_subject_with_an_open_request_after_a_completed_one_is_not_flagged(erased):
    # A second request is open (filed again): the new items go to it, not "after erasure".
    request_file(subject_key=SUBJECT, actor=OPERATOR, source="admin")
    result = mappings_register(items=[MappingInput(SUBJECT, "notes", "late-1")], actor=OPERATOR)
    assert result.after_erasure == 0
    assert not AuditEvent.objects.filter(event_type=AuditEventType.MAPPINGS_AFTER_ERASURE)


def test_an_unknown_late_mappings_setting_stops_the_process(emulator):
    env = worker_env(connection.settings_dict["NAME"], emulator, ERASURE_LATE_MAPPINGS="delete")
    completed = manage_py("check", env=env, timeout=60)
    assert completed.returncode != 0
    assert "ERASURE_LATE_MAPPINGS='delete' must be one of erase, report" in completed.stderr
