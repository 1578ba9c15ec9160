"""Mapping registration through the API: bulk, idempotent, all-or-nothing on bad input."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from typing import Any

import psycopg
import pytest
from django.db import connection

from erasure.models import AuditEvent, IdempotencyRecord, ItemMapping, Namespace, Subject
from erasure.services.mappings import RegisterResult
from tests.api.helpers import error_of, written
from tests.conftest import database_url_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def uploader(api_key_factory):
    return api_key_factory("uploader", "mappings:write")


@pytest.fixture
def namespaces(emulator):
    emulator.seed(
        [
            {"name": "notes", "type": "text", "items": []},
            {"name": "embeddings", "type": "vector", "vector_dimension": 3, "items": []},
        ]
    )


def _items(n: int, namespace: str = "notes") -> list[dict[str, str]]:
    return [
        {"subject": f"user-{i % 7}", "namespace": namespace, "item_id": f"i-{i}"} for i in range(n)
    ]


def test_registration_learns_namespaces_from_the_api_and_is_idempotent(uploader, namespaces):
    response = uploader.post("/api/v1/mappings", {"items": _items(50)}, format="json")
    assert response.status_code == 200
    assert response.json()["created"] == 50
    assert {(n.name, n.kind, n.attribution_mode) for n in Namespace.objects.all()} == {
        ("notes", "text", "adaptive"),
        ("embeddings", "vector", "fast"),
    }
    again = uploader.post("/api/v1/mappings", {"items": _items(50)}, format="json")
    body = again.json()
    assert {k: body[k] for k in ("received", "created", "added_to_open_requests")} == {
        "received": 50,
        "created": 0,
        "added_to_open_requests": 0,
    }
    # Every field of the service's result is in the answer, whatever it grows.
    assert set(body) == {f.name for f in dataclasses.fields(RegisterResult)}
    assert ItemMapping.objects.count() == 50
    assert Subject.objects.count() == 7
    # Subjects are stored as keyed hashes only.
    assert not Subject.objects.filter(raw_key__isnull=False).exists()
    assert not Subject.objects.filter(key_hash__startswith="user-").exists()


def test_unknown_namespace_is_400_and_nothing_is_written(uploader, namespaces):
    items = _items(3) + [{"subject": "u", "namespace": "nope", "item_id": "x"}]
    before = (ItemMapping.objects.count(), Subject.objects.count(), AuditEvent.objects.count())
    response = uploader.post("/api/v1/mappings", {"items": items}, format="json")
    assert response.status_code == 400
    assert "nope" in response.json()["error"]["message"]
    assert (
        ItemMapping.objects.count(),
        Subject.objects.count(),
        AuditEvent.objects.count(),
    ) == before


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"items": []},
        {"items": "x"},
        {"items": [{"subject": "u", "namespace": "notes"}]},
        {"items": [{"subject": "", "namespace": "notes", "item_id": "a"}]},
        {"items": [{"subject": "u", "namespace": "notes", "item_id": ""}]},
        {"items": [{"subject": "u", "namespace": "notes", "item_id": "a" * 513}]},
        {"items": [{"subject": "u", "namespace": "notes", "item_id": None}]},
    ],
)
def test_bad_items_are_400_and_nothing_is_written(uploader, namespaces, payload):
    response = uploader.post("/api/v1/mappings", payload, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["fields"]
    assert ItemMapping.objects.count() == 0


def test_more_than_ten_thousand_items_is_400(uploader, namespaces):
    response = uploader.post("/api/v1/mappings", {"items": _items(10_001)}, format="json")
    assert response.status_code == 400
    assert ItemMapping.objects.count() == 0


def test_namespace_api_down_gives_503_with_a_message(uploader, settings):
    settings.NAMESPACE_API_URL = "http://127.0.0.1:9/v1"
    settings.NAMESPACE_API_TIMEOUT = 1
    response = uploader.post("/api/v1/mappings", {"items": _items(1)}, format="json")
    assert response.status_code == 503
    assert "could not be asked" in response.json()["error"]["message"]
    assert ItemMapping.objects.count() == 0


def test_remove_deletes_only_the_named_mappings(uploader, namespaces):
    uploader.post("/api/v1/mappings", {"items": _items(14)}, format="json")
    doomed = _items(14)[:5]
    response = uploader.post(
        "/api/v1/mappings/remove",
        {
            "items": [
                *doomed,
                doomed[0],  # named twice, removed once
                {"subject": "user-0", "namespace": "notes", "item_id": "never-registered"},
                {"subject": "user-0", "namespace": "unknown-ns", "item_id": "i-0"},
                {"subject": "someone-else", "namespace": "notes", "item_id": "i-6"},
            ]
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json() == {"received": 9, "removed": 5}
    assert ItemMapping.objects.count() == 9
    assert not ItemMapping.objects.filter(item_id__in=[i["item_id"] for i in doomed]).exists()
    event = AuditEvent.objects.filter(event_type="mappings.removed").get()
    assert event.details["removed"] == 5


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"items": []},
        {"items": [{"subject": "u", "namespace": "notes"}]},
        {"items": [{"subject": " ", "namespace": "notes", "item_id": "i-1"}]},
        {"items": [{"subject": "user-1", "namespace": "notes", "item_id": "a" * 513}]},
        {"items": [*_items(3), {"subject": "user-1", "namespace": "notes", "item_id": ""}]},
    ],
)
def test_remove_with_bad_items_is_400_and_removes_nothing(uploader, namespaces, payload):
    uploader.post("/api/v1/mappings", {"items": _items(3)}, format="json")
    before = written()
    error = error_of(uploader.post("/api/v1/mappings/remove", payload, format="json"), 400)
    assert error["fields"]
    assert written() == before


def test_remove_takes_at_most_ten_thousand_items(uploader, namespaces):
    error = error_of(
        uploader.post("/api/v1/mappings/remove", {"items": _items(10_001)}, format="json"), 400
    )
    assert "items" in error["fields"]


@pytest.mark.django_db(transaction=True)
def test_the_namespace_api_is_asked_with_no_transaction_open(emulator, api_key_factory):
    """A registration naming an unknown namespace asks the namespace API for its list. That
    call can take seconds: it must not run inside the Idempotency-Key's transaction, which
    would stay open across it (and then keep the namespace rows the sync locks, which every
    worker's dispatch needs, until the whole registration commits)."""
    emulator.seed([{"name": "notes", "type": "text", "items": []}])
    Namespace.objects.create(name="known", kind="text", attribution_mode="exact")
    uploader = api_key_factory("uploader", "mappings:write")
    body = {"items": [{"subject": "user-1", "namespace": "notes", "item_id": "a"}]}
    # Every API answer of the emulator comes this late; its call log has the call at once.
    emulator.control("config", {"latency_ms": 1500})
    emulator.control("calls/clear", {})
    outcome: dict[str, Any] = {}

    def register() -> None:
        try:
            connection.ensure_connection()
            outcome["pid"] = connection.connection.info.backend_pid
            outcome["response"] = uploader.post(
                "/api/v1/mappings", body, format="json", HTTP_IDEMPOTENCY_KEY="slow-1"
            )
        finally:
            connection.close()

    thread = threading.Thread(target=register)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not any(
            call["method"] == "GET" and call["path"].endswith("/namespaces")
            for call in emulator.calls()
        ):
            assert time.monotonic() < deadline, "the namespace API was never asked"
            time.sleep(0.02)
        # The list call is in flight (its answer is 1.5 s away).
        with psycopg.connect(database_url_of(connection.settings_dict["NAME"])) as other:
            locked = other.execute(
                "SELECT name FROM erasure_namespace ORDER BY name FOR UPDATE NOWAIT"
            ).fetchall()
            backends = other.execute(
                "SELECT pid, state, xact_start IS NOT NULL FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ).fetchall()
            other.rollback()
    finally:
        thread.join(timeout=30)
    assert locked == [("known",)]
    request_backend = [
        (state, in_transaction) for pid, state, in_transaction in backends if pid == outcome["pid"]
    ]
    assert request_backend == [("idle", False)], backends
    assert not [row for row in backends if row[2]], backends

    response = outcome["response"]
    assert response.status_code == 200, response.content
    assert response.json()["created"] == 1
    assert Namespace.objects.filter(name="notes").exists()
    assert IdempotencyRecord.objects.count() == 1
    emulator.control("config", {"latency_ms": 0})
    again = uploader.post("/api/v1/mappings", body, format="json", HTTP_IDEMPOTENCY_KEY="slow-1")
    assert (again.status_code, again.json()) == (200, response.json())
    assert again["Idempotent-Replayed"] == "true"
    assert ItemMapping.objects.count() == 1


@pytest.mark.parametrize(
    ("item", "field", "problem"),
    [
        ({"namespace": "notes", "item_id": "a"}, "subject", "required"),
        ({"subject": "  ", "namespace": "notes", "item_id": "a"}, "subject", "must not be empty"),
        ({"subject": ["u"], "namespace": "notes", "item_id": "a"}, "subject", "must be a string"),
        ({"subject": "u", "namespace": "n" * 201, "item_id": "a"}, "namespace", "at most 200"),
        ({"subject": "u", "namespace": "notes", "item_id": "a\x00b"}, "item_id", "NUL"),
        ({"subject": "u", "namespace": "notes", "item_id": "\ud800"}, "item_id", "surrogate"),
        (
            {"subject": "u", "namespace": "notes", "item_id": "a", "api": "x" * 65},
            "api",
            "at most 64",
        ),
    ],
)
def test_a_bad_item_is_named_by_its_place_and_field(uploader, namespaces, item, field, problem):
    items = [{"subject": "u", "namespace": "notes", "item_id": "ok"}, item]
    # As a client sends it: a lone surrogate travels as a JSON escape.
    body = json.dumps({"items": items})
    response = uploader.post("/api/v1/mappings", body, content_type="application/json")
    error = error_of(response, 400)
    assert list(error["fields"]) == [f"items[1].{field}"]
    assert problem in error["message"] and error["message"].startswith(f"items[1].{field}: ")
    assert ItemMapping.objects.count() == 0


def test_numbers_are_taken_as_text_and_whitespace_around_a_subject_is_trimmed(uploader, namespaces):
    items = [{"subject": " u ", "namespace": "notes", "item_id": 42}]
    response = uploader.post("/api/v1/mappings", {"items": items}, format="json")
    assert response.status_code == 200, response.content
    assert list(ItemMapping.objects.values_list("item_id", flat=True)) == ["42"]
    other = uploader.post(
        "/api/v1/mappings",
        {"items": [{"subject": "u", "namespace": "notes", "item_id": "42"}]},
        format="json",
    )
    assert other.json()["created"] == 0  # the same subject and item
