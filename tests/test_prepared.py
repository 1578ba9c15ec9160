"""erasure.prepared: statements prepared once per connection, on Django's connection and in
its transaction, seen by its execute wrappers, their errors Django's."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction
from django.test import override_settings

from erasure.prepared import prepared_cursor

pytestmark = pytest.mark.django_db

_STATEMENT = "SELECT count(*) FROM erasure_namespace WHERE name = %(name)s"


def _prepared_statements() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [row[0] for row in cursor.fetchall()]


def test_a_statement_is_prepared_once_and_reused():
    for name in ("a", "b", "c"):
        with prepared_cursor() as cursor:
            cursor.execute(_STATEMENT, {"name": name})
            assert cursor.fetchone() == (0,)
    prepared = [s for s in _prepared_statements() if "FROM erasure_namespace" in s]
    assert len(prepared) == 1, prepared
    assert "$1" in prepared[0]


def test_it_runs_in_the_callers_transaction():
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMPORARY TABLE prepared_probe (n int PRIMARY KEY)")
    with pytest.raises(RuntimeError), transaction.atomic():
        with prepared_cursor() as cursor:
            cursor.execute("INSERT INTO prepared_probe VALUES (%(n)s)", {"n": 1})
        raise RuntimeError("roll back")
    with prepared_cursor() as cursor:
        cursor.execute("SELECT count(*) FROM prepared_probe")
        assert cursor.fetchone() == (0,)


def test_its_errors_are_djangos_and_its_statements_pass_the_execute_wrappers():
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMPORARY TABLE prepared_probe (n int PRIMARY KEY)")
    seen: list[str] = []

    def wrapper(execute, sql, params, many, context):
        seen.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper), prepared_cursor() as cursor:
        cursor.execute("INSERT INTO prepared_probe VALUES (%(n)s)", {"n": 1})
        with pytest.raises(IntegrityError), transaction.atomic():
            cursor.execute("INSERT INTO prepared_probe VALUES (%(n)s)", {"n": 1})
    assert [sql for sql in seen if "prepared_probe" in sql] == [
        "INSERT INTO prepared_probe VALUES (%(n)s)"
    ] * 2


@override_settings(DATABASE_PREPARED_STATEMENTS=False)
def test_turned_off_the_same_statements_run_unprepared():
    statement = "SELECT count(*) FROM erasure_namespace WHERE kind = %(kind)s"
    for _ in range(3):
        with prepared_cursor() as cursor:
            cursor.execute(statement, {"kind": "text"})
            assert cursor.fetchone() == (0,)
    assert not [s for s in _prepared_statements() if "WHERE kind" in s]
