"""Replays: after a vendor restored a backup, send again the deletes of every item that
any request erased since a given time.

A replay is a run of its own: its items (each erased item once, whatever request erased
it), its dispatches, its outcomes and its audit events (`replay.started`,
`replay.dispatch_recorded` per batch, `replay.completed` with the report). The original
requests' items and outcomes are never touched. What a replay's delete finds tells what
the restore brought back: `deleted` (it was there again), `not_found` (it was not), or,
where the API's counts cannot tell (vector namespaces), `deleted_or_not_found`. Each
namespace is erased in its own attribution mode.

A worker runs a replay batch by batch, under a session advisory lock (one runner per
replay, no row locked across a call). A batch is marked `sent` before its call, so that a
runner that died after sending is never read as "not there" on the resend.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone

from erasure import queue
from erasure.actors import Actor
from erasure.apis import api_get, namespace_label_sql
from erasure.clients import ApiClients
from erasure.errors import InvalidInput
from erasure.lifecycle import ERASED_OUTCOMES, ItemOutcome
from erasure.liveness import session_lock
from erasure.models import AuditEventType, Namespace, Replay, ReplayItem, ReplayState
from erasure.selectors.namespaces import namespaces_named
from erasure.services.audit import audit_record
from erasure.services.execution.dispatch import dispatches_record
from namespace_api.client import NamespaceApiClient

logger = logging.getLogger("erasure.replays")

REPLAYER = Actor.system("replay")
SENT = "sent"
PENDING = "pending"
# The first key of the replays' advisory locks (the second is the replay's id).
ADVISORY_LOCK_CLASS = 0x52504C59


def replay_plan(
    *, since: datetime, namespaces: Sequence[str] = (), api: str = ""
) -> dict[str, int]:
    """What a replay from `since` would send, per namespace (a dry run: nothing written);
    a namespace of an API other than the default one is named `API/name`."""
    selected = _namespaces(namespaces, api=api)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT {namespace_label_sql("n")} AS label,
                   count(DISTINCT i.item_id)
            FROM ({_ERASED_SINCE}) AS i JOIN erasure_namespace n ON n.id = i.namespace_id
            GROUP BY label ORDER BY label
            """,  # noqa: S608 (the fragment is a constant of this module)
            _erased_params(since, selected),
        )
        return dict(cursor.fetchall())


def replay_create(
    *,
    since: datetime,
    namespaces: Sequence[str] = (),
    api: str = "",
    actor: Actor,
    run_in_worker: bool = True,
) -> Replay:
    """Record a replay of every item erased since `since` (in `namespaces` of API `api`,
    else in every namespace of every API) and, unless told otherwise, wake a worker to
    run it."""
    if timezone.is_naive(since):
        raise InvalidInput("since must carry a time zone", fields={"since": ["no time zone"]})
    if since > timezone.now():
        raise InvalidInput("since must not be in the future", fields={"since": ["future"]})
    selected = _namespaces(namespaces, api=api)
    with transaction.atomic():
        replay = Replay.objects.create(
            since=since,
            namespaces=sorted(n.label for n in selected),
            created_by=actor.label,
        )
        with connection.cursor() as cursor:
            cursor.execute(
                f"""
                INSERT INTO erasure_replayitem (replay_id, namespace_id, item_id, outcome)
                SELECT DISTINCT %s, i.namespace_id, i.item_id, %s FROM ({_ERASED_SINCE}) AS i
                """,  # noqa: S608 (the fragment is a constant of this module)
                [replay.pk, PENDING, *_erased_params(since, selected)],
            )
            replay.items = cursor.rowcount
        replay.save(update_fields=["items"])
        audit_record(
            event_type=AuditEventType.REPLAY_STARTED,
            actor=actor,
            details={
                "replay": replay.pk,
                "since": since.isoformat(),
                "namespaces": replay.namespaces,
                "items": replay.items,
            },
        )
        if run_in_worker:
            queue.enqueue_replay(replay_id=replay.pk)
    return replay


# Every item a request erased since a time, in some namespaces or all.
_ERASED_SINCE = """
    SELECT namespace_id, item_id FROM erasure_erasureitem
    WHERE outcome = ANY(%s) AND decided_at >= %s AND (%s OR namespace_id = ANY(%s))
"""


def _erased_params(since: datetime, selected: list[Namespace]) -> list:
    return [list(ERASED_OUTCOMES), since, not selected, [n.pk for n in selected]]


def _namespaces(names: Sequence[str], *, api: str = "") -> list[Namespace]:
    if not names:
        api_get(api)  # an unknown API is an error even when no namespace is named
        return []
    return namespaces_named(names, api=api)


def replay_carry_on(*, replay_id: int) -> None:
    """The worker's part: run a replay on (nothing if it has completed or another runner
    holds it)."""
    replay = Replay.objects.filter(pk=replay_id).first()
    if replay is None or replay.state != ReplayState.RUNNING:
        return
    replay_run(replay)


def replay_run(replay: Replay, *, client: NamespaceApiClient | None = None) -> Replay:
    """Send the replay's pending deletes, batch by batch, each namespace to its own API,
    and complete it; returns it as stored. An API error is raised with the rest left for
    the next run. `client`, when given, serves the default API."""
    with session_lock(ADVISORY_LOCK_CLASS, replay.pk, wait=False) as mine:
        if not mine:
            return replay  # another runner has it
        with ApiClients(given=client) as clients:
            return _run(replay, clients)


def _run(replay: Replay, clients: ApiClients) -> Replay:
    """Send every pending batch of the replay, each to its namespace's API."""
    namespaces = Namespace.objects.in_bulk(
        ReplayItem.objects.filter(replay=replay, outcome__in=[PENDING, SENT])
        .values_list("namespace_id", flat=True)
        .distinct()
    )
    for namespace in sorted(namespaces.values(), key=lambda n: (n.name, n.api)):
        api_client = clients.for_namespace(namespace)
        after = ""
        while True:
            batch = _take(replay, namespace, after=after, size=api_client.flavor.delete_max)
            if not batch:
                break
            after = batch[-1][0]
            _send(replay, namespace, batch, api_client)
    return _complete(replay)


def _take(replay: Replay, namespace: Namespace, *, after: str, size: int) -> list[tuple[str, bool]]:
    """The next batch, marked sent before its call: (item id, sent before)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE erasure_replayitem r SET outcome = %(sent)s
            FROM (
                SELECT item_id, outcome FROM erasure_replayitem
                WHERE replay_id = %(replay)s AND namespace_id = %(namespace)s
                  AND outcome = ANY(%(open)s) AND item_id > %(after)s
                ORDER BY item_id LIMIT %(size)s
            ) AS b
            WHERE r.replay_id = %(replay)s AND r.namespace_id = %(namespace)s
              AND r.item_id = b.item_id
            RETURNING r.item_id, b.outcome = %(sent)s
            """,
            {
                "sent": SENT,
                "replay": replay.pk,
                "namespace": namespace.pk,
                "open": [PENDING, SENT],
                "after": after,
                "size": size,
            },
        )
        return sorted(cursor.fetchall())


def _send(
    replay: Replay, namespace: Namespace, batch: list[tuple[str, bool]], client: NamespaceApiClient
) -> None:
    ids = [item_id for item_id, _ in batch]
    result = client.erase(
        namespace=namespace.name,
        kind=namespace.kind,
        ids=ids,
        mode=namespace.attribution_mode,
        # Sent before by a runner that died: absent now cannot mean "not there".
        prior_ambiguous=[item_id for item_id, sent_before in batch if sent_before],
    )
    with transaction.atomic():
        dispatches = dispatches_record(
            result.calls, namespace=namespace, worker=REPLAYER.label, replay=replay
        )
        groups: dict[tuple[str, int | None], list[str]] = defaultdict(list)
        for item_id in ids:
            found = result.results.get(item_id)
            if found is None:
                continue  # not attempted (the batch stopped): stays sent, for the next run
            dispatch = dispatches[found.call_index].pk if found.call_index >= 0 else None
            groups[(str(found.outcome), dispatch)].append(item_id)
        with connection.cursor() as cursor:
            for (outcome, dispatch_id), item_ids in groups.items():
                cursor.execute(
                    """
                    UPDATE erasure_replayitem SET outcome = %s, dispatch_id = %s
                    WHERE replay_id = %s AND namespace_id = %s AND item_id = ANY(%s)
                      AND outcome = %s
                    """,
                    [outcome, dispatch_id, replay.pk, namespace.pk, item_ids, SENT],
                )
        counts = Counter({outcome: len(item_ids) for (outcome, _), item_ids in groups.items()})
        audit_record(
            event_type=AuditEventType.REPLAY_DISPATCH_RECORDED,
            actor=REPLAYER,
            details={
                "replay": replay.pk,
                "namespace": namespace.name,
                "dispatch_ids": [d.pk for d in dispatches],
                "items": len(ids),
                "results": dict(counts),
                "stopped": result.stop_reason,
            },
        )
    if result.stop_reason:
        raise RuntimeError(f"replay {replay.pk} stopped: {result.stop_reason}")


def _complete(replay: Replay) -> Replay:
    with transaction.atomic():
        locked = Replay.objects.select_for_update().get(pk=replay.pk)
        if locked.state != ReplayState.RUNNING:
            return locked
        with connection.cursor() as cursor:
            cursor.execute(
                f"""
                SELECT {namespace_label_sql("n")}, r.outcome, count(*)
                FROM erasure_replayitem r JOIN erasure_namespace n ON n.id = r.namespace_id
                WHERE r.replay_id = %s GROUP BY 1, 2
                """,  # noqa: S608 (a constant of erasure.apis)
                [locked.pk],
            )
            rows = cursor.fetchall()
        by_namespace: dict[str, dict[str, int]] = {}
        totals: Counter[str] = Counter()
        for name, outcome, count in rows:
            by_namespace.setdefault(name, {})[outcome] = count
            totals[outcome] += count
        if totals[PENDING] or totals[SENT]:
            return locked  # some were not sent (an API stop): the next run goes on
        locked.came_back = totals[ItemOutcome.DELETED]
        locked.absent = totals[ItemOutcome.NOT_FOUND]
        locked.unknown = totals[ItemOutcome.DELETED_OR_NOT_FOUND]
        locked.failed = totals[ItemOutcome.FAILED]
        locked.state = ReplayState.COMPLETED
        locked.finished_at = timezone.now()
        locked.save()
        audit_record(
            event_type=AuditEventType.REPLAY_COMPLETED,
            actor=REPLAYER,
            details={
                "replay": locked.pk,
                "since": locked.since.isoformat(),
                "items": locked.items,
                "came_back": locked.came_back,
                "absent": locked.absent,
                "unknown": locked.unknown,
                "failed": locked.failed,
                "by_namespace": by_namespace,
            },
        )
    logger.info(
        "replay %s completed: %d items, %d came back, %d absent, %d unknown, %d failed",
        locked.pk,
        locked.items,
        locked.came_back,
        locked.absent,
        locked.unknown,
        locked.failed,
    )
    return locked
