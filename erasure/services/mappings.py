"""Registering which items belong to which subject (product.md "mapping")."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from psycopg.pq import TransactionStatus

from erasure.actors import Actor
from erasure.apis import ApiKeyMissing, api_get, namespace_label
from erasure.errors import InvalidInput, UpstreamUnavailable
from erasure.hashing import subject_hashes
from erasure.lifecycle import COMPLETED_STATUSES, OPEN_STATUSES
from erasure.models import (
    AuditEventType,
    ErasureRequest,
    Namespace,
    RequestSource,
    RequestStatus,
    Subject,
)
from erasure.services.audit import audit_record
from erasure.services.expansion import items_expand, items_take_registered
from erasure.services.namespaces import namespaces_sync
from erasure.services.requests import request_file
from namespace_api.client.errors import NamespaceApiError

MAX_ITEMS_PER_CALL = 10_000
MAX_ITEM_ID_LENGTH = 512
MAX_NAMESPACE_LENGTH = 200  # Namespace.name
# An import naming more namespaces than this is a wrong file (a column out of place), and
# the names are kept in memory while the file streams.
MAX_NAMESPACES_PER_IMPORT = 10_000
# Subject hashes an import keeps between its batches.
MAX_HASHES_KEPT = 200_000


@dataclass(frozen=True)
class MappingInput:
    subject: str
    namespace: str
    item_id: str
    # The namespace's API by name; empty: the default API (erasure.apis).
    api: str = ""


# A namespace as mappings name it: (API name, namespace name), the API resolved.
NamespaceRef = tuple[str, str]


def namespace_refs(items: Sequence[MappingInput]) -> dict[MappingInput, NamespaceRef]:
    """Each item's (API, namespace), the API named by the item or the default one
    (InvalidInput for an API that is not configured)."""
    resolved = _apis_of(items)
    return {i: (resolved[i.api], i.namespace) for i in items}


def _apis_of(items: Sequence[MappingInput]) -> dict[str, str]:
    """The API each item's `api` names: the configured name (the default one for "")."""
    return {api: api_get(api).name for api in {i.api for i in items}}


def _distinct_refs(items: Sequence[MappingInput]) -> set[NamespaceRef]:
    """The (API, namespace) pairs the items name (tuples hashed in C, not one dataclass
    hash an item: a 10,000-item call names a handful)."""
    resolved = _apis_of(items)
    return {(resolved[api], name) for api, name in {(i.api, i.namespace) for i in items}}


@dataclass(frozen=True)
class RegisterResult:
    received: int
    created: int
    added_to_open_requests: int
    after_erasure: int
    """Mappings created now for subjects whose last request has completed (and who have no
    open one): data uploaded after the erasure. Reported, and erased by a new request
    when ERASURE_LATE_MAPPINGS is `erase`."""


def mappings_namespaces(*, items: Sequence[MappingInput]) -> dict[NamespaceRef, Namespace]:
    """The namespaces the items name, by (API, name), after validating the items
    (InvalidInput).

    A namespace not known yet is looked up in the namespace API's list (UpstreamUnavailable
    when it cannot be asked, InvalidInput when it is not there either); the namespaces
    learned are committed by the sync's own short transaction. Call it outside any
    transaction: the API call can take seconds, and a transaction open across it would
    keep everything it holds (an Idempotency-Key's lock, the namespace rows the sync locks
    and every worker's dispatch needs) waiting on the network. The API view does, then
    passes the result to `mappings_register` inside its Idempotency-Key transaction.
    """
    _validate(items)
    return _resolve_namespaces(_distinct_refs(items))


def mappings_register(
    *,
    items: Sequence[MappingInput],
    actor: Actor,
    namespaces: Mapping[NamespaceRef, Namespace] | None = None,
) -> RegisterResult:
    """Register mappings in bulk; idempotent (a mapping registered twice is kept once).

    Every namespace must be known: `namespaces`, from `mappings_namespaces(items=...)`
    called beforehand, or else resolved here first, before this function's own transaction
    (the namespace API is asked for its list once when one is not known; see
    `mappings_namespaces` for why no transaction may be open around that call). Nothing is
    written unless every item is valid. Items of a subject whose request is running are
    added to that request at once (an approved one expands everything when its job
    starts). New mappings of a subject already erased are flagged, see `mappings_follow_up`.
    """
    if namespaces is None:
        _validate(items)
    resolved = _apis_of(items)
    # Each item's namespace by the (api, name) it was given: tuples hashed in C, a handful.
    given = {(i.api, i.namespace) for i in items}
    names = {(resolved[api], name) for api, name in given}
    if namespaces is None:
        namespaces = _resolve_namespaces(names)
    elif not names <= namespaces.keys():  # validated by mappings_namespaces already
        raise ValueError("`namespaces` must hold every namespace the items name")
    namespace_pks = {(api, name): namespaces[resolved[api], name].pk for api, name in given}
    hashes = subject_hashes(i.subject for i in items)
    distinct_hashes = list(set(hashes.values()))
    with transaction.atomic():
        subject_ids, known_before = _subject_ids(distinct_hashes)
        with connection.cursor() as cursor:
            # Only the rows inserted now come back, counted per subject: re-registrations
            # are neither "created" nor "after erasure".
            cursor.execute(
                """
                WITH ins AS (
                    INSERT INTO erasure_itemmapping
                        (subject_id, namespace_id, item_id, registered_at, registered_by)
                    SELECT v.subject_id, v.namespace_id, v.item_id, now(), %s
                    FROM unnest(%s::bigint[], %s::bigint[], %s::text[])
                         AS v(subject_id, namespace_id, item_id)
                    ON CONFLICT (subject_id, namespace_id, item_id) DO NOTHING
                    RETURNING subject_id
                )
                SELECT subject_id, count(*) FROM ins GROUP BY subject_id
                """,
                [
                    actor.label,
                    [subject_ids[hashes[i.subject]] for i in items],
                    [namespace_pks[(i.api, i.namespace)] for i in items],
                    [i.item_id for i in items],
                ],
            )
            created_by_subject = cursor.fetchall()
        created = sum(n for _, n in created_by_subject)
        follow_up = mappings_follow_up(
            # A subject created by this call has no request yet: only the others can
            # have one to follow up.
            touched_sql="SELECT unnest(%s::bigint[]) AS id",
            touched_params=[known_before],
            created_sql="SELECT * FROM unnest(%s::bigint[], %s::bigint[]) AS c(subject_id, n)",
            created_params=[[s for s, _ in created_by_subject], [n for _, n in created_by_subject]],
            namespace_ids=sorted(set(namespace_pks.values())),
            actor=actor,
        )
        audit_record(
            event_type=AuditEventType.MAPPINGS_REGISTERED,
            actor=actor,
            details={
                "received": len(items),
                "created": created,
                "subjects": len(distinct_hashes),
                "added_to_open_requests": follow_up.added_to_open_requests,
                "after_erasure": follow_up.after_erasure,
            },
        )
    return RegisterResult(
        received=len(items),
        created=created,
        added_to_open_requests=follow_up.added_to_open_requests,
        after_erasure=follow_up.after_erasure,
    )


def _subject_ids(key_hashes: list[str]) -> tuple[dict[str, int], list[int]]:
    """The subject id of each distinct key hash, creating the subjects not known yet (in
    the caller's transaction), and the ids of those that existed before: one probe of the
    key index to insert, one to read the others.

    The statement's read sees the subjects committed before it started; one committed by
    a concurrent call in between (its insert made ours wait, then do nothing) is read
    again after it."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            WITH v AS (SELECT DISTINCT h FROM unnest(%(hashes)s::text[]) AS h),
            ins AS (
                INSERT INTO erasure_subject (key_hash, created_at)
                SELECT h, now() FROM v
                ON CONFLICT (key_hash) DO NOTHING
                RETURNING id, key_hash
            )
            SELECT id, key_hash, true FROM ins
            UNION ALL
            SELECT s.id, s.key_hash, false FROM erasure_subject s JOIN v ON s.key_hash = v.h
            """,
            {"hashes": key_hashes},
        )
        rows = cursor.fetchall()
        ids = {key_hash: pk for pk, key_hash, _ in rows}
        known_before = [pk for pk, _, created in rows if not created]
        late = [h for h in key_hashes if h not in ids]
        if late:
            cursor.execute(
                "SELECT id, key_hash FROM erasure_subject WHERE key_hash = ANY(%s::text[])",
                [late],
            )
            for pk, key_hash in cursor.fetchall():
                ids[key_hash] = pk
                known_before.append(pk)
    return ids, known_before


@dataclass(frozen=True)
class FollowUp:
    added_to_open_requests: int
    after_erasure: int


def mappings_follow_up(
    *,
    touched_sql: str,
    touched_params: list[Any],
    created_sql: str,
    created_params: list[Any],
    namespace_ids: list[int],
    actor: Actor,
) -> FollowUp:
    """After mappings were inserted (in the caller's transaction): what their subjects'
    requests must do about them. Shared by `mappings_register` and `mappings_import`.

    `touched_sql` selects the ids of every subject named by the batch, `created_sql` the
    `(subject_id, n)` of the mappings inserted now. One query finds, among the touched
    subjects, those with a running request and those whose most recent request has
    completed with no open one; only those come back to Python (usually none).

    * A running request takes the subject's mappings in `namespace_ids`: at once where
      its claims have passed, else when they get there (`items_take_registered`; an
      approved or scheduled one's claims expand everything once its job starts; every
      request sweeps in what is missing before it completes).
    * Mappings created now for an erased subject are "after erasure": data uploaded after
      the erasure would otherwise be kept silently. They are recorded (counts and subject
      hashes), and with ERASURE_LATE_MAPPINGS=erase a new request is filed for the subject,
      auto-approved by the service, under the regulation of the completed one.
    """
    with connection.cursor() as cursor:
        # DISTINCT ON keeps one request per subject: its open one if any (there is at most
        # one, a constraint), else its most recent.
        cursor.execute(
            f"""
            WITH touched AS ({touched_sql}),
                 created AS ({created_sql}),
                 latest AS (
                     SELECT DISTINCT ON (r.subject_id)
                            r.subject_id, r.id, r.status, r.regulation
                     FROM erasure_erasurerequest r
                     WHERE r.subject_id IN (SELECT id FROM touched)
                     ORDER BY r.subject_id, (r.status = ANY(%s)) DESC, r.received_at DESC
                 )
            SELECT l.subject_id, s.key_hash, l.id, l.status, l.regulation,
                   coalesce(c.n, 0)
            FROM latest l
            JOIN erasure_subject s ON s.id = l.subject_id
            LEFT JOIN created c ON c.subject_id = l.subject_id
            WHERE l.status = ANY(%s)
            ORDER BY l.subject_id
            """,  # noqa: S608 (both fragments are constants of this module)
            [
                *touched_params,
                *created_params,
                list(OPEN_STATUSES),
                [RequestStatus.RUNNING, *COMPLETED_STATUSES],
            ],
        )
        rows = cursor.fetchall()
    running_ids = [
        request_id for _, _, request_id, status, _, _ in rows if status == RequestStatus.RUNNING
    ]
    late = [row for row in rows if row[3] in COMPLETED_STATUSES and row[5] > 0]

    added = 0
    if running_ids:
        # The requests locked in one statement, and the status read again under the
        # lock: a request that completed
        # meanwhile must not take items no job will ever send.
        running = list(
            ErasureRequest.objects.select_for_update(no_key=True, of=("self",))
            .select_related("subject")
            .filter(pk__in=running_ids)
            .order_by("pk")
        )
        for request in running:
            if request.status == RequestStatus.RUNNING:
                added += items_take_registered(
                    request=request, actor=actor, namespace_ids=namespace_ids
                )
    if not late:
        return FollowUp(added_to_open_requests=added, after_erasure=0)

    mode = settings.ERASURE_LATE_MAPPINGS
    filed: dict[int, str] = {}
    if mode == "erase":
        system = Actor.system("late-mappings")
        subjects = Subject.objects.in_bulk([row[0] for row in late])
        for subject_id, _, previous_id, _, regulation, _ in late:
            result = request_file(
                subject_key="",
                subject=subjects[subject_id],
                actor=system,
                source=RequestSource.SYSTEM,
                regulation=regulation,
                reason=f"items registered after erasure request {previous_id} completed",
                auto_approve=True,
            )
            filed[subject_id] = str(result.request.pk)
    after_erasure = sum(row[5] for row in late)
    audit_record(
        event_type=AuditEventType.MAPPINGS_AFTER_ERASURE,
        actor=actor,
        subject_hash=late[0][1] if len(late) == 1 else "",
        details={
            "after_erasure": after_erasure,
            "mode": mode,
            "subjects": [
                {
                    "subject_hash": key_hash,
                    "completed_request": str(previous_id),
                    "mappings": n,
                    "new_request": filed.get(subject_id),
                }
                for subject_id, key_hash, previous_id, _, _, n in late
            ],
        },
    )
    return FollowUp(added_to_open_requests=added, after_erasure=after_erasure)


@dataclass(frozen=True)
class RemoveResult:
    received: int
    removed: int


def mappings_remove(*, items: Sequence[MappingInput], actor: Actor) -> RemoveResult:
    """Remove mappings in bulk (same limits and validation as `mappings_register`).

    Mappings that do not exist, of unknown subjects or namespaces, remove nothing: the
    namespace API is not asked about names we do not know, since nothing of ours can be
    mapped there. Items already expanded into a request stay in it (the request erases
    what was mapped when it was approved), and so do those a started request has yet to
    expand (expanded first). Nothing is written unless every item is valid.
    """
    _validate(items)
    refs = namespace_refs(items)
    hashes = subject_hashes(i.subject for i in items)
    with transaction.atomic():
        # A started request's claims expand its mappings as they go: what they have not
        # reached yet is expanded now, under the request's lock, so that it stays in the
        # request like the rest.
        started = (
            ErasureRequest.objects.select_for_update(no_key=True, of=("self",))
            .select_related("subject")
            .filter(
                subject__key_hash__in=set(hashes.values()),
                status__in=OPEN_STATUSES,
                started_at__isnull=False,
            )
            .order_by("pk")
        )
        for request in started:
            items_expand(request=request, actor=actor, held=True)
        with connection.cursor() as cursor:
            # DELETE ... USING removes each matching row once, even when the input names
            # it twice.
            cursor.execute(
                """
                DELETE FROM erasure_itemmapping m
                USING unnest(%s::text[], %s::text[], %s::text[], %s::text[])
                          AS v(key_hash, api, namespace, item_id),
                      erasure_subject s, erasure_namespace n
                WHERE s.key_hash = v.key_hash AND n.api = v.api AND n.name = v.namespace
                  AND m.subject_id = s.id AND m.namespace_id = n.id AND m.item_id = v.item_id
                """,
                [
                    [hashes[i.subject] for i in items],
                    [refs[i][0] for i in items],
                    [i.namespace for i in items],
                    [i.item_id for i in items],
                ],
            )
            removed = cursor.rowcount
        audit_record(
            event_type=AuditEventType.MAPPINGS_REMOVED,
            actor=actor,
            details={
                "received": len(items),
                "removed": removed,
                "subjects": len(set(hashes.values())),
            },
        )
    return RemoveResult(received=len(items), removed=removed)


@dataclass(frozen=True)
class ImportResult:
    rows: int
    created: int
    duplicates: int
    """Rows that created nothing: registered before, or repeated in the file."""
    subjects: int
    added_to_open_requests: int
    after_erasure: int


def mappings_import(
    *,
    rows: Iterable[tuple[int, Sequence[str]]],
    actor: Actor,
    batch_size: int = 10_000,
    on_read: Callable[[int], None] | None = None,
    on_written: Callable[[int, int], None] | None = None,
    api: str = "",
) -> ImportResult:
    """Register the mappings of a whole file, in memory independent of its length.

    `rows` yields `(line number, [subject, namespace, item_id])`; the namespaces are those of
    API `api` (default: the default API). Two phases:

    1. Staging: `batch_size` rows at a time are validated, their subject keys hashed (the
       raw keys never reach the database) and sent with COPY into a temporary table. A bad
       row stops the import with its line number (InvalidInput) before anything is written.
       The namespaces the file names are then resolved, the unknown ones from the namespace
       API's list, still outside any transaction of ours (the sync locks the namespace rows,
       which every mapping insert and dispatch of other processes must be able to share).
    2. One transaction: subjects and mappings inserted set-based from the staging table,
       `batch_size` rows per statement, then what `mappings_register` does after its insert
       (running requests take the new items; mappings after an erasure are flagged) and the
       audit events. All or nothing: a failure leaves no mapping of the file behind.

    `on_read(n)` is called after each staged batch, `on_written(n, total)` after each
    inserted one (progress bars).
    """
    if batch_size < 1:
        raise ValueError("batch_size must be positive")
    api_name = api_get(api).name
    with connection.cursor() as cursor:
        cursor.execute(
            "DROP TABLE IF EXISTS pg_temp.erasure_import_rows, pg_temp.erasure_import_created"
        )
        cursor.execute(
            "CREATE TEMPORARY TABLE erasure_import_rows "
            "(seq bigint NOT NULL, key_hash text NOT NULL, namespace text NOT NULL, "
            "item_id text NOT NULL)"
        )
    try:
        total, names = _stage(rows, batch_size=batch_size, on_read=on_read)
        if not total:
            return ImportResult(0, 0, 0, 0, 0, 0)
        by_ref = _resolve_namespaces({(api_name, name) for name in names})
        namespaces = {name: namespace for (_, name), namespace in by_ref.items()}
        with connection.cursor() as cursor:
            # Temporary tables are never analysed by autovacuum; the joins below need the
            # row count, and the batches an index on their range.
            cursor.execute("CREATE INDEX ON pg_temp.erasure_import_rows (seq)")
            cursor.execute("ANALYZE pg_temp.erasure_import_rows")
        names_list = sorted(namespaces)
        ids_list = [namespaces[name].pk for name in names_list]
        created = 0
        with transaction.atomic():
            with connection.cursor() as cursor:
                # Django's foreign keys are deferred to the commit: PostgreSQL would queue
                # two checks per row in server memory for the whole import. Checked per
                # statement instead, that memory is one batch's.
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                # The file's subjects in one statement: each distinct key is looked up in
                # the unique index once, not once per batch it appears in.
                cursor.execute(
                    """
                    INSERT INTO erasure_subject (key_hash, created_at)
                    SELECT DISTINCT r.key_hash, now() FROM pg_temp.erasure_import_rows r
                    ON CONFLICT (key_hash) DO NOTHING
                    """
                )
                for low in range(0, total, batch_size):
                    high = min(low + batch_size, total)
                    # The rows inserted are counted, not returned: which subjects they
                    # belong to matters only for subjects with requests, which the
                    # follow-up asks about afterwards (their rows carry this
                    # transaction's now()).
                    cursor.execute(
                        """
                        INSERT INTO erasure_itemmapping
                            (subject_id, namespace_id, item_id, registered_at, registered_by)
                        SELECT s.id, ns.id, r.item_id, now(), %s
                        FROM pg_temp.erasure_import_rows r
                        JOIN unnest(%s::text[], %s::bigint[]) AS ns(name, id)
                          ON ns.name = r.namespace
                        JOIN erasure_subject s ON s.key_hash = r.key_hash
                        WHERE r.seq >= %s AND r.seq < %s
                        -- In index order: the unique index's pages are then visited
                        -- once each, not at random (about 20%% faster).
                        ORDER BY s.id, ns.id, r.item_id
                        ON CONFLICT (subject_id, namespace_id, item_id) DO NOTHING
                        """,
                        [actor.label, names_list, ids_list, low, high],
                    )
                    created += cursor.rowcount
                    if on_written is not None:
                        on_written(high - low, total)
                cursor.execute("SELECT count(DISTINCT key_hash) FROM pg_temp.erasure_import_rows")
                subjects = cursor.fetchone()[0]
            follow_up = mappings_follow_up(
                touched_sql=(
                    "SELECT s.id FROM erasure_subject s "
                    "WHERE s.key_hash IN (SELECT key_hash FROM pg_temp.erasure_import_rows)"
                ),
                touched_params=[],
                # Mappings this transaction inserted (now() is its start), counted for
                # the touched subjects that have a request only.
                created_sql=(
                    "SELECT m.subject_id, count(*) AS n FROM erasure_itemmapping m "
                    "WHERE m.subject_id IN (SELECT r.subject_id FROM erasure_erasurerequest r "
                    "WHERE r.subject_id IN (SELECT id FROM touched)) "
                    "AND m.registered_at = now() AND m.registered_by = %s "
                    "GROUP BY m.subject_id"
                ),
                created_params=[actor.label],
                namespace_ids=sorted(ids_list),
                actor=actor,
            )
            audit_record(
                event_type=AuditEventType.MAPPINGS_REGISTERED,
                actor=actor,
                details={
                    "import": True,
                    "received": total,
                    "created": created,
                    "subjects": subjects,
                    "added_to_open_requests": follow_up.added_to_open_requests,
                    "after_erasure": follow_up.after_erasure,
                },
            )
    finally:
        _drop_staging()
    return ImportResult(
        rows=total,
        created=created,
        duplicates=total - created,
        subjects=subjects,
        added_to_open_requests=follow_up.added_to_open_requests,
        after_erasure=follow_up.after_erasure,
    )


def _stage(
    rows: Iterable[tuple[int, Sequence[str]]],
    *,
    batch_size: int,
    on_read: Callable[[int], None] | None,
) -> tuple[int, set[str]]:
    """COPY the rows, validated and hashed, into the staging table; returns their number
    and the namespace names they use. Holds one batch in memory at a time."""
    total = 0
    names: set[str] = set()
    batch: list[tuple[int, Sequence[str]]] = []
    # Subjects repeat across a file (a user's items come in many rows): their hashes are
    # kept between batches, up to a bound (a few tens of MB), not computed again per batch.
    known: dict[str, str] = {}

    def flush() -> None:
        nonlocal total
        keys = [fields[0] for _, fields in batch]
        missing = subject_hashes(key for key in keys if key not in known)
        if len(known) + len(missing) > MAX_HASHES_KEPT:
            # Full: keep only what this batch needs.
            kept = {key: known[key] for key in keys if key in known}
            known.clear()
            known.update(kept)
        known.update(missing)
        hashes = known
        # Django's cursor wrapper has no COPY; psycopg's own cursor (`.cursor`) does.
        copy_sql = "COPY pg_temp.erasure_import_rows (seq, key_hash, namespace, item_id) FROM STDIN"
        with connection.cursor() as cursor, cursor.cursor.copy(copy_sql) as copy:
            for _, (subject, namespace, item_id) in batch:
                copy.write_row((total, hashes[subject], namespace, item_id))
                total += 1
        if on_read is not None:
            on_read(len(batch))
        batch.clear()

    for line, fields in rows:
        if len(fields) != 3:
            raise InvalidInput(
                f"line {line}: expected 3 fields (subject, namespace, item_id), got {len(fields)}",
                fields={"line": [line]},
            )
        subject, namespace, item_id = fields
        # The checks of item_problems, inline: a file's rows are nearly all valid, and
        # building a MappingInput for each costs more than the checks themselves.
        if (
            not 0 < len(namespace) <= MAX_NAMESPACE_LENGTH
            or not 0 < len(item_id) <= MAX_ITEM_ID_LENGTH
            or not subject.strip()
        ):
            problems = item_problems(MappingInput(subject, namespace, item_id))
            raise InvalidInput(f"line {line}: {'; '.join(problems)}", fields={"line": [line]})
        names.add(namespace)
        if len(names) > MAX_NAMESPACES_PER_IMPORT:
            raise InvalidInput(
                f"line {line}: more than {MAX_NAMESPACES_PER_IMPORT} distinct namespaces",
                fields={"line": [line]},
            )
        batch.append((line, fields))
        if len(batch) >= batch_size:
            flush()
    if batch:
        flush()
    return total, names


def _drop_staging() -> None:
    raw = connection.connection
    if connection.needs_rollback or (
        raw is not None and raw.info.transaction_status == TransactionStatus.INERROR
    ):
        return  # the caller's transaction is broken: the tables go with its rollback

    with connection.cursor() as cursor:
        cursor.execute(
            "DROP TABLE IF EXISTS pg_temp.erasure_import_rows, pg_temp.erasure_import_created"
        )


def _validate(items: Sequence[MappingInput]) -> None:
    """Raise InvalidInput (with every item's problems) unless the batch may be written."""
    if not items:
        raise InvalidInput("items must not be empty", fields={"items": ["required"]})
    if len(items) > MAX_ITEMS_PER_CALL:
        raise InvalidInput(
            f"at most {MAX_ITEMS_PER_CALL} items per call", fields={"items": ["too many"]}
        )
    errors: dict[str, list[str]] = {}
    for index, item in enumerate(items):
        problems = item_problems(item)
        if problems:
            errors[f"items[{index}]"] = problems
    if errors:
        raise InvalidInput("some items are invalid", fields=errors)


def item_problems(item: MappingInput) -> list[str]:
    """What is wrong with one mapping (empty when nothing is)."""
    problems = []
    if not item.subject.strip():
        problems.append("subject must not be empty")
    if not item.namespace:
        problems.append("namespace must not be empty")
    elif len(item.namespace) > MAX_NAMESPACE_LENGTH:
        problems.append(f"namespace is longer than {MAX_NAMESPACE_LENGTH} characters")
    if not item.item_id:
        problems.append("item_id must not be empty")
    elif len(item.item_id) > MAX_ITEM_ID_LENGTH:
        problems.append(f"item_id is longer than {MAX_ITEM_ID_LENGTH} characters")
    return problems


def _resolve_namespaces(refs: set[NamespaceRef]) -> dict[NamespaceRef, Namespace]:
    known = _known(refs)
    if len(known) < len(refs):
        missing_apis = sorted({api for api, _ in refs - set(known)})
        try:
            namespaces_sync(apis=missing_apis)
        except (NamespaceApiError, ApiKeyMissing) as exc:
            raise UpstreamUnavailable(
                "unknown namespaces, and the namespace API could not be asked for its list "
                f"(try again later): {exc}",
                fields={"namespace": _labels(refs - set(known))},
            ) from exc
        known = _known(refs)
    missing = _labels(refs - set(known))
    if missing:
        raise InvalidInput(
            f"unknown namespaces: {', '.join(missing[:20])}",
            fields={"namespace": [f"unknown namespace {name!r}" for name in missing[:20]]},
        )
    return known


def _known(refs: set[NamespaceRef]) -> dict[NamespaceRef, Namespace]:
    found = Namespace.objects.filter(
        api__in={api for api, _ in refs}, name__in={name for _, name in refs}
    )
    return {(ns.api, ns.name): ns for ns in found if (ns.api, ns.name) in refs}


def _labels(refs: set[NamespaceRef]) -> list[str]:
    """Names for people: a namespace of the default API by its name, else API/name."""
    return sorted(namespace_label(api, name) for api, name in refs)
