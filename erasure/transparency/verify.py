"""Checking the audit log without trusting the database: the leaves, recomputed, against
signed checkpoints; and per-request evidence bundles, offline.

Used by `verify_audit` against the database and on files, with no database and no network.
No Django here (the import contract): an auditor's check rests on this module, the Merkle
tree and the signed-note format alone.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from erasure.transparency import merkle
from erasure.transparency.leaves import LeafError, canonical_bytes, event_leaf_hash
from erasure.transparency.notes import Checkpoint, NoteError, Verifier, open_checkpoint, open_note


@dataclass
class LogVerification:
    ok: bool
    tree_size: int = 0
    root_hash: bytes = merkle.EMPTY_ROOT
    checkpoints_checked: int = 0
    pending: int = 0
    first_bad_leaf: int | None = None
    """The first leaf that is not as the log promised (with `last_bad_leaf`: somewhere in
    first..last, when the checkpoints do not narrow it further)."""
    last_bad_leaf: int | None = None
    event_id: int | None = None
    reason: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def root_hash_b64(self) -> str:
        return base64.b64encode(self.root_hash).decode()


@dataclass(frozen=True)
class TrustedCheckpoint:
    """A checkpoint to hold the log to: its size, root and where it came from."""

    size: int
    root_hash: bytes
    source: str


def parse_checkpoints(
    notes: Iterable[tuple[str, str]], verifiers: list[Verifier], *, origin: str | None
) -> tuple[list[TrustedCheckpoint], list[str]]:
    """The checkpoints among `(source, note)` whose signature verifies; the problems of the
    others, by source."""
    trusted: list[TrustedCheckpoint] = []
    problems: list[str] = []
    for source, note in notes:
        try:
            if origin is None:
                text, _ = open_note(note, verifiers)
                parsed = Checkpoint.parse(text)
            else:
                parsed = open_checkpoint(note, verifiers, origin=origin)
        except NoteError as exc:
            problems.append(f"{source}: {exc}")
            continue
        trusted.append(
            TrustedCheckpoint(size=parsed.size, root_hash=parsed.root_hash, source=source)
        )
    return trusted, problems


def verify_leaves(
    leaves: Iterable[tuple[int, int | None, bytes | None, dict]],
    checkpoints: list[TrustedCheckpoint],
    result: LogVerification,
) -> LogVerification:
    """The check itself, shared by the database and an offline export: `leaves` in log
    order as (leaf index, event id, stored leaf hash or None, leaf record)."""
    frontier = merkle.Frontier()
    pending = sorted(checkpoints, key=lambda c: c.size)
    good_size = 0  # the largest checkpoint size the leaves so far agree with
    position = 0

    def check_reached() -> LogVerification | None:
        nonlocal good_size, position
        while position < len(pending) and pending[position].size == frontier.size:
            checkpoint = pending[position]
            position += 1
            result.checkpoints_checked += 1
            if frontier.root() != checkpoint.root_hash:
                return _fail(
                    result,
                    first=good_size,
                    last=checkpoint.size - 1,
                    reason=f"the log's first {checkpoint.size} leaves do not have the root of "
                    f"{checkpoint.source}: history was rewritten, reordered or had events "
                    "inserted or removed",
                )
            good_size = checkpoint.size
        return None

    failed = check_reached()
    if failed:
        return failed
    for index, event_id, stored_leaf, record in leaves:
        if index != frontier.size:
            if index > frontier.size:
                return _fail(
                    result,
                    first=frontier.size,
                    last=frontier.size,
                    reason=f"leaf {frontier.size} is missing (the next event holds leaf {index}): "
                    "an event was deleted",
                    event_id=event_id,
                )
            return _fail(
                result,
                first=index,
                last=index,
                reason=f"leaf {index} appears twice: an event was inserted",
                event_id=event_id,
            )
        computed = event_leaf_hash(record)
        if stored_leaf is not None and computed != stored_leaf:
            return _fail(
                result,
                first=index,
                last=index,
                reason=f"event {event_id} (leaf {index}) does not match its leaf hash: the "
                "event was altered",
                event_id=event_id,
            )
        frontier.append(computed)
        failed = check_reached()
        if failed:
            return failed
    result.tree_size = frontier.size
    result.root_hash = frontier.root()
    if position < len(pending):
        beyond = pending[position]
        return _fail(
            result,
            first=frontier.size,
            last=beyond.size - 1,
            reason=f"the log has {frontier.size} leaves but {beyond.source} has {beyond.size}: "
            "events were cut from its tail",
        )
    return result


def _fail(
    result: LogVerification, *, first: int, last: int, reason: str, event_id: int | None = None
) -> LogVerification:
    result.ok = False
    result.first_bad_leaf = first
    result.last_bad_leaf = last
    result.event_id = event_id
    result.reason = reason
    return result


# -- evidence bundles ------------------------------------------------------------------------

BUNDLE_FORMAT = "erasure-evidence/1"


def failed_items_digest(items: Iterable[tuple[str, str, str]]) -> str:
    """SHA-256 (hex) of the failed items (namespace, item id, reason), sorted, as compact
    JSON: what a completion event records, so that a certificate's list can be checked."""
    rows = sorted([list(item) for item in items])
    text = json.dumps(rows, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class BundleVerification:
    ok: bool
    events: int = 0
    tree_size: int = 0
    signed_by: str = ""
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _b64(text: Any, what: str) -> bytes:
    try:
        return base64.b64decode(str(text), validate=True)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{what} is not base64") from exc


def verify_bundle(bundle: Any, verifiers: list[Verifier] | None = None) -> BundleVerification:
    """Check an evidence bundle with no database and no network: the checkpoint's signature
    (by `verifiers`, else by the keys the bundle lists, which the result notes), every
    event's bytes and inclusion proof, and the certificate's facts against the events."""
    result = BundleVerification(ok=False)
    if not isinstance(bundle, dict) or bundle.get("format") != BUNDLE_FORMAT:
        result.problems.append(f"not an evidence bundle (format {BUNDLE_FORMAT!r} expected)")
        return result
    if verifiers is None:
        try:
            verifiers = [Verifier.decode(text) for text in bundle.get("public_keys", [])]
        except NoteError as exc:
            result.problems.append(f"the bundle's public key is not a key: {exc}")
            return result
        result.notes.append(
            "checked with the public key the bundle carries: compare it with the log's "
            "published keys, or pass yours with --public-key"
        )
    log = bundle.get("log") or {}
    try:
        text, signers = open_note(str(log.get("checkpoint", "")), verifiers)
        checkpoint = Checkpoint.parse(text)
    except NoteError as exc:
        result.problems.append(f"the checkpoint: {exc}")
        return result
    if log.get("origin") and checkpoint.origin != log["origin"]:
        result.problems.append(f"the checkpoint is of the log {checkpoint.origin!r}")
        return result
    result.tree_size = checkpoint.size
    result.signed_by = ", ".join(f"{v.name}+{v.key_id:08x}" for v in signers)
    events = bundle.get("events")
    if not isinstance(events, list):
        result.problems.append("the bundle has no list of events")
        return result
    records: list[dict[str, Any]] = []
    for position, entry in enumerate(events):
        problem = _check_entry(entry, checkpoint)
        fields = entry.get("event") if isinstance(entry, dict) else None
        where = f"event {fields.get('id', '?')}" if isinstance(fields, dict) else ""
        if problem:
            result.problems.append(f"{where or f'entry {position}'}: {problem}")
        else:
            records.append(entry["event"])
    result.events = len(records)
    request_id = bundle.get("request_id")
    if request_id is not None:
        strangers = [r["id"] for r in records if r.get("request_id") != request_id]
        if strangers:
            result.problems.append(f"events {strangers} are not of request {request_id}")
    certificate = bundle.get("certificate")
    if certificate is not None:
        if request_id is None:
            result.problems.append("the bundle has a certificate but names no request")
        else:
            result.problems.extend(
                _check_certificate(certificate, request_id, records, result.notes)
            )
    result.ok = not result.problems
    return result


def _check_entry(entry: Any, checkpoint: Checkpoint) -> str:
    if not isinstance(entry, dict) or not isinstance(entry.get("event"), dict):
        return "not an event entry"
    try:
        leaf_input = _b64(entry.get("leaf_input"), "leaf_input")
        proof = [_b64(node, "a proof hash") for node in entry.get("inclusion_proof", [])]
        index = int(entry["leaf_index"])
    except (ValueError, KeyError, TypeError) as exc:
        return f"malformed entry: {exc}"
    try:
        if canonical_bytes(entry["event"]) != leaf_input:
            return "its fields are not its leaf's bytes: the event was altered"
    except LeafError as exc:
        return str(exc)
    try:
        merkle.verify_inclusion(
            index=index,
            size=checkpoint.size,
            leaf=merkle.leaf_hash(leaf_input),
            proof=proof,
            root=checkpoint.root_hash,
        )
    except merkle.ProofError as exc:
        return f"leaf {index} is not proven in the signed tree: {exc}"
    return ""


def _check_certificate(
    certificate: Any, request_id: str, records: list[dict[str, Any]], notes: list[str]
) -> list[str]:
    if not isinstance(certificate, dict):
        return ["the certificate is not an object"]
    if certificate.get("request_id") != request_id:
        return [f"the certificate is of request {certificate.get('request_id')}, not {request_id}"]
    completions = [
        r
        for r in records
        if r.get("event_type") == "request.completed" and r.get("request_id") == request_id
    ]
    if not completions:
        return ["the certificate has no request.completed event among the proven events"]
    completion = completions[-1]
    details = completion.get("details") or {}
    problems: list[str] = []
    if certificate.get("subject_hash") != completion.get("subject_hash"):
        problems.append("the certificate's subject is not the completion event's")
    prior = details.get("prior_events")
    if prior is not None:
        present = {r.get("id") for r in records}
        missing = [event_id for event_id in prior if event_id not in present]
        if missing:
            problems.append(
                f"events {missing} that the completion event records are not in the bundle"
            )
    said = {k: v for k, v in (details.get("counts") or {}).items() if v}
    shown = {k: v for k, v in (certificate.get("totals") or {}).items() if v}
    if said != shown:
        problems.append(f"the certificate's totals {shown} are not the completion event's {said}")
    if details.get("status") and certificate.get("status") != details["status"]:
        problems.append(
            f"the certificate says {certificate.get('status')!r}, the completion event "
            f"{details['status']!r}"
        )
    by_namespace = details.get("by_namespace")
    if by_namespace is None:
        notes.append(
            "the completion event predates per-namespace counts: only the totals were checked"
        )
    else:
        shown_ns = {
            ns.get("name"): {k: v for k, v in (ns.get("counts") or {}).items() if v}
            for ns in certificate.get("namespaces") or []
        }
        said_ns = {name: {k: v for k, v in c.items() if v} for name, c in by_namespace.items()}
        if shown_ns != said_ns:
            problems.append("the certificate's counts per namespace are not the completion event's")
    failed = details.get("failed_items")
    if failed is not None:
        listed = certificate.get("failed") or []
        digest = failed_items_digest(
            (str(f.get("namespace")), str(f.get("item_id")), str(f.get("reason"))) for f in listed
        )
        if len(listed) != failed.get("count") or digest != failed.get("sha256"):
            problems.append(
                "the certificate's failed items are not those the completion event recorded"
            )
    return problems
