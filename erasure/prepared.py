"""Prepared statements for the few that run once per batch: each is parsed, analysed and
planned once per connection instead of once per batch.

Django binds parameters on the client and never prepares (its default, kept for
connection poolers). For the statements of a batch's claim and record, that cost a
sixth of PostgreSQL's CPU in an erasure (measured with `perf` on `bench.execution`: the
parser, the analyser and the planner, for statements whose work is a few milliseconds).
These run through a psycopg cursor that binds on the server and prepares every statement
by name, on Django's own connection and in its transaction, wrapped as Django wraps its
own cursors (execute wrappers, Django's errors, the query log in DEBUG).

`DATABASE_PREPARED_STATEMENTS=false` turns it off, for a pooler in transaction mode that
cannot keep a connection's prepared statements (PgBouncer before 1.21, or without
`max_prepared_statements`): the same statements then run through Django's own cursors,
unprepared.

Parameters are typed by PostgreSQL from their context (a Python `str` is sent untyped),
so a parameter whose context names no type (a `NULL` in a `CASE`, say) carries a cast.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from django.conf import settings
from django.db import connection
from django.db.backends.utils import CursorWrapper


class _PreparingCursor(psycopg.Cursor):
    """A server-binding cursor that prepares whatever it executes."""

    def execute(self, query, params=None, *, prepare=None, binary=None):
        return super().execute(query, params, prepare=True, binary=binary)


@contextmanager
def prepared_cursor() -> Iterator[CursorWrapper]:
    """A cursor on Django's connection (its current transaction) whose statements are
    prepared: `cursor.execute(sql, params)` with `%(name)s` or `%s` placeholders."""
    if not settings.DATABASE_PREPARED_STATEMENTS:
        with connection.cursor() as cursor:
            yield cursor
        return
    connection.ensure_connection()
    connection.validate_thread_sharing()
    # Wrapped as connection.cursor() wraps Django's own cursors.
    driver: Any = _PreparingCursor(connection.connection)
    make = connection.make_debug_cursor if connection.queries_logged else connection.make_cursor
    with make(driver) as cursor:
        yield cursor
