"""Prepared statements for the few that run once per batch: each is parsed, analysed and
planned once per connection instead of once per batch.

Django binds parameters on the client and never prepares (its default, kept for
connection poolers). For the statements of a batch's claim and record that cost a
sixth of PostgreSQL's CPU in an erasure (measured with `perf` on `bench.execution`: the
parser, the analyser and the planner, for statements whose work is a few milliseconds).
These run through a psycopg cursor that binds on the server, on Django's own connection
and in its transaction, and are prepared by name (`prepare=True`).

`DATABASE_PREPARED_STATEMENTS=false` turns it off, for a pooler in transaction mode that
cannot keep a connection's prepared statements (PgBouncer before 1.21, or without
`max_prepared_statements`): the same statements then run through Django's own cursors,
unprepared.

Parameters are typed by PostgreSQL from their context (a Python `str` is sent untyped),
so a parameter whose context names no type (a `NULL` in a `CASE`, say) carries a cast.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

import psycopg
from django.conf import settings
from django.db import connection


class StatementCursor(Protocol):
    """What the callers use of a cursor: a `PreparedCursor`, or Django's own when turned
    off."""

    def execute(self, sql: str, params: Any = ...) -> Any: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> Any: ...


@contextmanager
def prepared_cursor() -> Iterator[StatementCursor]:
    """A cursor on Django's connection (its current transaction) whose statements are
    prepared: `cursor.execute(sql, params)` with psycopg's `%(name)s` placeholders."""
    if not settings.DATABASE_PREPARED_STATEMENTS:
        with connection.cursor() as cursor:
            yield cursor
        return
    connection.ensure_connection()
    with psycopg.Cursor(connection.connection) as cursor:
        yield PreparedCursor(cursor)


class PreparedCursor:
    """What the callers use of a cursor. Statements pass through the connection's
    `execute_wrapper`s, as Django's own cursors' do (`context["cursor"].cursor` is the
    driver's cursor)."""

    def __init__(self, cursor: psycopg.Cursor) -> None:
        self.cursor = cursor

    def execute(self, sql: str, params: Mapping[str, Any] | Sequence[Any] = ()) -> None:
        connection.validate_no_broken_transaction()
        executor = self._execute
        for wrapper in reversed(connection.execute_wrappers):
            executor = functools.partial(wrapper, executor)
        executor(sql, params, False, {"connection": connection, "cursor": self})

    def _execute(self, sql: str, params, many: bool, context: dict) -> None:
        with connection.wrap_database_errors:  # psycopg's errors raised as Django's
            self.cursor.execute(sql, params, prepare=True)

    def fetchone(self) -> tuple | None:
        return self.cursor.fetchone()

    def fetchall(self) -> list[tuple]:
        return self.cursor.fetchall()

    @property
    def rowcount(self) -> int:
        return self.cursor.rowcount
