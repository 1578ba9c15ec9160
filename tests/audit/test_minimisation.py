"""Data minimisation: once a request completes, no table holds the subject's raw key or
email, and the mappings of its erased items are gone."""

from __future__ import annotations

import pytest
from django.db import connection

from erasure.actors import Actor
from erasure.models import ItemMapping, Subject
from erasure.services.aliases import AliasInput, aliases_register
from erasure.services.execution import request_execute
from tests.execution.helpers import SUBJECT, prepare

pytestmark = pytest.mark.django_db(transaction=True)
EMAIL = "Crash.Test@Example.org"


def _tables_containing(needle: str) -> list[str]:
    """Every (table, column) in the database whose text form contains `needle`."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT table_name, column_name FROM information_schema.columns
            WHERE table_schema = 'public'
              AND data_type IN ('text', 'character varying', 'jsonb', 'json', 'ARRAY')
            """
        )
        columns = cursor.fetchall()
        found = []
        for table, column in columns:
            cursor.execute(
                f'SELECT count(*) FROM "{table}" WHERE "{column}"::text ILIKE %s',  # noqa: S608
                [f"%{needle}%"],
            )
            if cursor.fetchone()[0]:
                found.append(f"{table}.{column}")
    return found


def test_after_completion_no_table_holds_the_raw_key_or_email(emulator):
    aliases_register(items=[AliasInput(SUBJECT, "email", EMAIL)], actor=Actor.system("app"))
    request = prepare(emulator, texts=5, vectors=4)
    # While the request is open the raw key is kept (the admin shows who is being erased).
    assert _tables_containing(SUBJECT) == ["erasure_subject.raw_key"]

    request_execute(request_id=request.pk)
    request.refresh_from_db()
    assert request.status == "completed"
    assert _tables_containing(SUBJECT) == []
    assert _tables_containing(EMAIL) == []
    assert _tables_containing(EMAIL.lower()) == []
    assert Subject.objects.get(pk=request.subject_id).raw_key is None
    assert not ItemMapping.objects.filter(subject_id=request.subject_id).exists()
    # The other subject's mappings are untouched.
    assert ItemMapping.objects.exclude(subject_id=request.subject_id).count() == 5
