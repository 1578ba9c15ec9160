"""A claim's update fetches the rows its scan found, where it found them (a TID scan),
whatever the statistics say.

Statistics taken when nearly every item was finished (a long history, then a new large
request) say that almost nothing is pending, so the partial pending index looks empty.
The planner then preferred scanning that whole index, filtering by id, for the outer
update of every claim (a request of 25,000 pending items: 98 ms a claim instead of 4).
"""

from __future__ import annotations

import pytest
from django.db import connection

from erasure.clients import ApiClients
from erasure.models import Namespace
from erasure.services.execution.claims import claim, give_back, new_owner
from erasure.services.execution.start import start_request
from tests.services.execution.helpers import prepare

pytestmark = pytest.mark.django_db


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
        plan = "\n".join(row[0] for row in cursor.fetchall())
    outer = [line for line in plan.splitlines() if "Scan" in line and "erasureitem i " in line]
    assert outer and all("Tid Scan" in line for line in outer), plan


def test_the_record_finds_the_claimed_rows_by_tid_even_in_a_young_table(emulator):
    """A young item table (this request's items only) is small enough that the planner,
    costing a TID fetch as a random read, would scan the whole table for every batch's
    record instead of fetching its 1,000 rows where the claim found them."""
    from erasure.services.execution.base import ExecutionSummary
    from erasure.services.execution.dispatch import send_batch
    from erasure.services.execution.outcomes import record_outcomes

    request = prepare(emulator, texts=0, vectors=3000, others=0)
    start_request(request.pk)
    namespace = Namespace.objects.get(name="vecs")
    plans: list[str] = []

    def explain(execute, sql, params, many, context):
        if "WITH recorded AS" in sql:
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
    assert scans and not any("Seq Scan" in line for line in scans), first
    # The settings are put back for the rest of the connection's work.
    with connection.cursor() as cursor:
        cursor.execute("SHOW enable_seqscan")
        assert cursor.fetchone()[0] == "on"
