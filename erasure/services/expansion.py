"""Expansion: a request's items, from its subject's mappings (product.md, "Execution")."""

from __future__ import annotations

from collections import Counter

from django.db import connection

from erasure.actors import Actor
from erasure.lifecycle import EXPANDABLE_STATUSES, ItemOutcome
from erasure.models import AuditEventType, ErasureRequest
from erasure.services.audit import Entry, audit_record, audit_record_many
from erasure.services.locks import lock_request

# The actor of scans (erasure.services.scans): the mappings it discovers carry its label.
SCANNER = Actor.system("scan")


def items_expand(
    *,
    request: ErasureRequest,
    actor: Actor,
    namespace_ids: list[int] | None = None,
    held: bool = False,
) -> int:
    """Add an item for every mapping of the request's subject not yet in it (set-based),
    in every namespace or in `namespace_ids` only.

    Runs when the request starts (namespace by namespace, see `_start`), when mappings
    arrive for a running request, and again before finishing, so mappings registered while
    the request runs are swept in. Returns the number of items added. Expansions of one
    request are serialised by its row lock (taken here if the caller has not). With
    `held`, the caller holds at least a share lock on the request and has checked that it
    may expand (`execution.start.expand_namespace`); concurrent expansions are then kept
    apart by the unique constraint, which makes the second wait for the first's rows.

    Items already there are skipped by the unique constraint (ON CONFLICT DO NOTHING), not
    by a NOT EXISTS anti-join: with stale statistics (a young table, a first large
    request) the planner may probe that anti-join by request alone and re-read the rows
    this very statement inserts, quadratic in the items (100,000: 14 s instead of 0.5 s).
    The conflict check costs about 6% over a plain insert and cannot go wrong that way.
    """
    if not held:
        locked = lock_request(request.pk)
        if locked is None or locked.status not in EXPANDABLE_STATUSES:
            return 0  # ended (or gone): no job would ever send what is added now
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO erasure_erasureitem
                (request_id, namespace_id, item_id, outcome, attempts, last_error,
                 lease_owner, seen_present, maybe_applied, discovered)
            SELECT %(request)s, m.namespace_id, m.item_id, %(pending)s, 0, '', '', false, false,
                   m.registered_by = %(scanner)s
            FROM erasure_itemmapping m
            WHERE m.subject_id = %(subject)s
              AND (%(all)s OR m.namespace_id = ANY(%(namespaces)s))
            ON CONFLICT (request_id, namespace_id, item_id) DO NOTHING
            """,
            {
                "request": request.pk,
                "pending": ItemOutcome.PENDING,
                "subject": request.subject_id,
                "all": namespace_ids is None,
                "namespaces": namespace_ids or [],
                "scanner": SCANNER.label,
            },
        )
        added = cursor.rowcount
    _expanded(request, actor, added)
    return added


def items_expand_first(
    *, request: ErasureRequest, actor: Actor, namespace_ids: list[int], first: int
) -> list[int]:
    """The first `first` items of each namespace in `item_id` order (the order claims take
    them in), the caller holding the request's lock: the start expands that much of every
    namespace, so that the jobs spread over all of them at once, and the rest follows while
    they work. One statement, one index range read per namespace (the mapping key's order).
    Returns the namespaces that may have more (those that filled their first)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO erasure_erasureitem
                (request_id, namespace_id, item_id, outcome, attempts, last_error,
                 lease_owner, seen_present, maybe_applied, discovered)
            SELECT %(request)s, m.namespace_id, m.item_id, %(pending)s, 0, '', '', false, false,
                   m.registered_by = %(scanner)s
            FROM unnest(%(namespaces)s::bigint[]) AS ns(id)
            CROSS JOIN LATERAL (
                SELECT namespace_id, item_id, registered_by FROM erasure_itemmapping
                WHERE subject_id = %(subject)s AND namespace_id = ns.id
                ORDER BY item_id LIMIT %(n)s
            ) m
            ON CONFLICT (request_id, namespace_id, item_id) DO NOTHING
            RETURNING namespace_id
            """,
            {
                "request": request.pk,
                "pending": ItemOutcome.PENDING,
                "subject": request.subject_id,
                "namespaces": namespace_ids,
                "n": first,
                "scanner": SCANNER.label,
            },
        )
        per_namespace = Counter(row[0] for row in cursor.fetchall())
    # One event per namespace, as when each is expanded alone, in one statement.
    audit_record_many(
        [
            Entry(AuditEventType.ITEMS_EXPANDED, actor, request, details={"added": added})
            for pk in namespace_ids
            if (added := per_namespace[pk])
        ]
    )
    return [pk for pk in namespace_ids if per_namespace[pk] >= first]


def _expanded(request: ErasureRequest, actor: Actor, added: int) -> None:
    if added:
        audit_record(
            event_type=AuditEventType.ITEMS_EXPANDED,
            actor=actor,
            request=request,
            details={"added": added},
        )
