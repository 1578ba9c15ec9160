"""Writing audit events: appended in the writer's own transaction, without a lock.

An event is inserted with no place in the log yet. The sequencer (erasure.services.audit_log)
gives committed events their leaf index and leaf hash, in order, one sequencer at a time; it
is woken once per committing transaction that wrote events, and also runs every minute. So
writers never wait on one another: the lock that the linear hash chain needed (every append
read the previous hash) is gone, and with it the queue of webhooks, registrations and
dispatches behind it.

Events must still be written inside the transaction of the change they record: the event
exists if and only if the change does.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from erasure import queue
from erasure.actors import Actor
from erasure.models import AuditEvent, ErasureRequest
from erasure.transparency.leaves import LEAF_FIELDS

logger = logging.getLogger("erasure.audit")


@dataclass(frozen=True)
class Entry:
    """One event to append with `audit_record_many`."""

    event_type: str
    actor: Actor
    request: ErasureRequest | None = None
    subject_hash: str = ""
    details: dict[str, Any] | None = None


def audit_record(
    *,
    event_type: str,
    actor: Actor,
    request: ErasureRequest | None = None,
    subject_hash: str = "",
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event. Must run inside the transaction of the change it records."""
    _require_transaction()
    event = _event(Entry(event_type, actor, request, subject_hash, details))
    event.save(force_insert=True)
    _wake_sequencer_after_commit()
    # The event's type, its actor and its request: never its details (counts, hashes).
    logger.info(
        "%s (event %s%s)",
        event_type,
        event.pk,
        f", request {request.pk}" if request is not None else "",
        extra={"event": event_type, "actor": actor.label},
    )
    return event


def audit_record_many(entries: Sequence[Entry]) -> list[AuditEvent]:
    """Append several events in one statement, in this order (their ids, so their log
    order, follow it). Must run inside the transaction of the changes they record."""
    _require_transaction()
    if not entries:
        return []
    events = AuditEvent.objects.bulk_create([_event(entry) for entry in entries])
    _wake_sequencer_after_commit()
    kinds = sorted({entry.event_type for entry in entries})
    logger.info("%d events: %s", len(events), ", ".join(kinds), extra={"event": ",".join(kinds)})
    return events


def _require_transaction() -> None:
    if not connection.in_atomic_block:
        raise RuntimeError("audit events must be recorded inside transaction.atomic()")


def _event(entry: Entry) -> AuditEvent:
    request = entry.request
    return AuditEvent(
        occurred_at=timezone.now(),
        event_type=entry.event_type,
        actor=entry.actor.label,
        request=request,
        subject_hash=entry.subject_hash or (request.subject.key_hash if request else ""),
        # Round-tripped through JSON: the event holds exactly what is stored.
        details=json.loads(json.dumps(entry.details or {}, default=str)),
    )


def _wake_sequencer() -> None:
    queue.enqueue_audit_sequencing()


def _wake_sequencer_after_commit() -> None:
    # Once per transaction, however many events it writes.
    if not any(entry[1] is _wake_sequencer for entry in connection.run_on_commit):
        # robust: the change has committed; a failure to wake is logged, not raised, and
        # the periodic pass sequences the event within a minute.
        transaction.on_commit(_wake_sequencer, robust=True)


def leaf_record(
    *,
    id: int,
    occurred_at: Any,
    event_type: str,
    actor: str,
    request_id: Any,
    subject_hash: str,
    details: Any,
) -> dict[str, Any]:
    """The fields of an event's leaf (erasure.transparency.leaves), as the leaf has them."""
    return {
        "id": id,
        "occurred_at": occurred_at.astimezone(UTC).isoformat(),
        "event_type": event_type,
        "actor": actor,
        "request_id": str(request_id) if request_id else None,
        "subject_hash": subject_hash,
        "details": details,
    }


def event_record(event: AuditEvent) -> dict[str, Any]:
    """An event as exported: its leaf fields, its place in the log and leaf hash (null until
    sequenced), and the retired chain's hashes (null on events written since the log)."""
    record = leaf_record(
        **{name: getattr(event, "pk" if name == "id" else name) for name in LEAF_FIELDS}
    )
    record["leaf_index"] = event.leaf_index
    record["leaf_hash"] = (
        base64.b64encode(bytes(event.leaf_hash)).decode() if event.leaf_hash is not None else None
    )
    record["prev_hash"] = event.prev_hash
    record["hash"] = event.hash
    return record
