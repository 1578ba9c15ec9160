"""`manage.py import_mappings`: CSV streamed through COPY, one transaction, flagged like
the API's registrations."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from erasure.actors import Actor
from erasure.models import (
    AuditEvent,
    AuditEventType,
    ErasureItem,
    ErasureRequest,
    ItemMapping,
    Subject,
)
from erasure.services.execution import request_execute
from erasure.services.execution.start import start_request
from erasure.services.mappings import MappingInput, mappings_register
from erasure.services.requests import request_file
from tests.conftest import ROOT, worker_env
from tests.services.execution.helpers import SUBJECT, prepare

pytestmark = pytest.mark.django_db


@pytest.fixture
def namespaces(emulator):
    emulator.seed(
        [
            {"name": "notes", "type": "text", "items": []},
            {"name": "vecs", "type": "vector", "vector_dimension": 2, "items": []},
        ]
    )


def write_csv(path: Path, rows: list[str], header: str = "subject,namespace,item_id") -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def generated(n: int) -> list[str]:
    return [f"user-{i % 50},{'notes' if i % 2 else 'vecs'},item-{i}" for i in range(n)]


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("import_mappings", *args, "--no-progress", stdout=out, stderr=io.StringIO())
    return out.getvalue()


def snapshot() -> tuple[int, int, int]:
    return ItemMapping.objects.count(), Subject.objects.count(), AuditEvent.objects.count()


def test_import_registers_every_row_and_a_second_import_creates_nothing(namespaces, tmp_path):
    path = write_csv(tmp_path / "m.csv", generated(3_000) + ["user-1,notes,item-1"])
    summary = run(str(path), "--batch-size", "700")
    assert summary.strip() == (
        "rows read: 3001; mappings created: 3000; duplicates: 1; subjects: 50; "
        "added to open requests: 0; after erasure: 0"
    )
    assert ItemMapping.objects.count() == 3_000
    assert set(ItemMapping.objects.values_list("registered_by", flat=True)) == {
        "system:import_mappings"
    }
    assert ItemMapping.objects.filter(namespace__name="notes").count() == 1_500
    assert Subject.objects.count() == 50
    assert not Subject.objects.filter(raw_key__isnull=False).exists()

    again = run(str(path))
    assert "mappings created: 0; duplicates: 3001" in again
    assert ItemMapping.objects.count() == 3_000
    events = AuditEvent.objects.filter(event_type=AuditEventType.MAPPINGS_REGISTERED)
    assert [e.details["created"] for e in events] == [3_000, 0]
    assert all(e.details["import"] and "user-" not in str(e.details) for e in events)


def test_delimiter_blank_lines_quotes_and_a_byte_order_mark(namespaces, tmp_path):
    path = tmp_path / "m.csv"
    path.write_text(
        '\ufeffsubject;namespace;item_id\n\nu1;notes;"a;b"\n"u 2";vecs;" spaced "\n',
        encoding="utf-8",
    )
    assert "mappings created: 2" in run(str(path), "--delimiter", ";")
    assert set(ItemMapping.objects.values_list("item_id", flat=True)) == {"a;b", " spaced "}


@pytest.mark.parametrize(
    ("bad_row", "message"),
    [
        ("user-1,notes,", "line 1202: item_id must not be empty"),
        ("user-1,notes", "line 1202: expected 3 fields"),
        ("user-1,notes,x,y", "line 1202: expected 3 fields"),
        (" ,notes,x", "line 1202: subject must not be empty"),
        ("user-1,notes," + "x" * 513, "line 1202: item_id is longer than 512"),
    ],
)
def test_a_bad_row_stops_the_import_with_its_line_and_writes_nothing(
    namespaces, tmp_path, bad_row, message
):
    # Line 1 is the header: data row k is on line k + 1. Earlier batches were staged.
    rows = generated(1_200) + [bad_row] + generated(300)
    path = write_csv(tmp_path / "bad.csv", rows)
    before = snapshot()
    with pytest.raises(CommandError, match=message) as raised:
        run(str(path), "--batch-size", "500")
    assert "nothing was imported" in str(raised.value)
    assert snapshot() == before


def test_a_bad_header_or_an_unknown_namespace_writes_nothing(namespaces, tmp_path):
    before = snapshot()
    with pytest.raises(CommandError, match="line 1: the header must be"):
        run(str(write_csv(tmp_path / "h.csv", ["a,notes,b"], header="user,ns,id")))
    path = write_csv(tmp_path / "ns.csv", generated(100) + ["u,nowhere,x"])
    with pytest.raises(CommandError, match="unknown namespaces: nowhere"):
        run(str(path))
    assert snapshot() == before
    with pytest.raises(CommandError, match="cannot read"):
        run(str(tmp_path / "missing.csv"))


def test_namespaces_unknown_here_are_learnt_from_the_api(namespaces, emulator, tmp_path):
    emulator.seed([{"name": "fresh", "type": "text", "items": []}])
    assert "mappings created: 1" in run(str(write_csv(tmp_path / "f.csv", ["u,fresh,1"])))
    assert ItemMapping.objects.get().namespace.kind == "text"


def test_standard_input(namespaces, monkeypatch):
    data = b"subject,namespace,item_id\nu1,notes,a\nu1,notes,b\n"
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    assert "rows read: 2; mappings created: 2" in run("-")


def test_imported_rows_are_flagged_like_registered_ones(emulator, tmp_path, settings):
    settings.ERASURE_LATE_MAPPINGS = "erase"
    erased = prepare(emulator, texts=2, vectors=0)
    request_execute(request_id=erased.pk)
    running = prepare_running(emulator)
    path = write_csv(
        tmp_path / "late.csv",
        [f"{SUBJECT},notes,late-1", f"{SUBJECT},notes,late-2", "runner,notes,r-late"],
    )
    assert "added to open requests: 1; after erasure: 2" in run(str(path))
    new = ErasureRequest.objects.filter(subject=erased.subject).exclude(pk=erased.pk).get()
    assert new.status == "approved" and new.auto_approved
    assert ErasureItem.objects.filter(request=running, item_id="r-late").exists()
    event = AuditEvent.objects.get(event_type=AuditEventType.MAPPINGS_AFTER_ERASURE)
    assert event.details["subjects"][0]["new_request"] == str(new.pk)


def prepare_running(emulator) -> ErasureRequest:
    mappings_register(items=[MappingInput("runner", "notes", "r0")], actor=Actor.system("t"))
    request = request_file(
        subject_key="runner", actor=Actor.system("t"), source="admin", auto_approve=True
    ).request
    start_request(request.pk)
    request.refresh_from_db()
    assert request.status == "running"
    return request


@pytest.mark.django_db(transaction=True)
def test_the_process_exits_non_zero_on_a_bad_row_and_reads_a_pipe(namespaces, emulator):
    env = worker_env(connection.settings_dict["NAME"], emulator)
    bad = "subject,namespace,item_id\nu,notes,a\nu,notes,\n"
    completed = subprocess.run(
        [sys.executable, "manage.py", "import_mappings", "-"],
        cwd=ROOT,
        env=env,
        input=bad,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode != 0
    assert "line 3: item_id must not be empty" in completed.stderr
    assert ItemMapping.objects.count() == 0
    good = "subject,namespace,item_id\nu,notes,a\nu,vecs,b\n"
    completed = subprocess.run(
        [sys.executable, "manage.py", "import_mappings", "-"],
        cwd=ROOT,
        env=env,
        input=good,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert "mappings created: 2" in completed.stdout
    # Not a terminal: no progress bar in the output.
    assert "rows/s" not in completed.stderr and "it/s" not in completed.stderr


def test_subject_hashes_kept_between_batches_stay_right_when_the_bound_is_reached(
    namespaces, tmp_path, monkeypatch
):
    from erasure.hashing import subject_hash
    from erasure.services import mappings

    monkeypatch.setattr(mappings, "MAX_HASHES_KEPT", 7)  # 50 subjects, batches of 10
    path = write_csv(tmp_path / "m.csv", generated(500))
    assert "mappings created: 500" in run(str(path), "--batch-size", "10")
    stored = set(ItemMapping.objects.values_list("subject__key_hash", "item_id"))
    assert stored == {(subject_hash(f"user-{i % 50}"), f"item-{i}") for i in range(500)}
