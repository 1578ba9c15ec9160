"""Data minimisation: once a request completes, no table holds the subject's raw key or
email, and the mappings of its erased items are gone."""

from __future__ import annotations

import pytest

from erasure.actors import Actor
from erasure.models import ItemMapping, Subject
from erasure.services.aliases import AliasInput, aliases_register
from erasure.services.execution import request_execute
from tests.conftest import tables_containing
from tests.services.execution.helpers import SUBJECT, prepare

pytestmark = pytest.mark.django_db(transaction=True)
EMAIL = "Crash.Test@Example.org"


def test_after_completion_no_table_holds_the_raw_key_or_email(emulator):
    aliases_register(items=[AliasInput(SUBJECT, "email", EMAIL)], actor=Actor.system("app"))
    request = prepare(emulator, texts=5, vectors=4)
    # While the request is open the raw key is kept (the admin shows who is being erased).
    assert tables_containing(SUBJECT) == ["erasure_subject.raw_key"]

    request_execute(request_id=request.pk)
    request.refresh_from_db()
    assert request.status == "completed"
    assert tables_containing(SUBJECT) == []
    assert tables_containing(EMAIL) == []
    assert tables_containing(EMAIL.lower()) == []
    assert Subject.objects.get(pk=request.subject_id).raw_key is None
    assert not ItemMapping.objects.filter(subject_id=request.subject_id).exists()
    # The other subject's mappings are untouched.
    assert ItemMapping.objects.exclude(subject_id=request.subject_id).count() == 5
