"""The audit log in the database: the sequencer, the stored tree, proofs, checkpoints,
and the triggers that keep it immutable."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections, transaction

from erasure.actors import Actor
from erasure.models import AuditCheckpoint, AuditEvent, AuditTreeNode
from erasure.services import audit_log
from erasure.services.audit import audit_record, event_record
from erasure.transparency import merkle
from erasure.transparency.leaves import event_leaf_hash
from erasure.transparency.notes import Verifier, open_checkpoint

pytestmark = pytest.mark.django_db(transaction=True)
ACTOR = Actor.system("test")


def append(n: int, label: str = "t") -> list[int]:
    ids = []
    for i in range(n):
        with transaction.atomic():
            ids.append(
                audit_record(event_type="mappings.registered", actor=ACTOR, details={label: i}).pk
            )
    return ids


def leaves_in_order() -> list[bytes]:
    return [
        bytes(h)
        for h in AuditEvent.objects.filter(leaf_index__isnull=False)
        .order_by("leaf_index")
        .values_list("leaf_hash", flat=True)
    ]


def test_sequencing_gives_contiguous_leaves_stores_the_tree_and_signs_a_checkpoint():
    append(5)
    assert audit_log.pending_count() == 5 and audit_log.tree_size() == 0
    assert audit_log.sequence_pending() == 5
    append(8)
    assert audit_log.sequence_pending() == 8
    events = list(AuditEvent.objects.order_by("leaf_index"))
    assert [e.leaf_index for e in events] == list(range(13))
    for event in events:
        assert bytes(event.leaf_hash) == event_leaf_hash(event_record(event))
    memory = merkle.MemoryTree(leaves_in_order())
    # Every complete subtree is stored once, and nothing else.
    assert AuditTreeNode.objects.count() == sum(13 >> level for level in range(1, 4))
    checkpoints = list(AuditCheckpoint.objects.order_by("tree_size"))
    assert [c.tree_size for c in checkpoints] == [5, 13]
    verifier = audit_log.signer().verifier
    for checkpoint in checkpoints:
        opened = open_checkpoint(checkpoint.note, [verifier], origin=audit_log.log_origin())
        assert opened.size == checkpoint.tree_size
        assert opened.root_hash == merkle.root_hash(memory, checkpoint.tree_size)
        assert audit_log.root_at(checkpoint.tree_size) == opened.root_hash
    assert audit_log.audit_verify().ok


def test_stored_proofs_verify_for_every_event_and_every_pair_of_sizes():
    append(21)
    audit_log.sequence_pending()
    root = {n: audit_log.root_at(n) for n in range(1, 22)}
    for event in AuditEvent.objects.all():
        for size in range(event.leaf_index + 1, 22):
            proof = audit_log.inclusion_proof(event_id=event.pk, size=size)
            merkle.verify_inclusion(
                index=proof.leaf_index,
                size=size,
                leaf=proof.leaf_hash,
                proof=proof.path,
                root=root[size],
            )
    for first in range(1, 22):
        for second in range(first, 22):
            merkle.verify_consistency(
                first=first,
                second=second,
                first_root=root[first],
                second_root=root[second],
                proof=audit_log.consistency_proof(first=first, second=second),
            )


def test_an_event_committed_late_takes_the_next_index_not_its_ids_place():
    started, release = threading.Event(), threading.Event()
    late: list[int] = []

    def slow_writer() -> None:
        try:
            with transaction.atomic():
                late.append(audit_record(event_type="mappings.registered", actor=ACTOR).pk)
                started.set()
                release.wait(10)
        finally:
            connections.close_all()

    thread = threading.Thread(target=slow_writer)
    thread.start()
    started.wait(10)
    early = append(3)
    audit_log.sequence_pending()  # the uncommitted event is invisible: not skipped over
    assert audit_log.tree_size() == 3
    release.set()
    thread.join()
    audit_log.sequence_pending()
    assert late[0] < early[0]
    assert AuditEvent.objects.get(pk=late[0]).leaf_index == 3
    assert audit_log.audit_verify().ok


def test_eight_concurrent_writers_and_sequencers_sequence_every_event_exactly_once():
    per_writer = 40
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def writer(number: int) -> None:
        try:
            barrier.wait(10)
            for i in range(per_writer):
                with transaction.atomic():
                    audit_record(
                        event_type="mappings.registered", actor=ACTOR, details={"w": number, "i": i}
                    )
                # Every writer also tries to lead, as the wake-up after commit does.
                if i % 5 == 0:
                    audit_log.sequence_pending()
        except BaseException as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    audit_log.sequence_pending()
    indexes = list(AuditEvent.objects.order_by("leaf_index").values_list("leaf_index", flat=True))
    assert indexes == list(range(8 * per_writer))
    assert audit_log.audit_verify().ok
    sizes = list(AuditCheckpoint.objects.order_by("tree_size").values_list("tree_size", flat=True))
    assert sizes[-1] == 8 * per_writer and len(sizes) == len(set(sizes))


def test_a_second_sequencer_does_not_run_while_one_holds_the_lock():
    append(2)
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [audit_log.SEQUENCER_LOCK])
        other: list[audit_log.PassResult] = []

        def contender() -> None:
            try:
                other.append(audit_log.sequence_pass())
            finally:
                connections.close_all()

        thread = threading.Thread(target=contender)
        thread.start()
        thread.join()
    assert other[0].leader is False and other[0].sequenced == 0
    assert audit_log.sequence_pending() == 2


def test_without_a_signing_key_events_are_sequenced_but_no_checkpoint_is_issued(settings):
    settings.AUDIT_SIGNING_KEY = ""
    append(3)
    assert audit_log.sequence_pending() == 3
    assert not AuditCheckpoint.objects.exists()


def test_key_rotation_keeps_the_old_key_listed_and_its_checkpoints_verifiable(settings):
    from erasure.transparency.notes import Signer

    first_key = settings.AUDIT_SIGNING_KEY
    settings.AUDIT_LOG_ORIGIN = "test.erasure.example/audit"
    append(2)
    audit_log.sequence_pending()
    settings.AUDIT_SIGNING_KEY = Signer.generate("test.erasure.example/audit-2027").encode()
    append(2)
    audit_log.sequence_pending()
    keys = audit_log.known_verifiers()
    assert len(keys) == 2
    old, new = AuditCheckpoint.objects.order_by("tree_size")
    assert old.key != new.key
    assert Verifier.decode(old.key.verifier_key) == Signer.decode(first_key).verifier
    for checkpoint in (old, new):
        open_checkpoint(checkpoint.note, keys, origin="test.erasure.example/audit")
    assert audit_log.audit_verify().ok


def test_a_commit_wakes_the_sequencer_once_and_a_worker_sequences(emulator):
    from procrastinate.contrib.django.models import ProcrastinateJob

    from tests.conftest import run_worker_once

    # Queue tables are not emptied between tests (Procrastinate's models are unmanaged).
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM procrastinate_jobs WHERE task_name LIKE 'erasure.sequence%'")
    waiting = ProcrastinateJob.objects.filter(task_name="erasure.sequence_audit_log", status="todo")
    with transaction.atomic():
        audit_record(event_type="mappings.registered", actor=ACTOR)
        audit_record(event_type="mappings.registered", actor=ACTOR)
        assert not waiting.exists()  # woken after commit, not before
    assert waiting.count() == 1
    append(3)  # the waiting job will see these too: no second one
    assert waiting.count() == 1
    run_worker_once(connection.settings_dict["NAME"], emulator)
    assert audit_log.tree_size() == 5 and audit_log.pending_count() == 0
    assert AuditCheckpoint.objects.filter(tree_size=5).exists()
    assert not waiting.exists()


def test_a_rolled_back_transaction_wakes_nobody():
    from procrastinate.contrib.django.models import ProcrastinateJob

    jobs = ProcrastinateJob.objects.filter(task_name="erasure.sequence_audit_log")
    before = jobs.count()
    with pytest.raises(RuntimeError), transaction.atomic():
        audit_record(event_type="mappings.registered", actor=ACTOR)
        raise RuntimeError("the change fails")
    assert not AuditEvent.objects.exists()
    assert jobs.count() == before
