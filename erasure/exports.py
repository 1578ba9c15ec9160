"""Exports of the audit trail for auditors: CSV and JSON Lines, streamed row by row.

One row per audit event, in log order, with stable columns (`COLUMNS`; add new ones at
the end, never rename or reorder). The values are those of the event's leaf
(erasure.transparency.leaves): `occurred_at` in UTC ISO 8601, `details` as compact JSON
with sorted keys. With `leaf_index` and `leaf_hash` next to them, an auditor recomputes
every leaf hash and the tree's root from the export alone, and holds them to a signed
checkpoint (`verify_audit --file --checkpoint`).

Every export is itself an audit event (`export.created`), recorded before the first row
is sent; the export covers the events before it, so two exports of the same period agree.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from django.db import connection, transaction
from django.db.models import F
from django.http import StreamingHttpResponse
from django.utils import timezone

from erasure.actors import Actor
from erasure.apis import namespace_label_sql
from erasure.lifecycle import ItemOutcome
from erasure.models import AuditEvent, AuditEventType
from erasure.services import audit_log
from erasure.services.audit import audit_record, event_record
from erasure.transparency.leaves import LEAF_FIELDS

# What can be exported: the audit events, the items with their outcomes, the requests.
WHAT = ("events", "items", "requests")
# An event as exported (`event_record`): its leaf fields, the retired chain's hashes
# (`prev_hash`, `hash`: set on events written before the log only), its place in the log.
COLUMNS = (*LEAF_FIELDS, "prev_hash", "hash", "leaf_index", "leaf_hash")
ITEM_COLUMNS = (
    "request_id",
    "namespace",
    "namespace_kind",
    "item_id",
    "outcome",
    "attempts",
    "last_http_status",
    "last_error",
    "decided_at",
    "dispatch_id",
)
REQUEST_COLUMNS = (
    "id",
    "status",
    "source",
    "regulation",
    "subject_hash",
    "received_at",
    "due_at",
    "approved_at",
    "started_at",
    "completed_at",
    "filed_by",
    "approved_by",
    "auto_approved",
    "items",
    "deleted",
    "not_found",
    "deleted_or_not_found",
    "failed",
    "pending",
    "reason",
)
# Export format → media type (without parameters: the OpenAPI schema names these).
FORMATS = {"csv": "text/csv", "jsonl": "application/jsonl"}
CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "jsonl": "application/jsonl; charset=utf-8"}
# Rows fetched per round trip of the server-side cursor.
CHUNK_ROWS = 2000
# Bytes gathered before a chunk of the body is handed to the server.
FLUSH_CHARS = 64 * 1024

EXPORT_DESCRIPTION = f"""Streams one row per audit event, oldest first, as CSV (with a
header row) or JSON Lines. Columns, stable: {", ".join(f"`{c}`" for c in COLUMNS)}.
`occurred_at` is UTC ISO 8601; `details` is compact JSON with sorted keys (a string in
CSV, an object in JSON Lines); `request_id` is empty (CSV) or null (JSON Lines) for events
of no request. `leaf_index` is the event's place in the audit log and `leaf_hash` (base64)
SHA-256 of 0x00 and its canonical bytes (README, "The audit log"): from a whole export an
auditor recomputes the tree and holds it to a signed checkpoint. `prev_hash` and `hash`
belong to the retired hash chain and are empty on events written since. `since` is
inclusive, `until` exclusive. Each export is recorded as an `export.created` event first
and covers the events before it (header `X-Export-Event-Id`).

`what=items` exports the items with their outcomes instead, one row per item, columns
{", ".join(f"`{c}`" for c in ITEM_COLUMNS)} (`since`/`until` on `decided_at`);
`what=requests` the requests with their counts, columns
{", ".join(f"`{c}`" for c in REQUEST_COLUMNS)} (`since`/`until` on `received_at`).
`request=<id>` limits any export to one request. Items and requests are streamed by
PostgreSQL's COPY, in constant memory whatever their number."""


def audit_export_begin(
    *,
    actor: Actor,
    export_format: str,
    since: datetime | None = None,
    until: datetime | None = None,
    what: str = "events",
    request_id: str | None = None,
) -> AuditEvent:
    """Record that `actor` exports `what` (events, items, requests); an export of events
    covers the events before this one."""
    if export_format not in FORMATS:
        raise ValueError(f"unknown export format {export_format!r}")
    if what not in WHAT:
        raise ValueError(f"unknown export {what!r}")
    with transaction.atomic():
        return audit_record(
            event_type=AuditEventType.EXPORT_CREATED,
            actor=actor,
            details={
                "what": "audit_trail" if what == "events" else what,
                "format": export_format,
                "since": _iso(since) if since else None,
                "until": _iso(until) if until else None,
                "request": request_id,
            },
        )


def export_stream(
    *,
    what: str,
    export_format: str,
    since: datetime | None = None,
    until: datetime | None = None,
    request_id: str | None = None,
    before_id: int | None = None,
) -> Iterator[str] | Iterator[bytes]:
    """The body of an export, for the API and the admin alike (one code path)."""
    if what == "events":
        return audit_export_lines(
            export_format=export_format,
            since=since,
            until=until,
            before_id=before_id,
            request_id=request_id,
        )
    return table_export_chunks(
        what=what, export_format=export_format, request_id=request_id, since=since, until=until
    )


def audit_export_rows(
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    before_id: int | None = None,
    request_id: str | None = None,
) -> Iterator[dict[str, Any]]:
    """The events to export, in log order (events not yet sequenced last, by id), through
    a server-side cursor."""
    events = AuditEvent.objects.order_by(F("leaf_index").asc(nulls_last=True), "id")
    if request_id is not None:
        events = events.filter(request__pk=request_id)
    if since is not None:
        events = events.filter(occurred_at__gte=since)
    if until is not None:
        events = events.filter(occurred_at__lt=until)
    if before_id is not None:
        events = events.filter(id__lt=before_id)
    for event in events.iterator(chunk_size=CHUNK_ROWS):
        yield event_record(event)


def details_json(details: Any) -> str:
    """The details as the leaf has them (erasure.transparency.leaves.canonical_bytes)."""
    return json.dumps(details, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def csv_lines(rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    """A header row, then one CSV record (RFC 4180, CRLF) per row."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow(
            [
                row["id"],
                row["occurred_at"],
                row["event_type"],
                row["actor"],
                row["request_id"] or "",
                row["subject_hash"],
                details_json(row["details"]),
                row["prev_hash"] or "",
                row["hash"] or "",
                "" if row["leaf_index"] is None else row["leaf_index"],
                row["leaf_hash"] or "",
            ]
        )
        if buffer.tell() >= FLUSH_CHARS:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def jsonl_lines(rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    """One JSON object per line, keys in `COLUMNS` order."""
    chunk: list[str] = []
    size = 0
    for row in rows:
        line = json.dumps({c: row[c] for c in COLUMNS}, ensure_ascii=False) + "\n"
        chunk.append(line)
        size += len(line)
        if size >= FLUSH_CHARS:
            yield "".join(chunk)
            chunk, size = [], 0
    if chunk:
        yield "".join(chunk)


def audit_export_lines(
    *,
    export_format: str,
    since: datetime | None = None,
    until: datetime | None = None,
    before_id: int | None = None,
    request_id: str | None = None,
) -> Iterator[str]:
    rows = audit_export_rows(since=since, until=until, before_id=before_id, request_id=request_id)
    if export_format == "csv":
        return csv_lines(rows)
    if export_format == "jsonl":
        return jsonl_lines(rows)
    raise ValueError(f"unknown export format {export_format!r}")


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


# --- Items and requests -------------------------------------------------------------------
# Streamed by PostgreSQL itself (COPY ... TO STDOUT), so a million rows cost the server a
# sort at most and this process a 64 KiB buffer. Timestamps are UTC ISO 8601.

FLUSH_BYTES = 64 * 1024

_ITEMS_SELECT = """
    SELECT i.request_id::text AS request_id,
           -- A namespace of an API other than the default one is API/name.
           NAMESPACE_LABEL AS namespace,
           n.kind AS namespace_kind,
           i.item_id, i.outcome, i.attempts, i.last_http_status, i.last_error,
           to_json(i.decided_at) #>> '{}' AS decided_at, i.decided_by_id AS dispatch_id
    FROM erasure_erasureitem i
    JOIN erasure_namespace n ON n.id = i.namespace_id
    WHERE (%(request)s::uuid IS NULL OR i.request_id = %(request)s::uuid)
      AND (%(since)s::timestamptz IS NULL OR i.decided_at >= %(since)s::timestamptz)
      AND (%(until)s::timestamptz IS NULL OR i.decided_at < %(until)s::timestamptz)
    ORDER BY i.request_id, i.namespace_id, i.item_id
"""

_REQUESTS_SELECT = """
    SELECT r.id::text AS id, r.status, r.source, r.regulation, s.key_hash AS subject_hash,
           to_json(r.received_at) #>> '{}' AS received_at,
           to_json(r.due_at) #>> '{}' AS due_at,
           to_json(r.approved_at) #>> '{}' AS approved_at,
           to_json(r.started_at) #>> '{}' AS started_at,
           to_json(r.completed_at) #>> '{}' AS completed_at,
           coalesce('user:' || fu.username, 'api_key:' || fk.name, r.source) AS filed_by,
           coalesce('user:' || au.username, 'api_key:' || ak.name,
                    CASE WHEN r.auto_approved THEN 'auto' END) AS approved_by,
           r.auto_approved,
           coalesce(c.items, 0) AS items, coalesce(c.deleted, 0) AS deleted,
           coalesce(c.not_found, 0) AS not_found,
           coalesce(c.deleted_or_not_found, 0) AS deleted_or_not_found,
           coalesce(c.failed, 0) AS failed, coalesce(c.pending, 0) AS pending,
           r.reason
    FROM erasure_erasurerequest r
    JOIN erasure_subject s ON s.id = r.subject_id
    LEFT JOIN auth_user fu ON fu.id = r.filed_by_id
    LEFT JOIN erasure_apikey fk ON fk.id = r.filed_by_api_key_id
    LEFT JOIN auth_user au ON au.id = r.approved_by_id
    LEFT JOIN erasure_apikey ak ON ak.id = r.approved_by_api_key_id
    LEFT JOIN LATERAL (
        SELECT count(*) AS items,
               count(*) FILTER (WHERE outcome = %(deleted)s) AS deleted,
               count(*) FILTER (WHERE outcome = %(not_found)s) AS not_found,
               count(*) FILTER (WHERE outcome = %(deleted_or_not_found)s) AS deleted_or_not_found,
               count(*) FILTER (WHERE outcome = %(failed)s) AS failed,
               count(*) FILTER (WHERE outcome = %(pending)s) AS pending
        FROM erasure_erasureitem i WHERE i.request_id = r.id
    ) c ON true
    WHERE (%(request)s::uuid IS NULL OR r.id = %(request)s::uuid)
      AND (%(since)s::timestamptz IS NULL OR r.received_at >= %(since)s::timestamptz)
      AND (%(until)s::timestamptz IS NULL OR r.received_at < %(until)s::timestamptz)
    ORDER BY r.received_at, r.id
"""

_SELECTS = {"items": (_ITEMS_SELECT, ITEM_COLUMNS), "requests": (_REQUESTS_SELECT, REQUEST_COLUMNS)}


def _copy_statement(what: str, export_format: str) -> str:
    select, columns = _SELECTS[what]
    select = select.replace("NAMESPACE_LABEL", namespace_label_sql("n"))
    if export_format == "csv":
        return f"COPY ({select}) TO STDOUT (FORMAT csv, HEADER true)"  # noqa: S608 - constants
    if export_format == "jsonl":
        # One JSON object per row, keys in column order. CSV format with a quote and a
        # delimiter that JSON text never contains (control characters are escaped in it)
        # sends each object as it is, one per line.
        pairs = ", ".join(f"'{c}', r.{c}" for c in columns)
        return (
            f"COPY (SELECT json_build_object({pairs})::text FROM ({select}) r) "  # noqa: S608
            "TO STDOUT (FORMAT csv, QUOTE E'\\x01', DELIMITER E'\\x02')"
        )
    raise ValueError(f"unknown export format {export_format!r}")


def table_export_chunks(
    *,
    what: str,
    export_format: str,
    request_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Iterator[bytes]:
    """Items (`what="items"`) or requests (`"requests"`) as CSV or JSON Lines, in chunks of
    about 64 KiB, in constant memory. Items are filtered by request and by when their
    outcome was decided; requests by id and by when they were received."""
    statement = _copy_statement(what, export_format)
    params: dict[str, object] = {"request": request_id, "since": since, "until": until}
    params.update({outcome.value: outcome.value for outcome in ItemOutcome})
    buffer = bytearray()
    with connection.cursor() as cursor, cursor.cursor.copy(statement, params) as copy:
        for block in copy:
            buffer += block
            if len(buffer) >= FLUSH_BYTES:
                yield bytes(buffer)
                buffer.clear()
    if buffer:
        yield bytes(buffer)


def export_filename(what: str, export_format: str) -> str:
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    return f"{'audit' if what == 'events' else what}-{stamp}.{export_format}"


def export_response(
    *,
    actor: Actor,
    what: str,
    export_format: str,
    since: datetime | None = None,
    until: datetime | None = None,
    request_id: str | None = None,
) -> StreamingHttpResponse:
    """An export as a streamed HTTP response, recorded first as an `export.created` event:
    the one code path of the API's and the admin's exports."""
    event = audit_export_begin(
        actor=actor,
        export_format=export_format,
        since=since,
        until=until,
        what=what,
        request_id=request_id,
    )
    if what == "events":
        # The rows carry their place in the log: sequence what has committed.
        audit_log.sequence_pending()
    response = StreamingHttpResponse(
        export_stream(
            what=what,
            export_format=export_format,
            since=since,
            until=until,
            request_id=request_id,
            before_id=event.pk,
        ),
        content_type=CONTENT_TYPES[export_format],
    )
    response["Content-Disposition"] = (
        f'attachment; filename="{export_filename(what, export_format)}"'
    )
    response["X-Export-Event-Id"] = str(event.pk)
    return response
