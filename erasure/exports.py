"""Exports of the audit trail for auditors: CSV and JSON Lines, streamed row by row.

One row per audit event, in chain order, with stable columns (`COLUMNS`; add new ones at
the end, never rename or reorder). The values are those the event's hash covers
(erasure.services.audit.canonical): `occurred_at` in UTC ISO 8601, `details` as compact
JSON with sorted keys. With `subject_hash` and `prev_hash` next to them, an auditor can
recompute every hash from the export alone and check that the chain is unbroken.

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

from django.db import transaction

from erasure.actors import Actor
from erasure.models import AuditEvent, AuditEventType
from erasure.services.audit import audit_record

COLUMNS = (
    "id",
    "occurred_at",
    "event_type",
    "actor",
    "request_id",
    "subject_hash",
    "details",
    "prev_hash",
    "hash",
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
of no request. `hash` is the SHA-256 of the event's canonical JSON, which includes
`prev_hash`: the rows let an auditor check that the chain is unbroken. `since` is
inclusive, `until` exclusive. Each export is recorded as an `export.created` event first
and covers the events before it (header `X-Export-Event-Id`)."""


def audit_export_begin(
    *,
    actor: Actor,
    export_format: str,
    since: datetime | None = None,
    until: datetime | None = None,
) -> AuditEvent:
    """Record that `actor` exports the trail; the export covers the events before this one."""
    if export_format not in FORMATS:
        raise ValueError(f"unknown export format {export_format!r}")
    with transaction.atomic():
        return audit_record(
            event_type=AuditEventType.EXPORT_CREATED,
            actor=actor,
            details={
                "what": "audit_trail",
                "format": export_format,
                "since": _iso(since) if since else None,
                "until": _iso(until) if until else None,
            },
        )


def audit_export_rows(
    *, since: datetime | None = None, until: datetime | None = None, before_id: int | None = None
) -> Iterator[dict[str, Any]]:
    """The events to export, in chain order, through a server-side cursor."""
    events = AuditEvent.objects.order_by("id")
    if since is not None:
        events = events.filter(occurred_at__gte=since)
    if until is not None:
        events = events.filter(occurred_at__lt=until)
    if before_id is not None:
        events = events.filter(id__lt=before_id)
    for row in events.values(*COLUMNS).iterator(chunk_size=CHUNK_ROWS):
        yield {
            "id": row["id"],
            "occurred_at": _iso(row["occurred_at"]),
            "event_type": row["event_type"],
            "actor": row["actor"],
            "request_id": str(row["request_id"]) if row["request_id"] else None,
            "subject_hash": row["subject_hash"],
            "details": row["details"],
            "prev_hash": row["prev_hash"],
            "hash": row["hash"],
        }


def details_json(details: Any) -> str:
    """The details as the hash saw them (erasure.services.audit.canonical)."""
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
                row["prev_hash"],
                row["hash"],
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
) -> Iterator[str]:
    rows = audit_export_rows(since=since, until=until, before_id=before_id)
    if export_format == "csv":
        return csv_lines(rows)
    if export_format == "jsonl":
        return jsonl_lines(rows)
    raise ValueError(f"unknown export format {export_format!r}")


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()
