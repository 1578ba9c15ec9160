"""Coverage of a namespace: how much of what the namespace API holds the registry maps.

A scan compares counts for every namespace: the API's item count (list namespaces) against
the registry's mapped items. Vector namespaces cannot be listed (namespace-api.md 2.3-2.4),
so for them that comparison is all there is, and the scan says so (`full` false).

A text namespace is also read in full, page by page (documents/fetch-text-data), under the
client's shared throttle. Each page is recorded in one transaction together with the cursor
to the next page, so a scan stopped anywhere (a killed worker, a restart, an API outage)
resumes from its last recorded page; a page read twice is recorded once. Recording a page
is set-based: its ids are inserted into the scan's seen set, and those with no mapping are
inserted as `unmapped` findings, one statement each. Summary chunks (`is_summary`) are the
API's own and are counted apart, never reported as unmapped user data. When the last page
is recorded, the mappings registered before the scan started whose item was not seen
become `stale` findings, and the seen set is emptied. Memory stays flat: one page at a time.

Discovery: a namespace may name the metadata key that identifies an item's subject
(`subject_field`), holding the subject key itself or an alias of a given kind
(`subject_field_kind`). Each page's items that name a subject become mappings (actor
`system:scan`, audit event `mappings.discovered`, counts and subject hashes only), before
the unmapped check, and the late-mapping rules apply to them as to any registration: a
running request takes them at once, a subject already erased gets them erased. An alias
nobody registered names no subject: its item stays unmapped.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Iterator
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max, Q
from django.utils import timezone

from erasure import queue
from erasure.clients import make_client
from erasure.failpoints import failpoint
from erasure.hashing import subject_hashes
from erasure.liveness import session_lock
from erasure.models import (
    AuditEventType,
    ErasureRequest,
    Namespace,
    NamespaceKind,
    NamespaceScan,
    RequestStatus,
    ScanFinding,
    ScanState,
)
from erasure.services.aliases import normalize_alias
from erasure.services.audit import audit_record
from erasure.services.expansion import SCANNER
from erasure.services.mappings import MAX_ITEM_ID_LENGTH, mappings_follow_up
from namespace_api.client import NamespaceApiClient
from namespace_api.client.errors import BadRequest, NamespaceNotFound
from namespace_api.client.types import FETCH_TEXT_PAGE_MAX, TextPage

logger = logging.getLogger("erasure.scans")

# The first key of the scans' advisory locks (the second is the scan's id).
ADVISORY_LOCK_CLASS = 0x5343414E
# A subject field's value longer than this names no subject (keys and aliases are shorter).
MAX_SUBJECT_VALUE_LENGTH = 512


def scan_request(*, namespace: Namespace) -> tuple[NamespaceScan, bool]:
    """Start a scan of the namespace in a worker (or find the one running); returns it and
    whether it is new. The job is deferred once the scan is committed (in a worker,
    Procrastinate defers on a connection of its own: a job deferred inside the
    transaction could start before the scan exists for it)."""
    with transaction.atomic():
        scan, created = _start(namespace)
        transaction.on_commit(lambda: queue.enqueue_scan(scan_id=scan.pk), robust=True)
    return scan, created


def scans_due(*, now: datetime | None = None) -> int:
    """The periodic pass: start a scan of every namespace whose interval has passed since
    its last scan started (its own `scan_interval_hours`, else ERASURE_SCAN_INTERVAL_HOURS;
    0 turns it off), and wake a worker for every running scan (one whose worker died is
    carried on). Returns how many scans it started."""
    now = now or timezone.now()
    started = 0
    last_started = {
        row["namespace_id"]: row["last"]
        for row in NamespaceScan.objects.values("namespace_id").annotate(last=Max("started_at"))
    }
    running = set(
        NamespaceScan.objects.filter(state=ScanState.RUNNING).values_list("pk", flat=True)
    )
    for namespace in Namespace.objects.all():
        hours = namespace.scan_interval_hours
        if hours is None:
            hours = settings.ERASURE_SCAN_INTERVAL_HOURS
        last = last_started.get(namespace.pk)
        if hours > 0 and (last is None or last <= now - timedelta(hours=hours)):
            scan, new = scan_request(namespace=namespace)
            running.discard(scan.pk)
            started += new
    for scan_id in running:
        queue.enqueue_scan(scan_id=scan_id)
    return started


def scan_carry_on(*, scan_id: int) -> None:
    """The worker's part: carry a running scan on from its cursor (nothing if it has
    ended). An API error that retries did not cure leaves it running at its cursor, for
    the next job."""
    scan = NamespaceScan.objects.select_related("namespace").filter(pk=scan_id).first()
    if scan is None or scan.state != ScanState.RUNNING:
        return
    # One worker carries a scan on at a time (a second job finds it taken and leaves); the
    # lock goes with the session if the worker dies.
    with session_lock(ADVISORY_LOCK_CLASS, scan_id, wait=False) as mine:
        if not mine:
            return
        with make_client(scan.namespace.api) as client:
            scan_run(scan, client=client)


def scan_start(*, namespace: Namespace) -> NamespaceScan:
    """The namespace's running scan, or a new one (one runs per namespace at a time)."""
    return _start(namespace)[0]


def _start(namespace: Namespace) -> tuple[NamespaceScan, bool]:
    with transaction.atomic():
        # Starts of one namespace queue here: the second finds the first's scan.
        Namespace.objects.select_for_update().filter(pk=namespace.pk).first()
        running = NamespaceScan.objects.filter(namespace=namespace, state=ScanState.RUNNING).first()
        if running is not None:
            return running, False
        scan = NamespaceScan.objects.create(
            namespace=namespace,
            full=namespace.kind == NamespaceKind.TEXT,
            started_at=timezone.now(),
        )
        return scan, True


def scan_run(
    scan: NamespaceScan, *, client: NamespaceApiClient, page_size: int = FETCH_TEXT_PAGE_MAX
) -> NamespaceScan:
    """Carry a running scan on from its cursor until it completes; returns it as stored.

    An API error that retries did not cure is raised with the scan left running at its
    cursor (the next run resumes it); a cursor the API refuses (400, or the namespace is
    gone) fails the scan, since resuming cannot help.
    """
    namespace = scan.namespace
    try:
        if scan.api_item_count is None and scan.pages == 0:
            # The size first (one call): a request need not wait for a scan of a namespace
            # over ERASURE_REQUEST_SCAN_MAX_ITEMS, even the first one.
            counts = {info.name: info.item_count for info in client.list_namespaces()}
            NamespaceScan.objects.filter(pk=scan.pk).update(
                api_item_count=counts.get(namespace.name)
            )
            scan.api_item_count = counts.get(namespace.name)
            if namespace.subject_field and _over_request_limit(scan.api_item_count):
                _wake_waiting_requests(scan)
        while scan.full and scan.state == ScanState.RUNNING:
            page = client.fetch_text_page(
                namespace=namespace.name, next_token=scan.next_token, limit=page_size
            )
            scan = _record_page(scan, page)
            failpoint("scan.after_page")
            if page.next_token is None:
                break
        if scan.state != ScanState.RUNNING:
            return scan
        counts = {info.name: info.item_count for info in client.list_namespaces()}
    except (BadRequest, NamespaceNotFound) as exc:
        with transaction.atomic():
            failed = NamespaceScan.objects.filter(pk=scan.pk, state=ScanState.RUNNING).update(
                state=ScanState.FAILED, finished_at=timezone.now(), error=str(exc)[:1000]
            )
            if failed:
                audit_record(
                    event_type=AuditEventType.SCAN_FAILED,
                    actor=SCANNER,
                    details={
                        "namespace": namespace.name,
                        "scan": scan.pk,
                        "pages": scan.pages,
                        "error": str(exc)[:1000],
                    },
                )
                _wake_waiting_requests(scan)
        scan.refresh_from_db()
        logger.warning("scan %s of %s failed: %s", scan.pk, namespace.name, exc)
        return scan
    return _complete(scan, api_item_count=counts.get(namespace.name))


def _record_page(scan: NamespaceScan, page: TextPage) -> NamespaceScan:
    """Record one page and move the cursor past it, in one transaction."""
    with transaction.atomic():
        locked = NamespaceScan.objects.select_for_update().get(pk=scan.pk)
        if locked.state != ScanState.RUNNING or locked.next_token != scan.next_token:
            return locked  # another runner recorded this page first
        ids = [item.id for item in page.items]
        summary = [item.is_summary for item in page.items]
        discovered = _discover(locked, page)
        with connection.cursor() as cursor:
            cursor.execute(
                """
                INSERT INTO erasure_scanseenitem (scan_id, item_id, is_summary)
                SELECT %s, v.item_id, v.is_summary
                FROM unnest(%s::text[], %s::boolean[]) AS v(item_id, is_summary)
                ON CONFLICT DO NOTHING
                RETURNING is_summary
                """,
                [scan.pk, ids, summary],
            )
            added = [row[0] for row in cursor.fetchall()]
            cursor.execute(
                """
                INSERT INTO erasure_scanfinding (scan_id, kind, item_id)
                SELECT %s, 'unmapped', v.item_id
                FROM unnest(%s::text[], %s::boolean[]) AS v(item_id, is_summary)
                -- One index probe per item of the page (LIMIT keeps it a nested loop: as
                -- an anti-join, the planner would read every mapping of the namespace).
                LEFT JOIN LATERAL (
                    SELECT 1 AS found FROM erasure_itemmapping AS m
                    WHERE m.namespace_id = %s AND m.item_id = v.item_id
                    LIMIT 1
                ) AS mapped ON true
                WHERE NOT v.is_summary AND mapped.found IS NULL
                ON CONFLICT DO NOTHING
                """,
                [scan.pk, ids, summary, scan.namespace_id],
            )
            unmapped = cursor.rowcount
        locked.pages += 1
        locked.items_seen += sum(1 for is_summary in added if not is_summary)
        locked.summaries += sum(1 for is_summary in added if is_summary)
        locked.unmapped += unmapped
        locked.discovered += discovered
        locked.next_token = page.next_token
        locked.error = ""
        locked.save(
            update_fields=[
                "pages",
                "items_seen",
                "summaries",
                "unmapped",
                "discovered",
                "next_token",
                "error",
            ]
        )
    return locked


def _subject_values(namespace: Namespace, page: TextPage) -> list[tuple[str, str]]:
    """(item id, the subject field's value) of the page's items that name a subject."""
    field = namespace.subject_field
    found = []
    for item in page.items:
        if item.is_summary or len(item.id) > MAX_ITEM_ID_LENGTH:
            continue
        value = item.metadata.get(field) if isinstance(item.metadata, dict) else None
        if isinstance(value, bool) or not isinstance(value, str | int):
            continue
        text = str(value).strip()
        if text and len(text) <= MAX_SUBJECT_VALUE_LENGTH:
            found.append((item.id, text))
    return found


def _discover(scan: NamespaceScan, page: TextPage) -> int:
    """Register a mapping for every item of the page whose metadata names a subject (in
    the page's transaction); returns how many were new."""
    namespace = scan.namespace
    if not namespace.subject_field:
        return 0
    values = _subject_values(namespace, page)
    if not values:
        return 0
    kind = namespace.subject_field_kind
    if kind:
        hashes = subject_hashes(normalize_alias(kind, value) for _, value in values)
        value_hashes = [hashes[normalize_alias(kind, value)] for _, value in values]
        # Only aliases someone registered name a subject.
        subjects_sql = """
            SELECT a.subject_id, v.item_id FROM unnest(%s::text[], %s::text[])
                AS v(key_hash, item_id)
            JOIN erasure_subjectalias a ON a.kind = %s AND a.alias_hash = v.key_hash
        """
        subjects_params: list = [value_hashes, [item_id for item_id, _ in values], kind]
    else:
        hashes = subject_hashes(value for _, value in values)
        value_hashes = [hashes[value] for _, value in values]
        subjects_sql = """
            SELECT s.id AS subject_id, v.item_id FROM unnest(%s::text[], %s::text[])
                AS v(key_hash, item_id)
            JOIN erasure_subject s ON s.key_hash = v.key_hash
        """
        subjects_params = [value_hashes, [item_id for item_id, _ in values]]
    with connection.cursor() as cursor:
        if not kind:
            # A subject key names a subject even if nothing was registered for it yet.
            cursor.execute(
                """
                INSERT INTO erasure_subject (key_hash, created_at)
                SELECT DISTINCT h, now() FROM unnest(%s::text[]) AS h
                ON CONFLICT (key_hash) DO NOTHING
                """,
                [sorted(set(value_hashes))],
            )
        cursor.execute(
            f"""
            WITH found AS ({subjects_sql}),
                 ins AS (
                     INSERT INTO erasure_itemmapping
                         (subject_id, namespace_id, item_id, registered_at, registered_by)
                     SELECT DISTINCT f.subject_id, %s, f.item_id, now(), %s FROM found f
                     ON CONFLICT (subject_id, namespace_id, item_id) DO NOTHING
                     RETURNING subject_id
                 )
            SELECT ins.subject_id, s.key_hash, count(*) FROM ins
            JOIN erasure_subject s ON s.id = ins.subject_id
            GROUP BY ins.subject_id, s.key_hash ORDER BY ins.subject_id
            """,  # noqa: S608 (the fragment is a constant of this function)
            [*subjects_params, namespace.pk, SCANNER.label],
        )
        created = cursor.fetchall()
    if not created:
        return 0
    subject_ids = [subject_id for subject_id, _, _ in created]
    counts = [n for _, _, n in created]
    follow_up = mappings_follow_up(
        touched_sql="SELECT unnest(%s::bigint[]) AS id",
        touched_params=[subject_ids],
        created_sql="SELECT * FROM unnest(%s::bigint[], %s::bigint[]) AS c(subject_id, n)",
        created_params=[subject_ids, counts],
        namespace_ids=[namespace.pk],
        actor=SCANNER,
    )
    total = sum(counts)
    audit_record(
        event_type=AuditEventType.MAPPINGS_DISCOVERED,
        actor=SCANNER,
        subject_hash=created[0][1] if len(created) == 1 else "",
        details={
            "namespace": namespace.name,
            "scan": scan.pk,
            "subject_field": namespace.subject_field,
            "discovered": total,
            "subjects": [key_hash for _, key_hash, _ in created],
            "added_to_open_requests": follow_up.added_to_open_requests,
            "after_erasure": follow_up.after_erasure,
        },
    )
    return total


def coverage(*, namespace: Namespace) -> dict:
    """What the service knows of a namespace's coverage: its latest completed scan and the
    one running, if any."""
    scans = NamespaceScan.objects.filter(namespace=namespace)
    return {
        "api": namespace.api,
        "namespace": namespace.name,
        "kind": namespace.kind,
        "can_be_listed": namespace.kind == NamespaceKind.TEXT,
        "last_scan": scans.filter(state=ScanState.COMPLETED).order_by("-finished_at").first(),
        "running_scan": scans.filter(state=ScanState.RUNNING).first(),
    }


FINDING_COLUMNS = ("namespace", "scan", "kind", "item_id")


def findings_lines(*, scan: NamespaceScan, kind: str, export_format: str) -> Iterator[str]:
    """A scan's findings of `kind` as CSV (a header row) or JSON Lines, streamed from the
    database in id order, in chunks."""
    rows = (
        ScanFinding.objects.filter(scan=scan, kind=kind)
        .order_by("item_id")
        .values_list("item_id", flat=True)
        .iterator(chunk_size=5000)
    )
    name = scan.namespace.name
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    if export_format == "csv":
        writer.writerow(FINDING_COLUMNS)
    for item_id in rows:
        if export_format == "csv":
            writer.writerow((name, scan.pk, kind, item_id))
        else:
            record = {"namespace": name, "scan": scan.pk, "kind": kind, "item_id": item_id}
            buffer.write(json.dumps(record, ensure_ascii=False) + "\n")
        if buffer.tell() >= 65536:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _complete(scan: NamespaceScan, *, api_item_count: int | None) -> NamespaceScan:
    with transaction.atomic():
        locked = NamespaceScan.objects.select_for_update().get(pk=scan.pk)
        if locked.state != ScanState.RUNNING:
            return locked
        with connection.cursor() as cursor:
            if locked.full:
                # Registered before the scan began, and not among the items it read.
                cursor.execute(
                    """
                    INSERT INTO erasure_scanfinding (scan_id, kind, item_id)
                    SELECT DISTINCT %s, 'stale', m.item_id
                    FROM erasure_itemmapping AS m
                    -- One primary-key probe per mapping (LIMIT keeps it a nested loop):
                    -- with the statistics of a seen set just written, the planner may
                    -- otherwise read the whole set once per mapping.
                    LEFT JOIN LATERAL (
                        SELECT 1 AS found FROM erasure_scanseenitem AS s
                        WHERE s.scan_id = %s AND s.item_id = m.item_id AND NOT s.is_summary
                        LIMIT 1
                    ) AS seen ON true
                    WHERE m.namespace_id = %s AND m.registered_at < %s AND seen.found IS NULL
                    ON CONFLICT DO NOTHING
                    """,
                    [locked.pk, locked.pk, locked.namespace_id, locked.started_at],
                )
                locked.stale = cursor.rowcount
                cursor.execute("DELETE FROM erasure_scanseenitem WHERE scan_id = %s", [locked.pk])
            cursor.execute(
                "SELECT count(DISTINCT item_id) FROM erasure_itemmapping WHERE namespace_id = %s",
                [locked.namespace_id],
            )
            locked.mapped_count = cursor.fetchone()[0]
        locked.api_item_count = api_item_count
        locked.state = ScanState.COMPLETED
        locked.finished_at = timezone.now()
        locked.save()
        audit_record(
            event_type=AuditEventType.SCAN_COMPLETED,
            actor=SCANNER,
            details={
                "namespace": locked.namespace.name,
                "scan": locked.pk,
                "full": locked.full,
                "started_at": locked.started_at.isoformat(),
                "pages": locked.pages,
                "items_seen": locked.items_seen,
                "summaries": locked.summaries,
                "unmapped": locked.unmapped,
                "stale": locked.stale,
                "discovered": locked.discovered,
                "api_item_count": locked.api_item_count,
                "mapped_count": locked.mapped_count,
            },
        )
        _wake_waiting_requests(locked)
    logger.info(
        "scan %s of %s completed: %d seen, %d unmapped, %d stale, %d summary chunks",
        locked.pk,
        locked.namespace.name,
        locked.items_seen,
        locked.unmapped,
        locked.stale,
        locked.summaries,
    )
    return locked


def _wake_waiting_requests(scan: NamespaceScan) -> None:
    """After a scan of a namespace with a subject field ends, or is found too large to
    wait for: wake the running requests, which may be waiting for it before they complete
    (`request_scans_missing`). Running requests are few, and a wake-up of one that was not
    waiting only finds nothing to do."""
    if not scan.namespace.subject_field:
        return

    def wake() -> None:
        running = ErasureRequest.objects.filter(status=RequestStatus.RUNNING)
        for request_id in running.values_list("pk", flat=True):
            queue.wake_execution_now(request_id=request_id)

    # After the commit, so that the requests woken see the scan ended.
    transaction.on_commit(wake, robust=True)


# A request waiting for scans looks again this often, should a scan's wake-up be lost.
SCAN_WAIT_RECHECK_SECONDS = 30.0


def request_scans_missing(request: ErasureRequest) -> list[Namespace]:
    """The namespaces whose scan a request must wait for before it completes: text
    namespaces with a subject field and no complete scan started after the request was
    approved (what a scan finds for the subject is then swept into the request).

    A namespace whose last scan counted more than ERASURE_REQUEST_SCAN_MAX_ITEMS items (0:
    no limit) relies on its periodic scans instead; the certificate says how old the last
    one is. A scan that failed after the approval counts as done: the certificate reports it.
    """
    since = request.approved_at or request.started_at
    if since is None:
        return []
    missing = []
    candidates = Namespace.objects.filter(kind=NamespaceKind.TEXT).exclude(subject_field="")
    for namespace in candidates.order_by("pk"):
        scans = NamespaceScan.objects.filter(namespace=namespace)
        # A scan that failed after the approval is not tried again for the request (the
        # certificate says so): the namespace would keep refusing, and the request wait.
        ended = scans.filter(
            started_at__gte=since, state__in=[ScanState.COMPLETED, ScanState.FAILED]
        )
        if ended.exists():
            continue
        # The size its last scan counted, or the running one (which asks it first).
        known = (
            scans.exclude(state=ScanState.FAILED)
            .filter(Q(state=ScanState.RUNNING) | Q(finished_at__isnull=False))
            .order_by("-started_at")
            .values_list("api_item_count", "items_seen")
            .first()
        )
        if known is not None and _over_request_limit(known[0] or known[1]):
            continue
        missing.append(namespace)
    return missing


def _over_request_limit(items: int | None) -> bool:
    limit = settings.ERASURE_REQUEST_SCAN_MAX_ITEMS
    return bool(limit and items is not None and items > limit)


def request_scans_wait(request: ErasureRequest, namespaces: list[Namespace]) -> list[int]:
    """Make sure a scan that can serve the request runs in each namespace (one scan serves
    every request waiting), and that the request is woken should a wake-up be lost;
    returns the scans' ids. In the caller's transaction."""
    scan_ids = []
    for namespace in namespaces:
        scan, _ = _start(namespace)
        scan_ids.append(scan.pk)
    # After the commit: in a worker, Procrastinate defers on a connection of its own, and
    # a job started before this transaction commits would not see the scan.
    transaction.on_commit(lambda: _wake_scans(scan_ids, request.pk), robust=True)
    return scan_ids


def _wake_scans(scan_ids: list[int], request_id: object) -> None:
    for scan_id in scan_ids:
        queue.enqueue_scan(scan_id=scan_id)
    queue.enqueue_execution(request_id=str(request_id), delay_seconds=SCAN_WAIT_RECHECK_SECONDS)


def request_scans_used(request: ErasureRequest) -> list[dict]:
    """For the completion event: per namespace with a subject field, the last complete
    scan and what scans found for the subject (the request's items whose mapping a scan
    discovered)."""
    rows = []
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT n.name, s.id, s.started_at, s.finished_at,
                   (SELECT count(*) FROM erasure_erasureitem i
                    WHERE i.request_id = %s AND i.namespace_id = n.id AND i.discovered)
            FROM erasure_namespace n
            LEFT JOIN LATERAL (
                SELECT id, started_at, finished_at FROM erasure_namespacescan
                WHERE namespace_id = n.id AND state = 'completed'
                ORDER BY finished_at DESC LIMIT 1
            ) s ON true
            WHERE n.subject_field <> ''
            ORDER BY n.name
            """,
            [request.pk],
        )
        for name, scan_id, started, finished, discovered in cursor.fetchall():
            rows.append(
                {
                    "namespace": name,
                    "scan": scan_id,
                    "scan_started_at": started.isoformat() if started else None,
                    "scan_finished_at": finished.isoformat() if finished else None,
                    "discovered_for_subject": discovered,
                }
            )
    return rows
