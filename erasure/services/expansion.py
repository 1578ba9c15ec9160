"""Expansion: a request's items, from its subject's mappings (product.md, "Execution")."""

from __future__ import annotations

from django.db import IntegrityError, connection, transaction

from erasure.actors import Actor
from erasure.lifecycle import EXPANDABLE_STATUSES, ItemOutcome
from erasure.models import AuditEventType, ErasureRequest
from erasure.services.audit import Entry, audit_record, audit_record_many
from erasure.services.locks import lock_request

# The actor of scans (erasure.services.scans): the mappings it discovers carry its label.
SCANNER = Actor.system("scan")


# A new item from its mapping `m`: the columns of the INSERT and the values of its SELECT
# (the parameters request, pending and scanner), the same in every expansion.
_ITEM_COLUMNS = """(request_id, namespace_id, item_id, outcome, attempts, last_error,
                    lease_owner, seen_present, maybe_applied, discovered)"""
_ITEM_VALUES = """%(request)s, m.namespace_id, m.item_id, %(pending)s, 0, '', '', false, false,
                  m.registered_by = %(scanner)s"""


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
            f"""
            INSERT INTO erasure_erasureitem {_ITEM_COLUMNS}
            SELECT {_ITEM_VALUES}
            FROM erasure_itemmapping m
            WHERE m.subject_id = %(subject)s
              AND (%(all)s OR m.namespace_id = ANY(%(namespaces)s))
            ON CONFLICT (request_id, namespace_id, item_id) DO NOTHING
            """,  # noqa: S608 (the constants above)
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
) -> list[tuple[int, str]]:
    """The first `first` items of each namespace in `item_id` order (the order claims take
    them in), the caller holding the request's lock: the start expands that much of every
    namespace, so that the jobs spread over all of them at once, and the rest follows while
    they work. One statement, one index range read per namespace (the mapping key's order).
    Returns the namespaces that may have more (those that filled their first), each with
    the last item it took (`items_expand_rest` goes on from there)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH added AS (
                INSERT INTO erasure_erasureitem {_ITEM_COLUMNS}
                SELECT {_ITEM_VALUES}
                FROM unnest(%(namespaces)s::bigint[]) AS ns(id)
                CROSS JOIN LATERAL (
                    SELECT namespace_id, item_id, registered_by FROM erasure_itemmapping
                    WHERE subject_id = %(subject)s AND namespace_id = ns.id
                    ORDER BY item_id LIMIT %(n)s
                ) m
                ON CONFLICT (request_id, namespace_id, item_id) DO NOTHING
                RETURNING namespace_id, item_id
            )
            SELECT namespace_id, count(*), max(item_id) FROM added GROUP BY namespace_id
            """,  # noqa: S608 (the constants above)
            {
                "request": request.pk,
                "pending": ItemOutcome.PENDING,
                "subject": request.subject_id,
                "namespaces": namespace_ids,
                "n": first,
                "scanner": SCANNER.label,
            },
        )
        per_namespace = {pk: (added, last) for pk, added, last in cursor.fetchall()}
    # One event per namespace, as when each is expanded alone, in one statement.
    audit_record_many(
        [
            Entry(AuditEventType.ITEMS_EXPANDED, actor, request, details={"added": added})
            for pk in namespace_ids
            if (added := per_namespace.get(pk, (0, ""))[0])
        ]
    )
    return [
        (pk, per_namespace[pk][1])
        for pk in namespace_ids
        if per_namespace.get(pk, (0, ""))[0] >= first
    ]


def items_expand_rest(
    *, request: ErasureRequest, actor: Actor, namespace_id: int, after: str, limit: int
) -> str | None:
    """The rest of a namespace after the start's first items (`items_expand_first`), which
    ended at `after`, the caller holding a share lock on the request
    (`execution.start.expand_namespace`).

    The mappings past `after` (in `item_id` order) are not items yet, unless one was added
    meanwhile, so a plain INSERT takes them, without ON CONFLICT: its speculative
    insertion writes one more WAL record per row and cost a quarter more here. When an
    item was added there meanwhile (a registration for the running request, expanded at
    once), the unique violation rolls back to a savepoint and the namespace is expanded by
    `items_expand` instead. Mappings before `after` not yet expanded (a registration that
    raced with the approval) are swept in before the request completes, as always.

    At most `limit` items, the next ones in `item_id` order: returns the last one added
    when there may be more, else None. The starting job expands the namespaces a
    piece of each in turn, so that all of them fill at once.
    """
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"""
                WITH added AS (
                    INSERT INTO erasure_erasureitem {_ITEM_COLUMNS}
                    SELECT {_ITEM_VALUES}
                    FROM erasure_itemmapping m
                    WHERE m.subject_id = %(subject)s AND m.namespace_id = %(namespace)s
                      AND m.item_id > %(after)s
                    ORDER BY m.item_id LIMIT %(limit)s
                    RETURNING item_id
                )
                SELECT count(*), max(item_id) FROM added
                """,  # noqa: S608 (the constants above)
                {
                    "request": request.pk,
                    "pending": ItemOutcome.PENDING,
                    "subject": request.subject_id,
                    "namespace": namespace_id,
                    "after": after,
                    "limit": limit,
                    "scanner": SCANNER.label,
                },
            )
            added, last = cursor.fetchone()
    except IntegrityError:
        items_expand(request=request, actor=actor, namespace_ids=[namespace_id], held=True)
        return None  # the whole namespace
    _expanded(request, actor, added)
    return last if added >= limit else None


def _expanded(request: ErasureRequest, actor: Actor, added: int) -> None:
    if added:
        audit_record(
            event_type=AuditEventType.ITEMS_EXPANDED,
            actor=actor,
            request=request,
            details={"added": added},
        )
