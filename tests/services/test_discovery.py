"""Discovery by metadata: scans turn items that name a subject into mappings, and requests
wait for a fresh scan, so that data no application registered is erased too. What the
service reports is compared with the emulator's truth."""

from __future__ import annotations

import json

import pytest

from erasure.actors import Actor
from erasure.clients import make_client
from erasure.hashing import subject_hash
from erasure.models import (
    AuditEvent,
    AuditEventType,
    ErasureRequest,
    FindingKind,
    ItemMapping,
    Namespace,
    NamespaceScan,
    RequestSource,
    ScanFinding,
    ScanState,
)
from erasure.services.aliases import AliasInput, aliases_register
from erasure.services.execution import request_execute
from erasure.services.mappings import MappingInput, mappings_register
from erasure.services.requests import request_approve, request_file
from erasure.services.scans import scan_carry_on, scan_run, scan_start

APP = Actor.system("test-app")
OFFICER = Actor.system("test-officer")


def seed(emulator, items: list[dict]) -> None:
    emulator.seed([{"name": "notes", "type": "text", "items": items}])


def doc(item_id: str, **metadata: str) -> dict:
    return {"id": item_id, "text": "t", "metadata": metadata}


def notes(*, field: str = "user_id", kind: str = "") -> Namespace:
    namespace = Namespace.objects.get(name="notes")
    namespace.subject_field, namespace.subject_field_kind = field, kind
    namespace.save()
    return namespace


def scan(namespace: Namespace) -> NamespaceScan:
    with make_client() as client:
        return scan_run(scan_start(namespace=namespace), client=client)


def mapped(subject: str) -> set[str]:
    return set(
        ItemMapping.objects.filter(subject__key_hash=subject_hash(subject)).values_list(
            "item_id", flat=True
        )
    )


def approved_request(subject: str) -> ErasureRequest:
    filed = request_file(subject_key=subject, actor=OFFICER, source="admin")
    return request_approve(request=filed.request, actor=OFFICER)


@pytest.mark.django_db
def test_a_scan_maps_the_items_whose_metadata_names_a_subject(emulator):
    seed(
        emulator,
        [doc(f"a{n}", user_id="user-a") for n in range(3)]
        + [doc(f"b{n}", user_id="user-b") for n in range(2)]
        + [doc("anon", topic="x"), doc("empty", user_id=""), doc("c0", user_id=" user-a ")]
        + [{"id": "summary-1", "text": "s", "is_summary": True, "metadata": {"user_id": "user-a"}}],
    )
    mappings_register(items=[MappingInput("user-b", "notes", "b0")], actor=APP)

    result = scan(notes())

    assert mapped("user-a") == {"a0", "a1", "a2", "c0"}  # the key is compared trimmed
    assert mapped("user-b") == {"b0", "b1"}
    assert (result.discovered, result.unmapped, result.summaries) == (5, 2, 1)
    unmapped = set(
        ScanFinding.objects.filter(scan=result, kind=FindingKind.UNMAPPED).values_list(
            "item_id", flat=True
        )
    )
    assert unmapped == {"anon", "empty"}  # summary chunks are never user data
    event = AuditEvent.objects.get(event_type=AuditEventType.MAPPINGS_DISCOVERED)
    assert event.details["discovered"] == 5
    assert sorted(event.details["subjects"]) == sorted(
        [subject_hash("user-a"), subject_hash("user-b")]
    )
    assert "user-a" not in json.dumps(event.details)  # hashes only
    # A second scan finds nothing new.
    assert scan(notes()).discovered == 0


@pytest.mark.django_db
def test_an_alias_field_maps_only_to_subjects_with_that_alias(emulator):
    seed(
        emulator,
        [doc("x1", email="Ann@Example.com"), doc("x2", email="ann@example.com")]
        + [doc("x3", email="nobody@example.com")],
    )
    aliases_register(items=[AliasInput("user-ann", "email", "ann@example.com")], actor=APP)
    mappings_register(items=[MappingInput("user-ann", "notes", "x1")], actor=APP)

    result = scan(notes(field="email", kind="email"))

    assert mapped("user-ann") == {"x1", "x2"}  # emails compare case-insensitively
    assert result.discovered == 1 and result.unmapped == 1
    assert not ItemMapping.objects.filter(item_id="x3").exists()  # an unknown alias


@pytest.mark.django_db(transaction=True)
def test_a_request_waits_for_a_fresh_scan_and_erases_what_it_discovered(emulator):
    seed(
        emulator,
        [doc("registered", user_id="user-a")]
        + [doc(f"unregistered-{n}", user_id="user-a") for n in range(3)]
        + [doc(f"keep-{n}", user_id="user-b") for n in range(2)],
    )
    mappings_register(items=[MappingInput("user-a", "notes", "registered")], actor=APP)
    namespace = notes()
    request = approved_request("user-a")

    summary = request_execute(request_id=request.pk)

    request.refresh_from_db()
    assert not summary.finished and request.status == "running"
    waiting_for = NamespaceScan.objects.get(namespace=namespace, state=ScanState.RUNNING)
    assert "registered" not in emulator.ids("notes")  # the registered item went first

    scan_carry_on(scan_id=waiting_for.pk)  # what the woken worker does
    summary = request_execute(request_id=request.pk)

    request.refresh_from_db()
    assert summary.finished and request.status == "completed"
    assert emulator.ids("notes") == {"keep-0", "keep-1"}
    assert set(request.items.values_list("item_id", flat=True)) == {
        "registered",
        "unregistered-0",
        "unregistered-1",
        "unregistered-2",
    }
    completion = AuditEvent.objects.get(
        request=request, event_type=AuditEventType.REQUEST_COMPLETED
    )
    assert completion.details["scans"] == [
        {
            "namespace": "notes",
            "scan": waiting_for.pk,
            "scan_started_at": completion.details["scans"][0]["scan_started_at"],
            "scan_finished_at": completion.details["scans"][0]["scan_finished_at"],
            "discovered_for_subject": 3,
        }
    ]


@pytest.mark.django_db(transaction=True)
def test_one_scan_serves_every_waiting_request(emulator):
    seed(emulator, [doc("a", user_id="user-a"), doc("b", user_id="user-b")])
    mappings_register(
        items=[MappingInput("user-a", "notes", "a"), MappingInput("user-b", "notes", "b")],
        actor=APP,
    )
    notes()
    first, second = approved_request("user-a"), approved_request("user-b")
    request_execute(request_id=first.pk)
    request_execute(request_id=second.pk)
    running = NamespaceScan.objects.filter(state=ScanState.RUNNING)
    assert running.count() == 1

    scan_carry_on(scan_id=running.get().pk)
    assert request_execute(request_id=first.pk).finished
    assert request_execute(request_id=second.pk).finished
    assert NamespaceScan.objects.count() == 1 and emulator.ids("notes") == set()


@pytest.mark.django_db(transaction=True)
def test_a_namespace_over_the_size_limit_relies_on_its_periodic_scan(emulator, settings):
    seed(emulator, [doc(f"n{n}", user_id="user-z") for n in range(6)])
    mappings_register(items=[MappingInput("user-a", "notes", "n0")], actor=APP)
    scan(notes())
    settings.ERASURE_REQUEST_SCAN_MAX_ITEMS = 5
    request = approved_request("user-a")

    assert request_execute(request_id=request.pk).finished
    assert NamespaceScan.objects.count() == 1  # no scan for the request


@pytest.mark.django_db(transaction=True)
def test_an_item_discovered_for_an_erased_subject_is_erased_by_a_new_request(emulator):
    seed(emulator, [doc("first", user_id="user-a")])
    mappings_register(items=[MappingInput("user-a", "notes", "first")], actor=APP)
    namespace = notes(field="")  # no subject field yet: the request does not wait
    request = approved_request("user-a")
    assert request_execute(request_id=request.pk).finished
    # The application uploads again for the erased subject, and registers nothing.
    with make_client() as client:
        client.upload_documents(
            namespace="notes",
            documents=[{"id": "later", "text": "t", "metadata": {"user_id": "user-a"}}],
        )
    namespace = notes()

    result = scan(namespace)

    assert result.discovered == 1
    follow_up = ErasureRequest.objects.exclude(pk=request.pk).get()
    assert follow_up.source == RequestSource.SYSTEM and follow_up.status == "approved"
    assert follow_up.subject_id == request.subject_id
    late = AuditEvent.objects.get(event_type=AuditEventType.MAPPINGS_AFTER_ERASURE)
    assert late.details["subjects"][0]["new_request"] == str(follow_up.pk)


@pytest.mark.django_db(transaction=True)
def test_a_first_scan_that_counts_too_many_items_is_not_waited_for(emulator, settings):
    seed(emulator, [doc(f"n{n}", user_id="user-z") for n in range(7)])
    mappings_register(items=[MappingInput("user-a", "notes", "n0")], actor=APP)
    notes()
    settings.ERASURE_REQUEST_SCAN_MAX_ITEMS = 5
    request = approved_request("user-a")
    assert not request_execute(request_id=request.pk).finished  # size unknown: it waits
    running = NamespaceScan.objects.get(state=ScanState.RUNNING)
    assert running.api_item_count is None

    # The scan's first step asks the API for the size (before any page).
    with make_client() as client:
        counts = {info.name: info.item_count for info in client.list_namespaces()}
    NamespaceScan.objects.filter(pk=running.pk).update(api_item_count=counts["notes"])

    assert request_execute(request_id=request.pk).finished
    assert NamespaceScan.objects.get(pk=running.pk).state == ScanState.RUNNING


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_scans_for_a_waiting_request_and_completes_it(emulator):
    from django.db import connection

    from tests.conftest import run_worker_once

    seed(
        emulator,
        [doc("registered", user_id="user-a")]
        + [doc(f"unregistered-{n}", user_id="user-a") for n in range(3)]
        + [doc("keep", user_id="user-b")],
    )
    mappings_register(items=[MappingInput("user-a", "notes", "registered")], actor=APP)
    notes()
    request = approved_request("user-a")

    # One worker process: the request's jobs, the scan it starts, the wake-up the scan's
    # end sends, until nothing is ready.
    output = run_worker_once(connection.settings_dict["NAME"], emulator)

    request.refresh_from_db()
    assert request.status == "completed", output
    assert emulator.ids("notes") == {"keep"}
    scan = NamespaceScan.objects.get()
    assert (scan.state, scan.discovered) == ("completed", 4)
