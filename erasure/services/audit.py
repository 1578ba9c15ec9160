"""Appending to the hash-chained audit trail.

Each event stores the hash of the previous one, so that altering or removing any event
breaks every hash after it. Appends are serialised with a transaction-scoped advisory lock:
two concurrent writers would otherwise both read the same "previous" hash and fork the chain.
The lock is held until the caller's transaction commits, which is why events must be written
inside the transaction of the change they record, and after every row lock that
transaction takes: the lock order is "rows, then the chain", everywhere. Requests are
locked FOR NO KEY UPDATE (`select_for_update(no_key=True)`), which does not block the
KEY SHARE locks that inserting an event or a dispatch takes on the request it references;
a plain FOR UPDATE there deadlocks against a writer that holds the chain.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from django.db import connection
from django.utils import timezone

from erasure.actors import Actor
from erasure.models import AuditEvent, ErasureRequest

GENESIS_HASH = "0" * 64
# Arbitrary constant naming "the audit chain" among advisory locks.
AUDIT_CHAIN_LOCK = 0x45524153  # "ERAS"


# The fields an event's hash covers, as they appear in an export (`event_record`).
HASHED_FIELDS = (
    "occurred_at",
    "event_type",
    "actor",
    "request_id",
    "subject_hash",
    "details",
    "prev_hash",
)


def event_record(event: AuditEvent) -> dict[str, Any]:
    """An event as exported: its id, every hashed field exactly as hashed, and its hash.
    `verify_audit --file` recomputes each hash from these, without the database."""
    return {
        "id": event.pk,
        "occurred_at": event.occurred_at.astimezone(UTC).isoformat(),
        "event_type": event.event_type,
        "actor": event.actor,
        "request_id": str(event.request_id) if event.request_id else None,
        "subject_hash": event.subject_hash,
        "details": event.details,
        "prev_hash": event.prev_hash,
        "hash": event.hash,
    }


def canonical_bytes(record: dict[str, Any]) -> bytes:
    """The serialisation that is hashed: the hashed fields only, stable key order, no
    white space, UTC times."""
    payload = {name: record[name] for name in HASHED_FIELDS}
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def canonical(event: AuditEvent) -> bytes:
    return canonical_bytes(event_record(event))


def audit_record(
    *,
    event_type: str,
    actor: Actor,
    request: ErasureRequest | None = None,
    subject_hash: str = "",
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event. Must run inside the transaction of the change it records."""
    if not connection.in_atomic_block:
        raise RuntimeError("audit_record must be called inside transaction.atomic()")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [AUDIT_CHAIN_LOCK])
    last = AuditEvent.objects.order_by("-id").values_list("hash", flat=True).first()
    event = AuditEvent(
        occurred_at=timezone.now(),
        event_type=event_type,
        actor=actor.label,
        request=request,
        subject_hash=subject_hash or (request.subject.key_hash if request else ""),
        details=details or {},
        prev_hash=last or GENESIS_HASH,
    )
    # Round-trip the details through JSON so the hash covers exactly what is stored.
    event.details = json.loads(json.dumps(event.details, default=str))
    event.hash = hashlib.sha256(canonical(event)).hexdigest()
    event.save(force_insert=True)
    return event


def audit_chain_head() -> str:
    return AuditEvent.objects.order_by("-id").values_list("hash", flat=True).first() or GENESIS_HASH


@dataclass(frozen=True)
class ChainVerification:
    ok: bool
    checked: int
    first_id: int | None
    last_id: int | None
    anchor: str
    """The prev_hash the first checked event had to carry (the genesis hash, or the hash
    of the event before the range)."""
    head: str
    """The hash of the last event checked: tie it to a certificate's chain head."""
    broken_id: int | None = None
    reason: str = ""


def verify_records(records: Iterable[dict[str, Any]], *, anchor: str | None) -> ChainVerification:
    """Check a sequence of exported events (`event_record` dicts, in id order): each hash
    matches its content, and each prev_hash is the hash before it. With `anchor` None, the
    first event's own prev_hash is taken as the anchor (a range verified offline)."""
    expected = anchor
    checked = 0
    first_id = last_id = None
    head = anchor or ""
    for record in records:
        event_id = record.get("id")
        if first_id is None:
            first_id = event_id
            if expected is None:
                expected = str(record.get("prev_hash", ""))
                anchor = expected
        missing = [name for name in (*HASHED_FIELDS, "hash") if name not in record]
        if missing:
            reason = f"event is missing {', '.join(missing)}"
            return _broken(checked, first_id, last_id, anchor, head, event_id, reason)
        if record["prev_hash"] != expected:
            reason = (
                "prev_hash is not the hash of the event before it: an event was removed, "
                "inserted or reordered"
            )
            return _broken(checked, first_id, last_id, anchor, head, event_id, reason)
        if hashlib.sha256(canonical_bytes(record)).hexdigest() != record["hash"]:
            reason = "hash does not match the event's content: the event was altered"
            return _broken(checked, first_id, last_id, anchor, head, event_id, reason)
        expected = head = record["hash"]
        last_id = event_id
        checked += 1
    return ChainVerification(
        ok=True,
        checked=checked,
        first_id=first_id,
        last_id=last_id,
        anchor=anchor or GENESIS_HASH,
        head=head or anchor or GENESIS_HASH,
    )


def _broken(checked, first_id, last_id, anchor, head, broken_id, reason) -> ChainVerification:
    return ChainVerification(
        ok=False,
        checked=checked,
        first_id=first_id,
        last_id=last_id,
        anchor=anchor or GENESIS_HASH,
        head=head,
        broken_id=broken_id,
        reason=reason,
    )


def audit_verify(*, first_id: int | None = None, last_id: int | None = None) -> ChainVerification:
    """Verify the stored chain, whole or the range [first_id, last_id], streaming it from
    the database in constant memory. The first event of a range must follow the event
    before it (or the genesis hash)."""
    events = AuditEvent.objects.order_by("id")
    anchor = GENESIS_HASH
    if first_id is not None:
        events = events.filter(id__gte=first_id)
        before = (
            AuditEvent.objects.filter(id__lt=first_id)
            .order_by("-id")
            .values_list("hash", flat=True)
            .first()
        )
        anchor = before or GENESIS_HASH
    if last_id is not None:
        events = events.filter(id__lte=last_id)
    return verify_records(
        (event_record(event) for event in events.iterator(chunk_size=2000)), anchor=anchor
    )
