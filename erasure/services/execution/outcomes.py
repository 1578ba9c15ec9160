"""Recording a batch's answer: the dispatch rows, every item's outcome (set-based) and the
audit event, in one transaction. Only items still leased to this worker are written, so no
outcome is ever written twice."""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import transaction

from erasure.failpoints import failpoint
from erasure.lifecycle import ERASED_OUTCOMES, ItemOutcome
from erasure.models import AuditEventType
from erasure.prepared import prepared_cursor
from erasure.services.audit import audit_record
from erasure.services.execution.base import WORKER, Batch, ExecutionSummary, Item
from erasure.services.execution.claims import give_back
from erasure.services.execution.dispatch import dispatches_record
from namespace_api.client import BatchResult

logger = logging.getLogger(__name__)


def record_outcomes(
    batch: Batch,
    result: BatchResult,
    owner: str,
    summary: ExecutionSummary,
    *,
    mode: str | None = None,
) -> None:
    """Dispatch rows, item outcomes and the audit event: one transaction."""
    request, namespace = batch.request, batch.namespace
    outcomes: list[str] = []
    untried = []
    with transaction.atomic():
        dispatches = dispatches_record(
            result.calls, namespace=namespace, worker=owner, request=request
        )
        # Items sharing an outcome (usually the whole batch) are written by one UPDATE
        # whose only per-item parameters are the lists of their ids and rows.
        groups: dict[tuple, list[Item]] = defaultdict(list)
        for item in batch.items:
            outcome = result.results.get(item.item_id)
            if outcome is None:
                untried.append(item.pk)  # the batch stopped before this item
                continue
            dispatch_id = dispatches[outcome.call_index].pk if outcome.call_index >= 0 else None
            key = (
                str(outcome.outcome),
                outcome.http_status,
                outcome.error,
                dispatch_id,
                outcome.retryable,
                outcome.maybe_applied,
            )
            groups[key].append(item)
        written = 0
        mappings_removed = 0
        with prepared_cursor() as cursor, _rows_found_where_claimed(cursor):
            for (outcome, status, error, dispatch_id, retryable, applied), items in groups.items():
                again = outcome == ItemOutcome.FAILED and retryable
                recorded, removed = _record_group(
                    cursor,
                    items,
                    {
                        "status": status,
                        "error": error,
                        "applied": applied,
                        "again": again,
                        "pending": ItemOutcome.PENDING,
                        "outcome": outcome,
                        "dispatch": dispatch_id,
                        "max_attempts": settings.ERASURE_MAX_ATTEMPTS,
                        "base": settings.ERASURE_RETRY_BASE_SECONDS,
                        "owner": owner,
                        "erased": outcome in ERASED_OUTCOMES,
                        "subject": request.subject_id,
                        "namespace": namespace.pk,
                    },
                )
                written += recorded
                mappings_removed += removed
                outcomes.extend([outcome] * len(items))
            if untried:
                # Nothing was sent for these: authentication stopped the batch.
                give_back(untried, owner, status=401)
            # The batch's proof of presence has served (dispatch.send_batch).
            cursor.execute("DELETE FROM erasure_leaseproof WHERE owner = %s", [owner])
        if written < len(outcomes):
            logger.warning(
                "request %s: %d items were taken over by another worker before this one "
                "recorded them; their outcomes come from that worker",
                request.pk,
                len(outcomes) - written,
            )
        counts = Counter(outcomes)
        audit_record(
            event_type=AuditEventType.DISPATCH_RECORDED,
            actor=WORKER,
            request=request,
            details={
                "namespace": namespace.name,
                # The attribution mode the batch was sent in (adaptive may switch to exact).
                "mode": mode or namespace.attribution_mode,
                "dispatch_ids": [d.pk for d in dispatches],
                "calls": [
                    {"endpoint": c.endpoint, "ids": c.ids_sent, "status": c.http_status}
                    for c in result.calls
                ],
                "items": len(batch.items),
                "results": dict(counts),
                "recorded": written,
                "mappings_removed": mappings_removed,
                "stopped": result.stop_reason,
            },
        )
        failpoint("execution.before_commit")
    summary.batches += 1
    summary.calls += len(result.calls)
    summary.outcomes.update(counts)


# The planner settings that leave it one way to join the claimed rows with the item
# table: a nested loop of TID fetches, each costed as the buffer lookup it is (the claim
# has just read these rows) rather than a random read.
_RECORD_SETTINGS = {
    "enable_hashjoin": "off",
    "enable_mergejoin": "off",
    "enable_seqscan": "off",
    "enable_material": "off",
    "random_page_cost": "0.05",
}


@contextmanager
def _rows_found_where_claimed(cursor) -> Iterator[None]:
    """The record's join of the claimed rows (ctid, id) with the item table as a nested
    loop of TID fetches, whatever the table's size. The planner costs a TID fetch as a
    random read, so while the table is young it chose another way for every batch: a scan
    of the whole table (under some 4,000 pages: a first request of 100,000 items), and
    with that off, a walk of the whole primary key, fetching every row to compare its
    owner. Both grow with the table; the TID fetches grow with the batch. The settings
    hold for these statements only (SET LOCAL, put back after)."""
    names = ", ".join(f"current_setting('{name}')" for name in _RECORD_SETTINGS)
    cursor.execute(f"SELECT {names}")  # noqa: S608 (constant names)
    before = cursor.fetchone()
    _set_local(cursor, list(_RECORD_SETTINGS.values()))
    try:
        yield
    finally:
        _set_local(cursor, list(before))


def _set_local(cursor, values: list[str]) -> None:
    calls = ", ".join(f"set_config('{name}', %s, true)" for name in _RECORD_SETTINGS)
    cursor.execute(f"SELECT {calls}", values)  # noqa: S608 (constant names)


# Where the record finds a group's rows: where the claim left them (their ctid: no index
# lookup), each checked to be the same item still (a row changed since may have left its
# place to another); then, for any row changed since (a pre-check marked it seen, say), by
# primary key.
_BY_ROW = """
    FROM unnest(string_to_array(%(rows)s, ';')::tid[],
                string_to_array(%(ids)s, ',')::bigint[]) AS claimed(row, pk)
    WHERE erasure_erasureitem.ctid = claimed.row AND erasure_erasureitem.id = claimed.pk"""
_BY_PK = "WHERE id = ANY(string_to_array(%(ids)s, ',')::bigint[])"


def text_array(values: Iterable[str]) -> str:
    """PostgreSQL's text form of a text[] (`'{"a","b"}'`), for a parameter cast to
    `text[]`: every element double-quoted, its backslashes and double quotes escaped. The
    client-side cursor otherwise quotes a list element by element in Python: 2 ms of a
    worker's CPU for a batch's 1,000 IDs, against 0.2 ms for this string."""
    escaped = (v.replace("\\", "\\\\").replace('"', '\\"') for v in values)
    return "{" + ",".join(f'"{v}"' for v in escaped) + "}"


def _record_group(cursor, items: list[Item], params: dict) -> tuple[int, int]:
    """Write one outcome to `items` (those still leased to the owner) and remove the
    mappings of those it records erased: (items written, mappings removed).

    Data minimisation as soon as the data is gone: the same statement removes the mappings
    of the items it records erased, so their IDs never travel back to us and out again.
    A batch is a run of adjacent items in `item_id` order, so their mappings are one range
    of the mapping key, read in one pass and kept by a hashed lookup of the batch's IDs (a
    filter, not an index condition: as an index condition it was one descent of the key
    per item, ten times the cost). The lookup is a hashed subplan (`IN (...) IS TRUE`,
    which the planner leaves a subplan rather than a join): the statement is prepared
    (erasure.prepared), and in its generic plan `= ANY` of the IDs, a parameter rather than
    a constant, was a linear search of 1,000 IDs for each mapping of the range. Only once
    the whole group is recorded here (by the statement that writes its last rows): rows
    taken over by another worker are that worker's to record, and the mappings of a group
    recorded in part are removed by the completion.

    A row written by the first statement is no longer leased (`lease_owner = ''`), so the
    second, by primary key, writes only the rows that had moved: none is written twice.
    """
    params = dict(
        params,
        rows=";".join(item.row for item in items),
        ids=",".join(str(item.pk) for item in items),
        item_ids=text_array(item.item_id for item in items),
    )
    written = removed = 0
    for where in (_BY_ROW, _BY_PK):
        params["unwritten"] = len(items) - written
        cursor.execute(
            f"""
            WITH recorded AS (
                UPDATE erasure_erasureitem SET
                    last_http_status = %(status)s,
                    last_error = %(error)s,
                    maybe_applied = maybe_applied OR %(applied)s,
                    -- The batch's proof of presence (one LeaseProof row, when the whole
                    -- batch was proven present) passes to its items before it is deleted
                    -- below: an item tried again keeps it.
                    seen_present = seen_present OR EXISTS (
                        SELECT 1 FROM erasure_leaseproof p WHERE p.owner = %(owner)s),
                    outcome = CASE WHEN %(again)s AND attempts < %(max_attempts)s
                                   THEN %(pending)s ELSE %(outcome)s END,
                    not_before = CASE WHEN %(again)s AND attempts < %(max_attempts)s
                        THEN now() + make_interval(secs => %(base)s * power(2, attempts - 1))
                        ELSE NULL END,
                    decided_by_id = CASE WHEN %(again)s AND attempts < %(max_attempts)s
                                         THEN NULL ELSE %(dispatch)s::bigint END,
                    decided_at = CASE WHEN %(again)s AND attempts < %(max_attempts)s
                                      THEN NULL ELSE now() END,
                    lease_owner = '',
                    lease_until = NULL
                {where} AND lease_owner = %(owner)s
                RETURNING item_id
            ),
            removed AS (
                DELETE FROM erasure_itemmapping m
                WHERE %(erased)s AND (SELECT count(*) FROM recorded) = %(unwritten)s
                  AND m.subject_id = %(subject)s AND m.namespace_id = %(namespace)s
                  AND m.item_id >= (SELECT min(i) FROM unnest(%(item_ids)s::text[]) i)
                  AND m.item_id <= (SELECT max(i) FROM unnest(%(item_ids)s::text[]) i)
                  AND (m.item_id IN (SELECT unnest(%(item_ids)s::text[]))) IS TRUE
                RETURNING 1
            )
            SELECT (SELECT count(*) FROM recorded), (SELECT count(*) FROM removed)
            """,  # noqa: S608 (the constants above)
            params,
        )
        recorded, gone = cursor.fetchone()
        written += recorded
        removed += gone
        if written == len(items):
            break
    return written, removed
