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
from datetime import UTC
from typing import Any

from django.db import connection
from django.utils import timezone

from erasure.actors import Actor
from erasure.models import AuditEvent, ErasureRequest

GENESIS_HASH = "0" * 64
# Arbitrary constant naming "the audit chain" among advisory locks.
AUDIT_CHAIN_LOCK = 0x45524153  # "ERAS"


def canonical(event: AuditEvent) -> bytes:
    """The serialisation that is hashed: stable key order, no white space, UTC times."""
    payload = {
        "occurred_at": event.occurred_at.astimezone(UTC).isoformat(),
        "event_type": event.event_type,
        "actor": event.actor,
        "request_id": str(event.request_id) if event.request_id else None,
        "subject_hash": event.subject_hash,
        "details": event.details,
        "prev_hash": event.prev_hash,
    }
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


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
