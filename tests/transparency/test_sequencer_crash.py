"""The sequencer killed with SIGKILL at each point of its pass: the log is as it was, no
gap, no index given twice, and the next pass sequences everything."""

from __future__ import annotations

import os

import pytest
from django.db import connection, transaction

from erasure.actors import Actor
from erasure.models import AuditCheckpoint, AuditEvent, AuditTreeNode
from erasure.services import audit_log
from erasure.services.audit import audit_record
from tests.conftest import database_url_of, manage_py

pytestmark = pytest.mark.django_db(transaction=True)
ACTOR = Actor.system("test")


def _env(**extra: str) -> dict[str, str]:
    from django.conf import settings

    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url_of(connection.settings_dict["NAME"]),
        SECRET_KEY=settings.SECRET_KEY,
        SUBJECT_HASH_KEY=settings.SUBJECT_HASH_KEY,
        AUDIT_SIGNING_KEY=settings.AUDIT_SIGNING_KEY,
    )
    env.update(extra)
    return env


def _append(n: int) -> None:
    for i in range(n):
        with transaction.atomic():
            audit_record(event_type="mappings.registered", actor=ACTOR, details={"i": i})


@pytest.mark.parametrize(
    "failpoint",
    [
        "audit.sequencer.after_leaves",
        "audit.sequencer.before_checkpoint",
        "audit.sequencer.before_commit",
    ],
)
def test_a_sequencer_killed_midway_leaves_no_gap_and_no_index_twice(failpoint):
    _append(5)
    audit_log.sequence_pending()
    _append(7)
    before = (AuditTreeNode.objects.count(), AuditCheckpoint.objects.count())
    killed = manage_py("audit_log", "sequence", env=_env(ERASURE_FAILPOINTS=failpoint))
    assert killed.returncode == -9, killed.stdout + killed.stderr
    # Nothing of the killed pass is left: its transaction never committed.
    assert audit_log.tree_size() == 5 and audit_log.pending_count() == 7
    assert (AuditTreeNode.objects.count(), AuditCheckpoint.objects.count()) == before
    # Its advisory lock died with its session: the next sequencer leads at once.
    done = manage_py("audit_log", "sequence", env=_env())
    assert done.returncode == 0 and "sequenced 7 events" in done.stdout, done.stderr
    indexes = list(AuditEvent.objects.order_by("leaf_index").values_list("leaf_index", flat=True))
    assert indexes == list(range(12))
    result = audit_log.audit_verify()
    assert result.ok and result.tree_size == 12 and result.checkpoints_checked == 2
