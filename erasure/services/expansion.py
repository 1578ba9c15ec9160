"""Expansion: a request's items, from its subject's mappings (product.md, "Execution")."""

from __future__ import annotations

from django.conf import settings
from django.db import connection

from erasure.actors import Actor
from erasure.lifecycle import EXPANDABLE_STATUSES, ItemOutcome
from erasure.models import AuditEventType, ErasureRequest
from erasure.prepared import prepared_cursor
from erasure.selectors.requests import unexpanded_sql
from erasure.services.audit import Entry, audit_record, audit_record_many
from erasure.services.locks import lock_request

# The actor of scans (erasure.services.scans): the mappings it discovers carry its label.
SCANNER = Actor.system("scan")


# A new item from its mapping `m`: the columns of the INSERT and the values of its SELECT
# (the parameters request, pending and scanner), the same in every expansion. A claim's
# expansion (`items_expand_leased`) adds the lease: the claim's attempt, its owner and
# the lease's end (the parameters owner and lease).
_ITEM_COLUMNS = """(request_id, namespace_id, item_id, outcome, attempts, last_error,
                    lease_owner, seen_present, maybe_applied, discovered)"""
_ITEM_VALUES = """%(request)s, m.namespace_id, m.item_id, %(pending)s, 0, '', '', false, false,
                  m.registered_by = %(scanner)s"""
_LEASED_ITEM_COLUMNS = """(request_id, namespace_id, item_id, outcome, attempts, last_error,
                           lease_owner, seen_present, maybe_applied, discovered, lease_until)"""
_LEASED_ITEM_VALUES = """%(request)s, m.namespace_id, m.item_id, %(pending)s, 1, '', %(owner)s,
                         false, false, m.registered_by = %(scanner)s,
                         now() + make_interval(secs => %(lease)s)"""


def items_expand(
    *,
    request: ErasureRequest,
    actor: Actor,
    namespace_ids: list[int] | None = None,
    held: bool = False,
) -> int:
    """Add an item for every mapping of the request's subject not yet in it (set-based),
    in every namespace or in `namespace_ids` only.

    Runs before a request finishes, so mappings registered while it ran that its claims
    did not take are swept in, when mappings of a started request are about to be
    removed (`mappings_remove`), and for re-checks. Returns the number of items added.
    Expansions of one request are serialised by its row lock (taken here unless `held`:
    the caller holds it and has checked that the request may expand).

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
                **_item_params(request),
                "all": namespace_ids is None,
                "namespaces": namespace_ids or [],
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
    the last item it took (the claims go on from there: `items_expand_leased`)."""
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
                **_item_params(request),
                "namespaces": namespace_ids,
                "n": first,
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


def items_take_registered(
    *, request: ErasureRequest, actor: Actor, namespace_ids: list[int]
) -> int:
    """A running request takes the mappings registered in this transaction (those with its
    `now()`) in `namespace_ids`: those its claims have passed (before the namespace's
    last item) become items now, with any other mapping there not expanded yet; those
    ahead of its claims are theirs to expand as they get there (an item inserted ahead
    would move the point the claims go on from past mappings not expanded yet). Returns
    how many of the registered mappings the request takes, plus any other swept in. The
    caller holds the request's lock."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH added AS (
                INSERT INTO erasure_erasureitem {_ITEM_COLUMNS}
                SELECT {_ITEM_VALUES}
                FROM erasure_itemmapping m
                WHERE m.subject_id = %(subject)s AND m.namespace_id = ANY(%(namespaces)s)
                  AND NOT {unexpanded_sql("m", "m.namespace_id")}
                ON CONFLICT (request_id, namespace_id, item_id) DO NOTHING
                RETURNING 1
            )
            SELECT (SELECT count(*) FROM added),
                   (SELECT count(*) FROM erasure_itemmapping m
                    WHERE m.subject_id = %(subject)s AND m.namespace_id = ANY(%(namespaces)s)
                      AND m.registered_at = now()
                      AND {unexpanded_sql("m", "m.namespace_id")})
            """,  # noqa: S608 (the constants above)
            {
                **_item_params(request),
                "namespaces": namespace_ids,
            },
        )
        added, ahead = cursor.fetchone()
    _expanded(request, actor, added)
    return added + ahead


def items_expand_leased(
    *, request: ErasureRequest, actor: Actor, namespace_id: int, owner: str, size: int
) -> list[tuple[int, str, bool, bool, str]]:
    """A claim's expansion: the namespace's next `size` mappings (in `item_id` order, past
    its last item) become items leased to `owner`, the claim's attempt counted, so each is
    written once before its outcome instead of inserted pending and then leased. Returns
    the claim's rows (id, item_id, maybe_applied, seen_present, ctid).

    The start expands the first items of every namespace (`items_expand_first`); claims
    expand the rest as they go, a batch at a time, so a request of millions of items is
    never expanded far ahead of its calls. The caller holds the namespace's claim lock
    (claims of a namespace take turns) and a share lock on the running request, which
    every other expansion (`items_expand`, under the request's lock) waits for: none
    inserts these items meanwhile, so a plain INSERT takes them, without the speculative
    insertion of ON CONFLICT (a quarter more WAL per row)."""
    with prepared_cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO erasure_erasureitem {_LEASED_ITEM_COLUMNS}
            SELECT {_LEASED_ITEM_VALUES}
            FROM erasure_itemmapping m
            WHERE m.subject_id = %(subject)s AND m.namespace_id = %(namespace)s
              AND {unexpanded_sql("m", "%(namespace)s")}
            ORDER BY m.item_id
            LIMIT %(size)s
            RETURNING id, item_id, maybe_applied, seen_present, ctid::text
            """,  # noqa: S608 (the constants above)
            {
                **_item_params(request),
                "namespace": namespace_id,
                "owner": owner,
                "lease": settings.ERASURE_LEASE_SECONDS,
                "size": size,
            },
        )
        rows = cursor.fetchall()
    _expanded(request, actor, len(rows))
    return rows


def _item_params(request: ErasureRequest) -> dict:
    """The parameters every expansion's SQL names: its request and subject, the pending
    outcome and the scanner's label (`_ITEM_VALUES`)."""
    return {
        "request": request.pk,
        "subject": request.subject_id,
        "pending": ItemOutcome.PENDING,
        "scanner": SCANNER.label,
    }


def _expanded(request: ErasureRequest, actor: Actor, added: int) -> None:
    if added:
        audit_record(
            event_type=AuditEventType.ITEMS_EXPANDED,
            actor=actor,
            request=request,
            details={"added": added},
        )
