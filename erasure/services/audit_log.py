"""The audit log: the sequencer, the stored tree, proofs and signed checkpoints.

**Sequencing.** Writers insert events without a place in the log (erasure.services.audit).
`sequence_pending` gives committed events their leaf index in order of their ids, fills
each one's leaf hash, stores the hash of every complete subtree the new leaves close
(AuditTreeNode), and issues a signed checkpoint of the new tree: all in one transaction,
so a sequencer killed at any point leaves the log as it was (no gap, no index given twice,
`leaf_index` is unique). One sequencer runs at a time: a pass holds a transaction-scoped
advisory lock, taken with `pg_try_advisory_xact_lock` (leader election). A process that
does not get it leaves the work to the holder, which looks again after releasing it: an
event committed while the holder worked is never left waiting for the periodic pass.

**Log order** is the order of sequencing: an event whose transaction commits late takes
the next index when it commits, even if its id is lower than that of events already in
the log.

**Proofs** read O(log n) stored hashes in one query (erasure.transparency.merkle.NodeTree),
whatever the size of the log.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.db import connection, transaction

from erasure import queue
from erasure.models import AuditCheckpoint, AuditEvent, AuditSigningKey
from erasure.services.audit import leaf_record
from erasure.transparency import merkle
from erasure.transparency.leaves import LEAF_FIELDS, event_leaf_hash
from erasure.transparency.notes import Checkpoint, Signer, Verifier, sign_checkpoint
from erasure.transparency.verify import (
    LogVerification,
    TrustedCheckpoint,
    parse_checkpoints,
    verify_leaves,
)

logger = logging.getLogger(__name__)

# Arbitrary constant naming "the audit sequencer" among advisory locks.
SEQUENCER_LOCK = 0x4C4F4753  # "LOGS"


class LogError(Exception):
    """A proof or checkpoint that cannot be given (bad sizes, nothing sequenced yet)."""


# -- configuration ---------------------------------------------------------------------


@lru_cache(maxsize=4)
def _signer_of(text: str) -> Signer:
    return Signer.decode(text)


def signer() -> Signer | None:
    """The key that signs checkpoints (AUDIT_SIGNING_KEY), or None when none is set."""
    text = settings.AUDIT_SIGNING_KEY
    return _signer_of(text) if text else None


def log_origin() -> str:
    """The log's name in its checkpoints: AUDIT_LOG_ORIGIN, else the signing key's name."""
    if settings.AUDIT_LOG_ORIGIN:
        return settings.AUDIT_LOG_ORIGIN
    key = signer()
    return key.name if key else ""


def known_verifiers() -> list[Verifier]:
    """Every key that has signed a checkpoint of this log (the current one included)."""
    keys = [
        Verifier.decode(k) for k in AuditSigningKey.objects.values_list("verifier_key", flat=True)
    ]
    current = signer()
    if current is not None and current.verifier not in keys:
        keys.append(current.verifier)
    return keys


# -- the stored tree ---------------------------------------------------------------------


def tree_size() -> int:
    """How many events the log holds (sequenced)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT max(leaf_index) FROM erasure_auditevent")
        (last,) = cursor.fetchone()
    return 0 if last is None else last + 1


def pending_count() -> int:
    """Events committed but not yet sequenced: the sequencer's lag."""
    return AuditEvent.objects.filter(leaf_index__isnull=True).count()


def _fetch_nodes(keys: Iterable[merkle.NodeKey]) -> dict[merkle.NodeKey, bytes]:
    keys = list(keys)
    leaves = [index for level, index in keys if level == 0]
    inner = [(level, index) for level, index in keys if level > 0]
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT n.level, n.index, n.hash FROM erasure_audittreenode n
            JOIN unnest(%s::smallint[], %s::bigint[]) AS k(level, index)
              ON n.level = k.level AND n.index = k.index
            UNION ALL
            SELECT 0, leaf_index, leaf_hash FROM erasure_auditevent
            WHERE leaf_index = ANY(%s::bigint[])
            """,
            [[k[0] for k in inner], [k[1] for k in inner], leaves],
        )
        return {(level, index): bytes(h) for level, index, h in cursor.fetchall()}


def stored_tree[T](size: int, compute: Callable[[merkle.Tree], T]) -> T:
    """`compute(tree)` on the stored tree of `size` leaves, reading only what it needs."""
    nodes = _fetch_nodes(merkle.keys_read_by(size, compute))
    return compute(merkle.NodeTree(size, nodes))


def root_at(size: int) -> bytes:
    return stored_tree(size, lambda tree: merkle.root_hash(tree, size))


@dataclass(frozen=True)
class InclusionProof:
    event_id: int
    leaf_index: int
    tree_size: int
    leaf_hash: bytes
    path: list[bytes]


def _check_size(size: int, *, at_least: int = 1) -> None:
    current = tree_size()
    if not at_least <= size <= current:
        raise LogError(
            f"tree_size must be between {at_least} and the log's size, {current}; got {size}"
        )


def inclusion_proof(*, event_id: int, size: int | None = None) -> InclusionProof:
    """The audit path of an event in the tree of `size` leaves (default: the latest
    checkpoint's size, else the whole log)."""
    row = AuditEvent.objects.filter(pk=event_id).values_list("leaf_index", "leaf_hash").first()
    if row is None:
        raise LogError(f"there is no audit event {event_id}")
    index, leaf = row
    if index is None or leaf is None:
        raise LogError(f"audit event {event_id} is not in the log yet (sequencing is pending)")
    in_tree: int = size or latest_checkpoint_size() or tree_size()
    _check_size(in_tree)
    if index >= in_tree:
        raise LogError(f"audit event {event_id} is leaf {index}: not in a tree of {in_tree} leaves")
    path = stored_tree(in_tree, lambda tree: merkle.inclusion_proof(tree, index, in_tree))
    return InclusionProof(
        event_id=event_id, leaf_index=index, tree_size=in_tree, leaf_hash=bytes(leaf), path=path
    )


def inclusion_proofs(event_ids: list[int], size: int) -> dict[int, InclusionProof]:
    """Proofs of many events in one tree: the stored hashes they need, in one query."""
    rows = list(
        AuditEvent.objects.filter(pk__in=event_ids, leaf_index__lt=size).values_list(
            "pk", "leaf_index", "leaf_hash"
        )
    )
    proven = [(pk, index, bytes(leaf)) for pk, index, leaf in rows if index is not None and leaf]

    def paths(tree: merkle.Tree) -> list[list[bytes]]:
        return [merkle.inclusion_proof(tree, index, size) for _, index, _ in proven]

    computed = stored_tree(size, paths)
    return {
        pk: InclusionProof(event_id=pk, leaf_index=index, tree_size=size, leaf_hash=leaf, path=path)
        for (pk, index, leaf), path in zip(proven, computed, strict=True)
    }


def consistency_proof(*, first: int, second: int) -> list[bytes]:
    if not 1 <= first <= second:
        raise LogError("first must be at least 1 and at most second")
    _check_size(second)
    return stored_tree(second, lambda tree: merkle.consistency_proof(tree, first, second))


# -- checkpoints ---------------------------------------------------------------------------


def latest_checkpoint() -> AuditCheckpoint | None:
    return AuditCheckpoint.objects.select_related("key").order_by("-tree_size").first()


def latest_checkpoint_size() -> int:
    latest = AuditCheckpoint.objects.order_by("-tree_size").values_list("tree_size", flat=True)
    return latest.first() or 0


def _signing_key_row(key: Signer) -> AuditSigningKey:
    verifier = key.verifier
    row, _ = AuditSigningKey.objects.get_or_create(
        verifier_key=verifier.encode(),
        defaults={"key_id": f"{verifier.key_id:08x}", "name": verifier.name},
    )
    return row


def _issue_checkpoint(size: int, root: bytes) -> AuditCheckpoint | None:
    key = signer()
    if key is None:
        return None
    note = sign_checkpoint(Checkpoint(origin=log_origin(), size=size, root_hash=root), key)
    checkpoint = AuditCheckpoint.objects.create(
        tree_size=size, root_hash=root, note=note, key=_signing_key_row(key)
    )
    for target in witness_targets():
        queue.enqueue_checkpoint_publication(checkpoint_id=checkpoint.pk, target=target)
    return checkpoint


def witness_targets() -> list[str]:
    targets = [f"dir:{settings.AUDIT_WITNESS_DIR}"] if settings.AUDIT_WITNESS_DIR else []
    return targets + list(settings.AUDIT_WITNESS_URLS)


def checkpoint_now() -> AuditCheckpoint | None:
    """A checkpoint of the whole log as it is, when the latest one is older (for instance
    after the signing key was first configured on a log that already had events)."""
    with transaction.atomic():
        if not _try_leader_lock():
            return None
        size = tree_size()
        if size == 0 or size == latest_checkpoint_size():
            return latest_checkpoint()
        return _issue_checkpoint(size, root_at(size))


# -- the sequencer -------------------------------------------------------------------------


def _try_leader_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [SEQUENCER_LOCK])
        return bool(cursor.fetchone()[0])


@dataclass
class PassResult:
    leader: bool
    sequenced: int = 0
    checkpoint: AuditCheckpoint | None = None


def sequence_pass(*, limit: int | None = None) -> PassResult:
    """One sequencing pass of at most `limit` events, in one transaction."""
    from erasure.failpoints import failpoint

    limit = limit or settings.AUDIT_SEQUENCE_BATCH
    with transaction.atomic():
        if not _try_leader_lock():
            return PassResult(leader=False)
        with connection.cursor() as cursor:
            # The leaf's fields are the table's column names.
            cursor.execute(
                f"SELECT {', '.join(LEAF_FIELDS)} FROM erasure_auditevent "  # noqa: S608
                "WHERE leaf_index IS NULL ORDER BY id LIMIT %s",
                [limit],
            )
            rows = cursor.fetchall()
        if not rows:
            return PassResult(leader=True)
        size = tree_size()
        edge_keys = merkle.frontier_keys(size)
        edge_nodes = _fetch_nodes(edge_keys)
        frontier = merkle.Frontier(size, [edge_nodes[key] for key in edge_keys])
        ids, indexes, hashes = [], [], []
        levels, positions, node_hashes = [], [], []
        for row in rows:
            leaf = event_leaf_hash(_leaf_of_row(row))
            ids.append(row[0])
            indexes.append(frontier.size)
            hashes.append(leaf)
            for level, position, node in frontier.append(leaf):
                levels.append(level)
                positions.append(position)
                node_hashes.append(node)
        with connection.cursor() as cursor:
            cursor.execute(
                """
                UPDATE erasure_auditevent e SET leaf_index = v.leaf_index, leaf_hash = v.leaf_hash
                FROM unnest(%s::bigint[], %s::bigint[], %s::bytea[]) AS v(id, leaf_index, leaf_hash)
                WHERE e.id = v.id
                """,
                [ids, indexes, hashes],
            )
            failpoint("audit.sequencer.after_leaves")
            if levels:
                cursor.execute(
                    """
                    INSERT INTO erasure_audittreenode (level, index, hash)
                    SELECT * FROM unnest(%s::smallint[], %s::bigint[], %s::bytea[])
                    """,
                    [levels, positions, node_hashes],
                )
        failpoint("audit.sequencer.before_checkpoint")
        checkpoint = _issue_checkpoint(frontier.size, frontier.root())
        failpoint("audit.sequencer.before_commit")
    return PassResult(leader=True, sequenced=len(rows), checkpoint=checkpoint)


def sequence_pending() -> int:
    """Sequence every committed event; returns how many this process sequenced."""
    total = 0
    while True:
        result = sequence_pass()
        total += result.sequenced
        if not result.leader:
            # The leader looks again after it releases the lock (below).
            return total
        if not AuditEvent.objects.filter(leaf_index__isnull=True).exists():
            return total


# -- verification against the database ------------------------------------------------------


def _leaf_of_row(row: Sequence[Any]) -> dict[str, Any]:
    """An event's leaf record from its LEAF_FIELDS columns, in that order (details as
    stored: text from a raw cursor, parsed from the ORM)."""
    values = dict(zip(LEAF_FIELDS, row, strict=True))
    if isinstance(values["details"], str):
        values["details"] = json.loads(values["details"])
    return leaf_record(**values)


def _sequenced_records() -> Iterator[tuple[int, int | None, bytes | None, dict]]:
    events = (
        AuditEvent.objects.filter(leaf_index__isnull=False)
        .order_by("leaf_index")
        .values_list(*LEAF_FIELDS, "leaf_index", "leaf_hash")
    )
    for row in events.iterator(chunk_size=5000):
        *fields, index, leaf = row
        yield int(index or 0), row[0], bytes(leaf or b""), _leaf_of_row(fields)


def audit_verify(
    *, external: Iterable[TrustedCheckpoint] = (), verifiers: list[Verifier] | None = None
) -> LogVerification:
    """Recompute the log from the events and hold it to every checkpoint: the stored ones
    whose signature verifies under `verifiers` (default: the log's own keys) and the
    `external` ones an auditor kept. Names the first leaf that is not as promised."""
    verifiers = verifiers if verifiers is not None else known_verifiers()
    stored = [
        (f"stored checkpoint {size}", note)
        for size, note in AuditCheckpoint.objects.values_list("tree_size", "note")
    ]
    trusted, problems = parse_checkpoints(stored, verifiers, origin=log_origin() or None)
    checkpoints = sorted([*trusted, *external], key=lambda c: c.size)
    result = LogVerification(ok=True, pending=pending_count())
    if problems:
        result.notes.extend(problems)
    return verify_leaves(_sequenced_records(), checkpoints, result)


def b64(value: bytes) -> str:
    return base64.b64encode(value).decode()
