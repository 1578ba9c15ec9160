"""Evidence bundles: a set of audit events that anyone can check offline.

A bundle (format `erasure-evidence/1`, JSON) holds:
- `log`: the log's origin and a signed checkpoint (C2SP signed note) of size `tree_size`;
- `public_keys`: the key that signed it (signed-note verifier key format);
- `events`: each event's fields, its leaf bytes (`leaf_input`, base64), its `leaf_index`
  and its `inclusion_proof` in the checkpoint's tree (RFC 9162, base64 hashes);
- for a request, `request_id` and, once it has completed, `certificate`: the counts per
  namespace and outcome and the failed items with their reasons, as the certificate
  states them.

`verify_audit --bundle FILE --public-key KEY` checks it with no database and no network
(erasure.transparency.verify.verify_bundle). Any subset of the log bundles the same way:
one request's events, a date range, one event.
"""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime
from typing import Any

from django.db import transaction
from django.db.models import QuerySet

from erasure.actors import Actor
from erasure.apis import namespace_label
from erasure.errors import EvidenceUnavailable, InvalidInput
from erasure.lifecycle import COMPLETED_STATUSES
from erasure.models import (
    AuditCheckpoint,
    AuditEvent,
    AuditEventType,
    ErasureItem,
    ErasureRequest,
    ItemOutcome,
)
from erasure.selectors.requests import request_counts_by_namespace
from erasure.services import audit_log
from erasure.services.audit import audit_record, event_record
from erasure.transparency.leaves import LEAF_FIELDS, canonical_bytes
from erasure.transparency.notes import Verifier
from erasure.transparency.verify import BUNDLE_FORMAT

# Events in one bundle at most: a larger set is the export's job (`verify_audit --file`).
MAX_BUNDLE_EVENTS = 10_000
# How long a bundle waits for its events to be sequenced (another process may be at it).
SEQUENCING_WAIT_SECONDS = 5.0


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode()


def _wait_until_sequenced(events: QuerySet[AuditEvent]) -> None:
    deadline = time.monotonic() + SEQUENCING_WAIT_SECONDS
    while True:
        audit_log.sequence_pending()
        if not events.filter(leaf_index__isnull=True).exists():
            return
        if time.monotonic() > deadline:
            raise EvidenceUnavailable(
                "some of these audit events are not in the log yet; try again in a few seconds"
            )
        time.sleep(0.05)


def _checkpoint_covering(events: QuerySet[AuditEvent]) -> AuditCheckpoint:
    indexes = [i for i in events.values_list("leaf_index", flat=True) if i is not None]
    needed = max(indexes, default=-1) + 1
    checkpoint = audit_log.latest_checkpoint()
    if checkpoint is None or checkpoint.tree_size < needed:
        if audit_log.signer() is None:
            raise EvidenceUnavailable(
                "no checkpoint can be signed: the service has no audit signing key "
                "(AUDIT_SIGNING_KEY_FILE)"
            )
        checkpoint = audit_log.checkpoint_now()
    if checkpoint is None or checkpoint.tree_size < needed:
        raise EvidenceUnavailable("the log's checkpoint is being issued; try again in a moment")
    return checkpoint


def evidence_bundle(
    events: QuerySet[AuditEvent], *, request: ErasureRequest | None = None
) -> dict[str, Any]:
    """The bundle of `events` (and of `request`'s certificate, when it has one)."""
    events = events.order_by("leaf_index", "id")
    if events.count() > MAX_BUNDLE_EVENTS:
        raise InvalidInput(
            f"a bundle holds at most {MAX_BUNDLE_EVENTS} events; narrow the selection, or "
            "verify an export of the whole log (verify_audit --file)"
        )
    _wait_until_sequenced(events)
    checkpoint = _checkpoint_covering(events)
    selected = list(events)
    proofs = audit_log.inclusion_proofs([e.pk for e in selected], checkpoint.tree_size)
    verifier = Verifier.decode(checkpoint.key.verifier_key)
    entries = []
    for event in selected:
        record = event_record(event)
        leaf = {name: record[name] for name in LEAF_FIELDS}
        proof = proofs[event.pk]
        entries.append(
            {
                "leaf_index": proof.leaf_index,
                "leaf_input": _b64(canonical_bytes(leaf)),
                "inclusion_proof": [_b64(node) for node in proof.path],
                "event": leaf,
            }
        )
    bundle: dict[str, Any] = {
        "format": BUNDLE_FORMAT,
        "created_at": datetime.now(UTC).isoformat(),
        "log": {
            "origin": audit_log.log_origin(),
            "tree_size": checkpoint.tree_size,
            "root_hash": _b64(bytes(checkpoint.root_hash)),
            "checkpoint": checkpoint.note,
        },
        "public_keys": [verifier.encode()],
        "events": entries,
        "how_to_verify": "python manage.py verify_audit --bundle THIS_FILE --public-key "
        "KEY (the key from GET /api/v1/audit/public-keys, or one you kept)",
    }
    if request is not None:
        bundle["request_id"] = str(request.pk)
        if request.status in COMPLETED_STATUSES:
            bundle["certificate"] = certificate_facts(request)
    return bundle


def request_evidence(request: ErasureRequest, *, actor: Actor | None = None) -> dict[str, Any]:
    """The request's bundle; with `actor`, its download is recorded (`evidence.downloaded`,
    after the bundle's events: the next bundle holds it)."""
    bundle = evidence_bundle(AuditEvent.objects.filter(request=request), request=request)
    if actor is not None:
        with transaction.atomic():
            audit_record(
                event_type=AuditEventType.EVIDENCE_DOWNLOADED,
                actor=actor,
                request=request,
                details={"tree_size": bundle["log"]["tree_size"], "events": len(bundle["events"])},
            )
    return bundle


def certificate_facts(request: ErasureRequest) -> dict[str, Any]:
    """What the certificate states, as data: the counts and every failed item."""
    namespaces = [
        {
            "name": ns["name"],
            "api": ns["api"],
            "kind": ns["kind"],
            "counts": {k: v for k, v in ns["counts"].items() if k != ItemOutcome.PENDING},
            "total": ns["total"],
        }
        for ns in request_counts_by_namespace(request=request)
    ]
    totals: dict[str, int] = {}
    for ns in namespaces:
        for outcome, count in ns["counts"].items():
            totals[outcome] = totals.get(outcome, 0) + count
    failed = [
        {
            "namespace": namespace_label(api, name),
            "item_id": item_id,
            "reason": reason,
        }
        for api, name, item_id, reason in ErasureItem.objects.filter(
            request=request, outcome=ItemOutcome.FAILED
        )
        .order_by("namespace__name", "namespace__api", "item_id")
        .values_list("namespace__api", "namespace__name", "item_id", "last_error")
    ]
    return {
        "request_id": str(request.pk),
        "status": request.status,
        "regulation": request.regulation,
        "subject_hash": request.subject.key_hash,
        "received_at": request.received_at.astimezone(UTC).isoformat(),
        "completed_at": request.completed_at.astimezone(UTC).isoformat()
        if request.completed_at
        else None,
        "totals": totals,
        "namespaces": namespaces,
        "failed": failed,
    }
