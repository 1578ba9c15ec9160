"""A claim's update fetches the rows its scan found, where it found them (a TID scan),
whatever the statistics say, and the record finds them where the claim left them. Both
are prepared statements (erasure.prepared): the claim's plan holds for the generic plan
that PostgreSQL caches after a few executions, as for each execution's own; the record is
planned for each batch's values.

Statistics taken when nearly every item was finished (a long history, then a new large
request) say that almost nothing is pending, so the partial pending index looks empty.
The planner then preferred scanning that whole index, filtering by id, for the outer
update of every claim (a request of 25,000 pending items: 98 ms a claim instead of 4).
"""

from __future__ import annotations

import re
import uuid

import pytest
from django.db import connection

from erasure.clients import ApiClients
from erasure.models import ErasureItem, Namespace
from erasure.services.execution.claims import claim, give_back, new_owner
from erasure.services.execution.start import start_request
from tests.services.execution.helpers import prepare

pytestmark = pytest.mark.django_db

_TYPES = {bool: "boolean", int: "bigint", float: "double precision", uuid.UUID: "uuid"}


def _generic_plan(sql: str, params: dict) -> str:
    """The plan PostgreSQL caches for `sql` as a prepared statement once it stops planning
    each execution anew (its generic plan: made without the parameters' values), as
    `EXPLAIN EXECUTE` shows it under `plan_cache_mode = force_generic_plan`. Each
    parameter has the type the driver sends for its value (a `str` none: `unknown`)."""
    names: list[str] = []

    def number(match: re.Match) -> str:
        if match.group(1) not in names:
            names.append(match.group(1))
        return f"${names.index(match.group(1)) + 1}"

    numbered = re.sub(r"%\((\w+)\)s", number, sql)
    types = ", ".join(_TYPES.get(type(params[name]), "unknown") for name in names)
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('plan_cache_mode', 'force_generic_plan', true)")
        cursor.execute(f"PREPARE generic_plan ({types}) AS {numbered}")
        try:
            placeholders = ", ".join(["%s"] * len(names))
            cursor.execute(
                f"EXPLAIN EXECUTE generic_plan({placeholders})", [params[n] for n in names]
            )
            return "\n".join(row[0] for row in cursor.fetchall())
        finally:
            cursor.execute("DEALLOCATE generic_plan")
            cursor.execute("SELECT set_config('plan_cache_mode', 'auto', true)")


def _finished_history(items: int) -> None:
    """`items` finished items of an old request, then statistics taken over them."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO erasure_erasureitem (request_id, namespace_id, item_id, outcome,
                attempts, last_error, lease_owner, seen_present, maybe_applied)
            SELECT gen_random_uuid(), n.id, 'old-' || g, 'deleted', 1, '', '', false, false
            FROM generate_series(1, %s) g, (SELECT min(id) AS id FROM erasure_namespace) n
            """,
            [items],
        )
        cursor.execute("ANALYZE erasure_erasureitem")


def test_a_claim_updates_the_rows_where_it_found_them_even_when_statistics_say_nothing_is_pending(
    emulator,
):
    request = prepare(emulator, texts=600, vectors=0, others=0)
    _finished_history(30_000)
    start_request(request.pk)
    namespace = Namespace.objects.get(name="notes")

    statements: list[tuple[str, object]] = []

    def capture(execute, sql, params, many, context):
        if sql.lstrip().startswith("UPDATE erasure_erasureitem i"):
            statements.append((sql, params))
        return execute(sql, params, many, context)

    owner = new_owner()
    with ApiClients() as clients, connection.execute_wrapper(capture):
        batch = claim(request.pk, namespace, owner, clients.for_namespace(namespace))
    assert batch is not None and len(batch.items) == 600
    give_back([item.pk for item in batch.items], owner)

    (sql, params), *_ = statements
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + sql, params)
        custom = "\n".join(row[0] for row in cursor.fetchall())
    for plan in (custom, _generic_plan(sql, params)):
        outer = [line for line in plan.splitlines() if "Scan" in line and "erasureitem i " in line]
        assert outer and all("Tid Scan" in line for line in outer), plan
        # The claim's scan walks the pending index, never the finished history.
        assert "item_pending_idx" in plan, plan


def test_the_record_finds_the_claimed_rows_by_tid_even_in_a_young_table(emulator):
    """A young item table (this request's items only) is small enough that the planner,
    costing a TID fetch as a random read, would scan the whole table (or, with that off,
    walk its whole primary key) for every batch's record instead of fetching its 1,000
    rows where the claim found them."""
    from erasure.services.execution.base import ExecutionSummary
    from erasure.services.execution.dispatch import send_batch
    from erasure.services.execution.outcomes import record_outcomes

    request = prepare(emulator, texts=0, vectors=3000, others=0)
    start_request(request.pk)
    namespace = Namespace.objects.get(name="vecs")
    plans: list[str] = []

    def explain(execute, sql, params, many, context):
        if sql.lstrip().startswith("WITH recorded AS"):  # not _generic_plan's PREPARE
            cursor = context["cursor"].cursor  # the driver's own: no wrapper again
            cursor.execute("EXPLAIN " + sql, params)
            plans.append("\n".join(row[0] for row in cursor.fetchall()))
        return execute(sql, params, many, context)

    owner = new_owner()
    with ApiClients() as clients:
        client = clients.for_namespace(namespace)
        batch = claim(request.pk, namespace, owner, client)
        assert batch is not None and len(batch.items) == 1000
        result = send_batch(client, batch, owner, mode=namespace.attribution_mode)
        with connection.execute_wrapper(explain):
            record_outcomes(batch, result, owner, ExecutionSummary())
    first, *_ = plans
    scans = [line for line in first.splitlines() if "on erasure_erasureitem" in line]
    # Only TID fetches: neither the whole table nor the whole primary key walked.
    assert scans and all("Tid Scan" in line or "Update on" in line for line in scans), first
    # The settings are put back for the rest of the connection's work.
    with connection.cursor() as cursor:
        cursor.execute("SHOW enable_seqscan")
        assert cursor.fetchone()[0] == "on"


def test_a_batch_s_statements_are_prepared_and_the_record_s_generic_plan_hashes_its_ids(
    emulator,
):
    """The claim's, the expansion's and the record's statements are prepared once per
    connection (erasure.prepared), and after a few batches PostgreSQL keeps the record's
    generic plan, made without the parameters' values. In it, the rows are still fetched
    where the claim found them, and the mapping removal still keeps the rows of the
    batch's IDs by a hashed lookup: `= ANY` of an array parameter is a linear search per
    mapping, a thousand comparisons each."""
    from erasure.services.execution.base import ExecutionSummary
    from erasure.services.execution.dispatch import send_batch
    from erasure.services.execution.outcomes import _RECORD_SETTINGS, record_outcomes

    request = prepare(emulator, texts=0, vectors=8000, others=0)
    start_request(request.pk)
    namespace = Namespace.objects.get(name="vecs")
    owner = new_owner()
    records: list[tuple[str, dict]] = []

    def capture(execute, sql, params, many, context):
        if sql.lstrip().startswith("WITH recorded AS"):
            records.append((sql, params))
        return execute(sql, params, many, context)

    with ApiClients() as clients, connection.execute_wrapper(capture):
        client = clients.for_namespace(namespace)
        for _ in range(8):
            batch = claim(request.pk, namespace, owner, client)
            assert batch is not None and len(batch.items) == 1000
            result = send_batch(client, batch, owner, mode=namespace.attribution_mode)
            record_outcomes(batch, result, owner, ExecutionSummary())
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT statement, generic_plans FROM pg_prepared_statements "
            "WHERE statement LIKE '%erasure_erasureitem%'"
        )
        prepared = {row[0].split()[0]: row[1] for row in cursor.fetchall()}
    assert {"WITH", "UPDATE", "INSERT"} <= set(prepared), prepared
    assert prepared["WITH"] >= 1, prepared  # the generic plan is the one in use
    # Under the settings the record plans with (SET LOCAL: the test's transaction).
    sql, params = records[-1]
    with connection.cursor() as cursor:
        for name, value in _RECORD_SETTINGS.items():
            cursor.execute("SELECT set_config(%s, %s, true)", [name, value])
    plan = _generic_plan(sql, params)
    assert "hashed SubPlan" in plan, plan
    assert "Tid Scan on erasure_erasureitem" in plan, plan
    assert ErasureItem.objects.filter(request=request, outcome="deleted").count() == 8000
