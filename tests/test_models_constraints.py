"""Database constraints refuse what must never happen, whatever code writes the rows."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from erasure.actors import Actor
from erasure.deadlines import add_calendar_month, due_at
from erasure.models import (
    AuditEvent,
    ErasureItem,
    ErasureRequest,
    Namespace,
    RequestStatus,
    Subject,
)
from erasure.services.audit import audit_record

pytestmark = pytest.mark.django_db


def _request(subject: Subject, **fields) -> ErasureRequest:
    now = timezone.now()
    values = {
        "subject": subject,
        "source": "api",
        "received_at": now,
        "due_at": now,
        "status": RequestStatus.AWAITING_APPROVAL,
    }
    values.update(fields)
    return ErasureRequest.objects.create(**values)


def test_a_subject_cannot_have_two_open_requests():
    subject = Subject.objects.create(key_hash="a" * 64)
    _request(subject)
    with pytest.raises(IntegrityError), transaction.atomic():
        _request(subject, status=RequestStatus.RUNNING)
    # A closed request does not count.
    _request(subject, status=RequestStatus.COMPLETED)


def test_an_item_appears_once_per_request():
    subject = Subject.objects.create(key_hash="b" * 64)
    namespace = Namespace.objects.create(name="n", kind="text", attribution_mode="exact")
    request = _request(subject)
    ErasureItem.objects.create(request=request, namespace=namespace, item_id="x")
    with pytest.raises(IntegrityError), transaction.atomic():
        ErasureItem.objects.create(request=request, namespace=namespace, item_id="x")


@pytest.mark.parametrize(
    ("model", "field", "value"),
    [
        ("request", "status", "done"),
        ("request", "regulation", "hipaa"),
        ("item", "outcome", "gone"),
        ("namespace", "kind", "graph"),
    ],
)
def test_unknown_enumeration_values_are_refused(model, field, value):
    subject = Subject.objects.create(key_hash="c" * 64)
    namespace = Namespace.objects.create(name="n", kind="text", attribution_mode="exact")
    request = _request(subject)
    item = ErasureItem.objects.create(request=request, namespace=namespace, item_id="x")
    target = {"request": request, "item": item, "namespace": namespace}[model]
    with pytest.raises(IntegrityError), transaction.atomic():
        type(target).objects.filter(pk=target.pk).update(**{field: value})


def test_four_eyes_holds_in_the_database():
    user = get_user_model().objects.create(username="u")
    subject = Subject.objects.create(key_hash="d" * 64)
    with pytest.raises(IntegrityError), transaction.atomic():
        _request(subject, filed_by=user, approved_by=user)


def test_the_audit_trail_refuses_update_and_delete():
    with transaction.atomic():
        event = audit_record(event_type="request.filed", actor=Actor.system("test"))
    for statement in (
        "UPDATE erasure_auditevent SET actor = 'someone else' WHERE id = %s",
        "DELETE FROM erasure_auditevent WHERE id = %s",
    ):
        with (
            pytest.raises(Exception, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(statement, [event.pk])
    assert AuditEvent.objects.get(pk=event.pk).actor == "system:test"


@pytest.mark.django_db(transaction=True)
def test_audit_record_needs_the_callers_transaction():
    with pytest.raises(RuntimeError, match="inside transaction.atomic"):
        audit_record(event_type="request.filed", actor=Actor.system("test"))


@pytest.mark.parametrize(
    ("received", "due"),
    [
        (datetime(2026, 1, 15, 9, 30, tzinfo=UTC), datetime(2026, 2, 15, 9, 30, tzinfo=UTC)),
        (datetime(2026, 1, 31, tzinfo=UTC), datetime(2026, 2, 28, tzinfo=UTC)),
        (datetime(2028, 1, 31, tzinfo=UTC), datetime(2028, 2, 29, tzinfo=UTC)),
        (datetime(2026, 12, 31, tzinfo=UTC), datetime(2027, 1, 31, tzinfo=UTC)),
    ],
)
def test_gdpr_deadline_is_one_calendar_month(received, due):
    assert add_calendar_month(received) == due
    assert due_at(regulation="gdpr", received_at=received) == due


def test_ccpa_deadline_is_45_days():
    received = datetime(2026, 3, 1, tzinfo=UTC)
    assert due_at(regulation="ccpa", received_at=received) == datetime(2026, 4, 15, tzinfo=UTC)
