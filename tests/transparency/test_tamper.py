"""The tamper matrix, on a real database: each way of rewriting history behind the
triggers' back (as the database's superuser could) is detected, and the first bad leaf
named. And the service's own role cannot do any of it."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection, transaction

from erasure.actors import Actor
from erasure.models import AuditCheckpoint, AuditEvent
from erasure.services import audit_log, witnesses
from erasure.services.audit import audit_record, event_record
from erasure.transparency import merkle
from erasure.transparency.leaves import event_leaf_hash
from tests.conftest import database_url_of, manage_py

pytestmark = pytest.mark.django_db(transaction=True)
ACTOR = Actor.system("test")
EVENTS = 10


@pytest.fixture
def log(tmp_path: Path, settings) -> Path:
    """Ten events, each sequenced in its own pass (a checkpoint per size), every checkpoint
    kept by a witness directory outside the database."""
    settings.AUDIT_WITNESS_DIR = str(tmp_path / "witness")
    for i in range(EVENTS):
        with transaction.atomic():
            audit_record(event_type="mappings.registered", actor=ACTOR, details={"n": i})
        audit_log.sequence_pending()
    for checkpoint in AuditCheckpoint.objects.all():
        witnesses.checkpoint_publish(
            checkpoint_id=checkpoint.pk, target=f"dir:{tmp_path / 'witness'}"
        )
    assert audit_log.audit_verify().ok
    return tmp_path / "witness"


def behind_the_triggers_back(*statements: tuple[str, list]) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")  # triggers off (superuser)
        try:
            for sql, params in statements:
                cursor.execute(sql, params)
        finally:
            cursor.execute("SET session_replication_role = DEFAULT")


def event_at(leaf: int) -> AuditEvent:
    return AuditEvent.objects.get(leaf_index=leaf)


def verify(*args: str) -> tuple[int, str]:
    out = StringIO()
    try:
        call_command("verify_audit", *args, stdout=out)
    except SystemExit as exit_:
        return int(exit_.code or 0), out.getvalue()
    return 0, out.getvalue()


def public_key() -> str:
    return audit_log.signer().verifier.encode()


def recompute_everything() -> None:
    """What a careful forger does: every leaf hash and stored node recomputed from the
    events as they now are, and the checkpoints they cannot re-sign thrown away."""
    frontier = merkle.Frontier()
    statements: list[tuple[str, list]] = [
        ("DELETE FROM erasure_audittreenode", []),
        ("DELETE FROM erasure_auditcheckpoint", []),
    ]
    for event in AuditEvent.objects.order_by("leaf_index"):
        leaf = event_leaf_hash(event_record(event))
        statements.append(
            ("UPDATE erasure_auditevent SET leaf_hash = %s WHERE id = %s", [leaf, event.pk])
        )
        for level, index, node in frontier.append(leaf):
            statements.append(
                (
                    "INSERT INTO erasure_audittreenode (level, index, hash) VALUES (%s, %s, %s)",
                    [level, index, node],
                )
            )
    behind_the_triggers_back(*statements)


def test_an_altered_event_is_named(log):
    victim = event_at(6)
    behind_the_triggers_back(
        (
            "UPDATE erasure_auditevent SET details = %s WHERE id = %s",
            [json.dumps({"n": 99}), victim.pk],
        )
    )
    result = audit_log.audit_verify()
    assert not result.ok and result.first_bad_leaf == result.last_bad_leaf == 6
    assert result.event_id == victim.pk and "altered" in result.reason
    code, out = verify()
    assert code == 1 and f"first bad leaf: leaf 6 (event {victim.pk})" in out


def test_a_deleted_event_is_named(log):
    behind_the_triggers_back(("DELETE FROM erasure_auditevent WHERE leaf_index = 4", []))
    result = audit_log.audit_verify()
    assert not result.ok and result.first_bad_leaf == 4 and "deleted" in result.reason


def test_an_inserted_event_is_named(log):
    # Room is made at leaf 5 and a forged event put there, with its own correct leaf hash.
    forged = AuditEvent(
        id=10_000, occurred_at=event_at(5).occurred_at, event_type="request.approved", actor="x"
    )
    forged_leaf = event_leaf_hash(event_record(forged))
    behind_the_triggers_back(
        ("UPDATE erasure_auditevent SET leaf_index = -leaf_index - 1 WHERE leaf_index >= 5", []),
        ("UPDATE erasure_auditevent SET leaf_index = -leaf_index WHERE leaf_index < 0", []),
        (
            "INSERT INTO erasure_auditevent (id, occurred_at, event_type, actor, subject_hash, "
            "details, leaf_index, leaf_hash) VALUES (10000, %s, 'request.approved', 'x', '', "
            "'{}', 5, %s)",
            [forged.occurred_at, forged_leaf],
        ),
    )
    result = audit_log.audit_verify()
    assert not result.ok and result.first_bad_leaf == result.last_bad_leaf == 5
    assert "rewritten" in result.reason


def test_two_reordered_events_are_named(log):
    first, second = event_at(3), event_at(7)
    behind_the_triggers_back(
        ("UPDATE erasure_auditevent SET leaf_index = -1 WHERE id = %s", [first.pk]),
        ("UPDATE erasure_auditevent SET leaf_index = 3 WHERE id = %s", [second.pk]),
        ("UPDATE erasure_auditevent SET leaf_index = 7 WHERE id = %s", [first.pk]),
    )
    result = audit_log.audit_verify()
    assert not result.ok and result.first_bad_leaf == result.last_bad_leaf == 3


def test_a_history_rewritten_consistently_fails_against_the_witnessed_checkpoints(log):
    victim = event_at(2)
    behind_the_triggers_back(
        (
            "UPDATE erasure_auditevent SET details = %s WHERE id = %s",
            [json.dumps({"n": 99}), victim.pk],
        )
    )
    recompute_everything()
    # The database alone now agrees with itself: nothing left in it to hold it to.
    assert audit_log.audit_verify().ok
    # The witness kept every checkpoint: the first one the log no longer has names the leaf.
    code, out = verify("--checkpoint", str(log), "--public-key", public_key())
    assert code == 1
    assert "first bad leaf: leaf 2:" in out and "rewritten" in out
    # One checkpoint saved by an auditor is enough to catch it, if not to pin it down.
    code, out = verify("--checkpoint", str(log / "checkpoint"), "--public-key", public_key())
    assert code == 1 and "a leaf in 0..9" in out


def test_a_cut_tail_fails_against_a_checkpoint_taken_before(log):
    behind_the_triggers_back(
        ("DELETE FROM erasure_auditevent WHERE leaf_index >= 7", []),
        ("DELETE FROM erasure_auditcheckpoint WHERE tree_size > 7", []),
        ("DELETE FROM erasure_audittreenode WHERE (index + 1) * (1 << level) > 7", []),
    )
    assert audit_log.audit_verify().ok  # a shorter log, consistent in itself
    code, out = verify("--checkpoint", str(log / "checkpoint"), "--public-key", public_key())
    assert code == 1
    assert "a leaf in 7..9" in out and "cut from its tail" in out


def test_a_forged_checkpoint_in_the_database_is_not_trusted(log):
    behind_the_triggers_back(
        (
            "UPDATE erasure_auditcheckpoint SET note = replace(note, '\n10\n', '\n11\n') "
            "WHERE tree_size = 10",
            [],
        )
    )
    result = audit_log.audit_verify()
    assert result.ok and any("does not verify" in note for note in result.notes)


def test_the_triggers_refuse_every_change_but_the_sequencers_fill():
    with transaction.atomic():
        event = audit_record(event_type="mappings.registered", actor=ACTOR)
    for sql in (
        "UPDATE erasure_auditevent SET actor = 'x' WHERE id = %s",
        "DELETE FROM erasure_auditevent WHERE id = %s",
        "UPDATE erasure_auditevent SET leaf_index = 0 WHERE id = %s",  # half a fill
    ):
        with (
            pytest.raises(Exception, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql, [event.pk])
    with (
        pytest.raises(Exception, match="through the sequencer"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            "INSERT INTO erasure_auditevent (occurred_at, event_type, actor, subject_hash, "
            "details, leaf_index, leaf_hash) VALUES (now(), 'x', 'x', '', '{}', 7, '\\x00')"
        )
    audit_log.sequence_pending()
    for sql in (
        "UPDATE erasure_auditevent SET leaf_index = 5 WHERE id = %s",  # a second fill
        "TRUNCATE erasure_auditevent CASCADE",
        "TRUNCATE erasure_audittreenode",
        "TRUNCATE erasure_auditcheckpoint CASCADE",
        "UPDATE erasure_auditcheckpoint SET note = '' WHERE %s > 0",
        "DELETE FROM erasure_auditsigningkey WHERE %s > 0",
    ):
        with (
            pytest.raises(Exception, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql, [event.pk] if "%s" in sql else None)
    assert audit_log.audit_verify().ok and audit_log.tree_size() == 1


SERVICE_ROLE = "erasure_service_test"


@pytest.fixture
def service_role() -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"DROP OWNED BY {SERVICE_ROLE}" if _role_exists() else "SELECT 1")
        if not _role_exists():
            cursor.execute(f"CREATE ROLE {SERVICE_ROLE} LOGIN")
    call_command("grant_service_role", SERVICE_ROLE, stdout=StringIO())
    return SERVICE_ROLE


def _role_exists() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [SERVICE_ROLE])
        return cursor.fetchone() is not None


def _as_role(role: str) -> psycopg.Connection:
    url = database_url_of(connection.settings_dict["NAME"])
    user_part = url.split("//", 1)[1].split("@", 1)[0]
    return psycopg.connect(url.replace(f"//{user_part}@", f"//{role}@"), autocommit=True)


def test_the_service_runs_as_a_role_that_cannot_touch_the_triggers_or_the_history(service_role):
    env_url = database_url_of(connection.settings_dict["NAME"])
    user_part = env_url.split("//", 1)[1].split("@", 1)[0]
    env = {
        **__import__("os").environ,
        "DATABASE_URL": env_url.replace(f"//{user_part}@", f"//{service_role}@"),
    }
    # The service's own work, as that role: an audited write, sequencing, verification.
    created = manage_py("create_api_key", "as-service-role", "--scope", "audit:read", env=env)
    assert created.returncode == 0, created.stderr
    sequenced = manage_py("audit_log", "sequence", env=env)
    assert sequenced.returncode == 0 and "sequenced 1 events" in sequenced.stdout, sequenced.stderr
    verified = manage_py("verify_audit", env=env)
    assert verified.returncode == 0 and verified.stdout.startswith("OK: 1 events verified")
    with _as_role(service_role) as conn:
        for sql in (
            "TRUNCATE erasure_auditevent CASCADE",
            "DELETE FROM erasure_auditevent",
            "UPDATE erasure_auditevent SET actor = 'x'",
            "DROP TRIGGER erasure_auditevent_guard ON erasure_auditevent",
            "ALTER TABLE erasure_auditevent DISABLE TRIGGER ALL",
            "SET session_replication_role = replica",
            "DELETE FROM erasure_auditcheckpoint",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(sql)
    # Even granted TRUNCATE, the role meets the trigger.
    with connection.cursor() as cursor:
        cursor.execute(f"GRANT TRUNCATE ON erasure_auditevent TO {service_role}")
    with (
        _as_role(service_role) as conn,
        pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"),
    ):
        conn.execute("TRUNCATE erasure_auditevent")
    assert audit_log.audit_verify().ok and audit_log.tree_size() == 1
