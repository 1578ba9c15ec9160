"""Namespace scans against the emulator: what they report is compared with the emulator's
truth (what was seeded, what was mapped)."""

from __future__ import annotations

import pytest
from django.db import connection

from erasure.actors import Actor
from erasure.clients import make_client
from erasure.models import FindingKind, Namespace, NamespaceScan, ScanFinding, ScanSeenItem
from erasure.services.mappings import MappingInput, mappings_register
from erasure.services.scans import scan_run, scan_start
from tests.conftest import manage_py, worker_env

APP = Actor.system("test-app")


def seed_text(emulator, *, items: int, summaries: int = 0) -> None:
    rows = [{"id": f"doc-{n:04d}", "text": "t", "metadata": {}} for n in range(items)]
    rows += [{"id": f"summary-{n}", "text": "s", "is_summary": True} for n in range(summaries)]
    emulator.seed([{"name": "notes", "type": "text", "items": rows}])


def register(pairs: list[tuple[str, str]], namespace: str = "notes") -> None:
    mappings_register(
        items=[MappingInput(subject, namespace, item) for subject, item in pairs], actor=APP
    )


def findings(scan: NamespaceScan, kind: str) -> set[str]:
    return set(ScanFinding.objects.filter(scan=scan, kind=kind).values_list("item_id", flat=True))


def fetch_calls(emulator) -> int:
    return sum(1 for call in emulator.calls() if "fetch-text-data" in call["path"])


@pytest.mark.django_db
def test_a_full_scan_reports_unmapped_and_stale_items_and_sets_summaries_apart(emulator):
    seed_text(emulator, items=250, summaries=3)
    # 200 of the 250 present items are mapped, and 7 mappings name items the API lacks.
    register([(f"user-{n % 10}", f"doc-{n:04d}") for n in range(200)])
    register([("user-gone", f"deleted-{n}") for n in range(7)])
    namespace = Namespace.objects.get(name="notes")

    with make_client() as client:
        scan = scan_run(scan_start(namespace=namespace), client=client)

    truth = emulator.ids("notes")
    present = {i for i in truth if i.startswith("doc-")}
    mapped = {f"doc-{n:04d}" for n in range(200)} | {f"deleted-{n}" for n in range(7)}
    assert scan.state == "completed" and scan.full
    assert (scan.items_seen, scan.summaries, scan.pages) == (250, 3, 3)
    assert findings(scan, FindingKind.UNMAPPED) == present - mapped
    assert findings(scan, FindingKind.STALE) == mapped - present
    assert (scan.unmapped, scan.stale) == (50, 7)
    assert (scan.api_item_count, scan.mapped_count) == (len(truth), 207)
    assert not ScanSeenItem.objects.filter(scan=scan).exists()  # emptied on completion
    assert fetch_calls(emulator) == 3


@pytest.mark.django_db
def test_a_vector_namespace_gets_the_count_comparison_only(emulator):
    emulator.seed(
        [
            {
                "name": "vecs",
                "type": "vector",
                "vector_dimension": 2,
                "items": [{"id": f"v{n}", "vector": [0.1, 0.2]} for n in range(12)],
            }
        ]
    )
    register([("user-1", f"v{n}") for n in range(9)], namespace="vecs")
    namespace = Namespace.objects.get(name="vecs")
    with make_client() as client:
        scan = scan_run(scan_start(namespace=namespace), client=client)
    assert (scan.state, scan.full) == ("completed", False)
    assert (scan.api_item_count, scan.mapped_count, scan.pages) == (12, 9, 0)
    assert fetch_calls(emulator) == 0


@pytest.mark.django_db
def test_one_scan_runs_per_namespace(emulator):
    seed_text(emulator, items=3)
    register([("user-1", "doc-0000")])
    namespace = Namespace.objects.get(name="notes")
    first = scan_start(namespace=namespace)
    assert scan_start(namespace=namespace).pk == first.pk


@pytest.mark.django_db(transaction=True)
def test_a_scan_killed_midway_resumes_from_its_cursor(emulator):
    seed_text(emulator, items=530)
    register([("user-1", f"doc-{n:04d}") for n in range(0, 530, 2)])
    env = worker_env(connection.settings_dict["NAME"], emulator)

    killed = manage_py(
        "namespace_scan", "notes", env={**env, "ERASURE_FAILPOINTS": "scan.after_page@3"}
    )
    assert killed.returncode == -9, killed.stdout + killed.stderr
    scan = NamespaceScan.objects.get()
    assert (scan.state, scan.pages, scan.items_seen) == ("running", 3, 300)
    assert scan.next_token

    resumed = manage_py("namespace_scan", "notes", env=env)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    scan.refresh_from_db()
    assert (scan.state, scan.pages, scan.items_seen, scan.unmapped) == ("completed", 6, 530, 265)
    assert "265 unmapped, 0 stale" in resumed.stdout
    # Every page was read once: the resumed run started after the last recorded page.
    assert fetch_calls(emulator) == 6


@pytest.mark.django_db(transaction=True)
def test_the_command_refuses_an_unknown_namespace(emulator):
    env = worker_env(connection.settings_dict["NAME"], emulator)
    result = manage_py("namespace_scan", "nowhere", env=env)
    assert result.returncode == 2
    assert "unknown namespace(s) in API default: nowhere" in result.stderr
    assert not NamespaceScan.objects.exists()


@pytest.mark.django_db
def test_the_periodic_pass_starts_due_scans_and_wakes_running_ones(
    emulator, settings, django_capture_on_commit_callbacks
):
    from datetime import timedelta

    from django.utils import timezone
    from procrastinate.contrib.django.models import ProcrastinateJob

    from erasure.services.scans import scans_due

    seed_text(emulator, items=3)
    emulator.seed([{"name": "other", "type": "text", "items": [{"id": "o1", "text": "t"}]}])
    emulator.seed([{"name": "quiet", "type": "text", "items": [{"id": "q1", "text": "t"}]}])
    register([("user-1", "doc-0000"), ("user-1", "o1"), ("user-1", "q1")])
    register([("user-1", "o1")], namespace="other")
    register([("user-1", "q1")], namespace="quiet")
    settings.ERASURE_SCAN_INTERVAL_HOURS = 24
    Namespace.objects.filter(name="other").update(scan_interval_hours=1)
    Namespace.objects.filter(name="quiet").update(scan_interval_hours=0)  # off
    now = timezone.now()

    # The jobs are deferred once the scans are committed.
    with django_capture_on_commit_callbacks(execute=True):
        assert scans_due(now=now) == 2  # notes and other: never scanned; quiet: off
    assert set(NamespaceScan.objects.values_list("namespace__name", flat=True)) == {
        "notes",
        "other",
    }
    jobs = ProcrastinateJob.objects.filter(task_name="erasure.scan_namespace", status="todo")
    assert jobs.count() == 2
    with make_client() as client:
        for scan in NamespaceScan.objects.all():
            scan_run(scan, client=client)

    assert scans_due(now=now + timedelta(minutes=30)) == 0
    # Two hours on, only `other` (every hour) is due; a day on, `notes` too (and `other`'s
    # second scan, still running, is not started twice).
    assert scans_due(now=now + timedelta(hours=2)) == 1
    assert NamespaceScan.objects.filter(namespace__name="other").count() == 2
    assert scans_due(now=now + timedelta(hours=25)) == 1
    assert NamespaceScan.objects.filter(namespace__name="notes").count() == 2
    assert not NamespaceScan.objects.filter(namespace__name="quiet").exists()
