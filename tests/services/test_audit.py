"""The hash chain: verified whole, by range and offline from an export; tampering behind
the trigger's back is caught and named; concurrent writers never fork it."""

from __future__ import annotations

import json
import threading
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection, connections, transaction

from erasure.actors import Actor
from erasure.models import AuditEvent
from erasure.services.audit import (
    GENESIS_HASH,
    audit_chain_head,
    audit_record,
    audit_verify,
    event_record,
)

pytestmark = pytest.mark.django_db(transaction=True)
ACTOR = Actor.system("test")


def _append(n: int, label: str = "t") -> None:
    for i in range(n):
        with transaction.atomic():
            audit_record(event_type="mappings.registered", actor=ACTOR, details={label: i})


def _verify(*args: str) -> tuple[int, str]:
    out = StringIO()
    try:
        call_command("verify_audit", *args, stdout=out)
    except SystemExit as exit_:
        return int(exit_.code or 0), out.getvalue()
    return 0, out.getvalue()


def _behind_the_triggers_back(sql: str, params: list) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")  # triggers off (superuser)
        try:
            cursor.execute(sql, params)
        finally:
            cursor.execute("SET session_replication_role = DEFAULT")


def test_an_intact_chain_verifies_whole_and_by_range():
    _append(12)
    result = audit_verify()
    assert result.ok and result.checked == 12
    assert result.anchor == GENESIS_HASH and result.head == audit_chain_head()
    ids = list(AuditEvent.objects.order_by("id").values_list("id", flat=True))
    part = audit_verify(first_id=ids[4], last_id=ids[8])
    assert part.ok and part.checked == 5
    assert part.anchor == AuditEvent.objects.get(id=ids[3]).hash
    code, out = _verify("--from", str(ids[4]), "--to", str(ids[8]))
    assert code == 0 and out.startswith("OK: 5 events verified")


def test_an_event_altered_behind_the_triggers_back_is_named():
    _append(10)
    ids = list(AuditEvent.objects.order_by("id").values_list("id", flat=True))
    victim = ids[6]
    _behind_the_triggers_back(
        "UPDATE erasure_auditevent SET details = %s WHERE id = %s",
        [json.dumps({"t": 999}), victim],
    )
    code, out = _verify()
    assert code == 1
    assert f"BROKEN at event {victim}: hash does not match" in out
    assert "6 events verified before it" in out
    # The events before it still verify as a range.
    assert audit_verify(last_id=ids[5]).ok


def test_an_event_removed_behind_the_triggers_back_breaks_the_next_one():
    _append(8)
    ids = list(AuditEvent.objects.order_by("id").values_list("id", flat=True))
    _behind_the_triggers_back("DELETE FROM erasure_auditevent WHERE id = %s", [ids[3]])
    result = audit_verify()
    assert not result.ok and result.broken_id == ids[4]
    assert "removed, inserted or reordered" in result.reason


def test_the_trigger_refuses_updates_and_deletes():
    _append(1)
    event = AuditEvent.objects.get()
    with pytest.raises(Exception, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(actor="someone else")
    with pytest.raises(Exception, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).delete()


def test_an_export_verifies_offline_and_a_tampered_line_is_named(tmp_path):
    _append(9)
    lines = [json.dumps(event_record(e)) for e in AuditEvent.objects.order_by("id").iterator()]
    export = tmp_path / "events.jsonl"
    export.write_text("\n".join(lines) + "\n")
    code, out = _verify("--file", str(export))
    assert code == 0 and "OK: 9 events verified" in out and audit_chain_head() in out
    # A range exported later verifies against the head of the earlier part.
    later = tmp_path / "later.jsonl"
    later.write_text("\n".join(lines[5:]) + "\n")
    anchor = json.loads(lines[4])["hash"]
    assert _verify("--file", str(later), "--anchor", anchor)[0] == 0
    assert _verify("--file", str(later), "--anchor", GENESIS_HASH)[0] == 1

    tampered = json.loads(lines[2])
    tampered["actor"] = "system:someone-else"
    lines[2] = json.dumps(tampered)
    export.write_text("\n".join(lines) + "\n")
    code, out = _verify("--file", str(export))
    assert code == 1 and f"BROKEN at event {tampered['id']}" in out


def test_concurrent_writers_never_fork_the_chain():
    def writer(label: str) -> None:
        try:
            _append(40, label)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(f"w{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert AuditEvent.objects.count() == 160
    result = audit_verify()
    assert result.ok and result.checked == 160
    # One event per previous hash: no two writers chained onto the same event.
    prevs = list(AuditEvent.objects.values_list("prev_hash", flat=True))
    assert len(set(prevs)) == len(prevs)
