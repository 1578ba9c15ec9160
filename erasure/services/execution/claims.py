"""Claims: leasing dispatch-sized batches of pending items to one worker.

A claim is a short transaction of its own, committed before any call: the items are leased
(`lease_owner`, `lease_until`) by one UPDATE, or expanded from the namespace's next mappings
already leased (one INSERT) when nothing pending is claimable, claims of one namespace
taking turns, and the claim counts an attempt, so that a worker dying before it records
anything leaves a trace.
"""

from __future__ import annotations

import math
import os
import random
import socket
import threading
import uuid
from operator import itemgetter

from django.conf import settings
from django.db import connection, transaction

from erasure.lifecycle import ItemOutcome, RequestStatus
from erasure.liveness import lease_free
from erasure.models import AttributionMode, ErasureRequest, Namespace
from erasure.prepared import prepared_cursor
from erasure.selectors.requests import unexpanded_sql
from erasure.services.execution.base import WORKER, Batch, Item
from erasure.services.expansion import items_expand_leased
from namespace_api.client import NamespaceApiClient

SINGLE_MODE_BATCH = 100
# How often a job's claim also looks behind its cursor (see `claim`), in seconds.
BEHIND_SECONDS = 10.0
# The advisory lock class of claims, taken per (request, namespace) for a claim's transaction.
CLAIM_LOCK_CLASS = 0x434C4149  # "CLAI"


def new_owner() -> str:
    """A lease owner name: unique per call, readable in the admin (host, pid, thread)."""
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}:{uuid.uuid4().hex[:8]}"


def namespaces_with_claimable_items(request_id: uuid.UUID | str) -> list[Namespace]:
    """Namespaces where the request has pending items: one index probe per namespace we
    know of (a handful), not a walk over every pending item. Namespaces of an API refused
    now (erasure.throttle.api_refuse) are left out: their items wait."""
    # One probe of the pending index per namespace. (Left to itself, the planner joined
    # the namespaces with every pending item of the request, all of them read on each
    # call: 100,000 index entries per call at the start of a 100,000-item request.)
    ids = _namespaces_where(request_id, "i.outcome = %(pending)s")
    namespaces = list(Namespace.objects.filter(pk__in=ids).order_by("name", "api")) if ids else []
    if settings.ERASURE_JOBS_PER_REQUEST <= 1 or len(namespaces) <= 1:
        return namespaces  # one job: name order, predictable
    # Jobs of one request start in different namespaces (a random rotation of the list),
    # instead of all crowding into the first one.
    turn = random.randrange(len(namespaces))  # noqa: S311 - spreading, not security
    return namespaces[turn:] + namespaces[:turn]


def _claimable(alias: str, *, text: str = "") -> str:
    """SQL: the item aliased `alias` may be claimed now (pending, its backoff over, its
    lease free, tries left). Parameter `max_attempts`; `text` is appended to the outcome
    column (see the claim). The pending outcome is a literal, as in the pending index's
    predicate: a prepared statement's generic plan may use that index only so."""
    return f"""{alias}.outcome{text} = '{ItemOutcome.PENDING}'
        AND ({alias}.not_before IS NULL OR {alias}.not_before <= now())
        AND {lease_free(alias)}
        AND {alias}.attempts < %(max_attempts)s"""


def claimable_exists(request_id: uuid.UUID | str) -> bool:
    """Whether any item of the request may be claimed now, outside a refused API: one
    probe per namespace, stopping at the first claimable item (it steps over only the
    pending items that are not: leased to other workers, or backing off). Cheaper than
    counting the pending items (`finish.pending_state`), which a job about to finish
    would otherwise do only to learn there is more to claim."""
    return bool(_namespaces_where(request_id, _claimable("i")))


def _namespaces_where(request_id: uuid.UUID | str, condition: str) -> list[int]:
    """The namespaces, outside a refused API, with an item of the request (aliased `i`)
    meeting `condition` (SQL with the parameters `pending` and `max_attempts`), or with
    mappings not expanded yet (which claims expand: `expansion.items_expand_leased`): one
    probe of each per namespace, `OFFSET 0` keeping each EXISTS a subplan of its own
    namespace."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT n.id FROM erasure_namespace n
            WHERE NOT EXISTS (SELECT 1 FROM erasure_apithrottle r
                              WHERE r.name = n.api AND r.refused_until > now())
              AND (EXISTS (SELECT 1 FROM erasure_erasureitem i
                           WHERE i.request_id = %(request)s AND i.namespace_id = n.id
                             AND {condition} OFFSET 0)
                   OR EXISTS (SELECT 1 FROM erasure_itemmapping m
                              WHERE m.subject_id = (SELECT r.subject_id
                                                    FROM erasure_erasurerequest r
                                                    WHERE r.id = %(request)s)
                                AND m.namespace_id = n.id AND {unexpanded_sql("m", "n.id")}
                              OFFSET 0))
            """,  # noqa: S608 (constants of this module and of liveness)
            {
                "request": uuid.UUID(str(request_id)),
                "pending": ItemOutcome.PENDING,
                "max_attempts": settings.ERASURE_MAX_ATTEMPTS,
            },
        )
        return [row[0] for row in cursor.fetchall()]


_item_counts: dict[tuple[str, int], int] = {}


def start_position(request_id: uuid.UUID | str, namespace: Namespace, batch_size: int) -> str:
    """Where a job starts sweeping a namespace: a random batch boundary, so that the jobs of
    one request spread over it instead of all scanning past each other's claims. Starting
    on a boundary keeps every claim a full batch: jobs meeting each other's territory still
    take whole, adjacent batches, so the call count stays at the floor."""
    with connection.cursor() as cursor:
        key = (str(request_id), namespace.pk)
        total = _item_counts.get(key)
        if total is None:
            # Counted once per process and namespace: a guide for spreading, so items
            # swept in later need not be counted.
            cursor.execute(
                "SELECT count(*) FROM erasure_erasureitem "
                "WHERE request_id = %s AND namespace_id = %s",
                [request_id, namespace.pk],
            )
            total = _item_counts[key] = cursor.fetchone()[0]
            while len(_item_counts) > 1000:
                _item_counts.pop(next(iter(_item_counts)))
        if total <= batch_size:
            return ""
        offset = random.randrange(math.ceil(total / batch_size)) * batch_size  # noqa: S311
        if offset == 0:
            return ""
        cursor.execute(
            """
            SELECT item_id FROM erasure_erasureitem
            WHERE request_id = %s AND namespace_id = %s AND outcome = %s
            ORDER BY item_id OFFSET %s LIMIT 1
            """,
            [request_id, namespace.pk, ItemOutcome.PENDING, offset - 1],
        )
        row = cursor.fetchone()
    return row[0] if row else ""


def claim(
    request_id: uuid.UUID | str,
    namespace: Namespace,
    owner: str,
    client: NamespaceApiClient,
    *,
    after: str = "",
    behind: bool = True,
) -> Batch | None:
    """Lease one dispatch of claimable items to `owner` (committed before any call).

    Pending items are taken in `item_id` order from `after` on (the pending index's
    order); when nothing is left past `after` and `behind` is set, the namespace is
    scanned again from its start, for retries that came due and a dead worker's batch
    behind the cursor; when nothing pending is claimable, the namespace's next mappings
    are expanded into the batch; and once they all are, anything behind the cursor is
    taken (all in the same transaction).

    The scan from the start walks the pending index over every item the namespace has
    recorded since its last vacuum (their old, pending versions), so a job asks for it
    every `BEHIND_SECONDS` (see `execution._work_on`), not at every claim: a dead
    worker's batch waits that long at most for a live job (a new job's first claim looks
    behind at once), and a claim stays a walk of a batch.
    """
    size = client.flavor.delete_max
    if namespace.attribution_mode == AttributionMode.SINGLE:
        size = SINGLE_MODE_BATCH
    with transaction.atomic():
        # FOR SHARE: a hold (or any state change, FOR NO KEY UPDATE) in progress is waited
        # for, and its outcome seen: no batch is claimed for a request held meanwhile.
        with prepared_cursor() as cursor:
            cursor.execute(
                "SELECT 1 FROM erasure_erasurerequest WHERE id = %s AND status = %s FOR SHARE",
                [request_id, RequestStatus.RUNNING],
            )
            if cursor.fetchone() is None:
                return None
        request = _request_cache.get(str(request_id))
        if request is None:
            # What a batch needs of its request (its id and subject) never changes: read
            # once per thread and request.
            request = ErasureRequest.objects.select_related("subject").get(pk=request_id)
            _request_cache.set(str(request_id), request)
        with prepared_cursor() as cursor:
            # Claims of one namespace of one request take turns (a lock for this short
            # transaction), so the pending items are chosen without locking each row first
            # (FOR UPDATE SKIP LOCKED wrote every row twice: its lock, then its lease). The
            # outer WHERE repeats the conditions: a row changed meanwhile (a retry, a hold)
            # is checked again in its new version.
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s, hashtext(%s))",
                [CLAIM_LOCK_CLASS, f"{request.pk}:{namespace.pk}"],
            )
            # Pending items first (the start's, retries, a dead worker's batch) past
            # `after`, then, when `behind`, before it; else the namespace's next mappings;
            # and once those are all expanded, anything behind the cursor.
            rows = _lease_pending(cursor, request, namespace, owner, size, after)
            if not rows and after and behind:
                rows = _lease_pending(cursor, request, namespace, owner, size, "")
            if not rows:
                rows = items_expand_leased(
                    request=request, actor=WORKER, namespace_id=namespace.pk, owner=owner, size=size
                )
            if not rows and after and not behind:
                rows = _lease_pending(cursor, request, namespace, owner, size, "")
    if not rows:
        return None
    items = sorted(map(Item._make, rows), key=itemgetter(1))  # by item_id
    return Batch(request=request, namespace=namespace, items=items)


def _lease_pending(
    cursor, request: ErasureRequest, namespace: Namespace, owner: str, size: int, start: str
) -> list[tuple]:
    """Lease up to `size` claimable pending items of the namespace past `start` (in
    `item_id` order) to `owner`: the claim's rows (id, item_id, maybe_applied,
    seen_present, ctid). The claim counts an attempt and clears the last status: a worker
    that dies before recording leaves "tried, no answer", which the next claim turns into
    `maybe_applied` (the call may have gone out and been applied)."""
    cursor.execute(
        f"""
        UPDATE erasure_erasureitem i
        SET lease_owner = %(owner)s,
            lease_until = now() + make_interval(secs => %(lease)s),
            maybe_applied = i.maybe_applied
                OR (i.attempts > 0 AND i.last_http_status IS NULL),
            -- A dead owner's proof of presence (LeaseProof) passes to its items.
            seen_present = i.seen_present OR (i.lease_owner <> '' AND
                i.lease_owner = ANY(ARRAY(
                    SELECT p.owner FROM erasure_leaseproof p
                    WHERE p.request_id = %(request)s))),
            attempts = i.attempts + 1,
            last_http_status = NULL,
            last_error = ''
        -- ARRAY(...) makes the outer update a fetch of the rows the inner scan
        -- found, where it found them (their ctid: no primary-key lookup). Its
        -- outcome is compared as `outcome || ''`, which does not match the pending
        -- index's predicate: the plan stays so whatever the statistics say.
        -- (Taken when few items were pending, they made the planner scan the
        -- whole pending index, filtering by id, in every claim.) A row changed
        -- meanwhile is followed to its new version and checked again.
        -- A lease binds while it has time and its owner lives (liveness).
        WHERE i.ctid = ANY(ARRAY(
            SELECT c.ctid FROM erasure_erasureitem c
            WHERE c.request_id = %(request)s AND c.namespace_id = %(namespace)s
              AND c.item_id > %(after)s
              AND {_claimable("c")}
            ORDER BY c.item_id
            LIMIT %(size)s
        ))
          AND {_claimable("i", text=" || ''")}
        RETURNING i.id, i.item_id, i.maybe_applied, i.seen_present, i.ctid::text
        """,  # noqa: S608 (constants of this module and of liveness)
        {
            "request": request.pk,
            "namespace": namespace.pk,
            "max_attempts": settings.ERASURE_MAX_ATTEMPTS,
            "size": size,
            "owner": owner,
            "lease": settings.ERASURE_LEASE_SECONDS,
            "after": start,
        },
    )
    return cursor.fetchall()


class _RequestCache(threading.local):
    """The request object of the last claims, per worker thread (one entry)."""

    def __init__(self) -> None:
        self.key = ""
        self.value: ErasureRequest | None = None

    def get(self, key: str) -> ErasureRequest | None:
        return self.value if self.key == key else None

    def set(self, key: str, value: ErasureRequest) -> None:
        self.key, self.value = key, value


_request_cache = _RequestCache()


def still_running(request_id: uuid.UUID | str) -> bool:
    """Whether the request is running (checked before every call: a statement, not a
    query built by the ORM each time)."""
    with prepared_cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM erasure_erasurerequest WHERE id = %s AND status = %s",
            [request_id, RequestStatus.RUNNING],
        )
        return cursor.fetchone() is not None


def give_back(item_pks: list[int], owner: str, *, status: int | None = None) -> None:
    """Release claimed items that were never sent: the attempt is returned, and the items
    are marked answered (`status`, else 0 after an earlier try) so that the claim is not
    taken for a try without an answer."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE erasure_erasureitem
            SET attempts = attempts - 1,
                last_http_status = coalesce(%(status)s, CASE WHEN attempts > 1 THEN 0 END),
                lease_owner = '', lease_until = NULL
            WHERE id = ANY(%(ids)s) AND lease_owner = %(owner)s
            """,
            {"status": status, "ids": item_pks, "owner": owner},
        )
