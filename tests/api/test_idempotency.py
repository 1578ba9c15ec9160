"""`Idempotency-Key` on every POST: the same key and body replay the first answer and
change nothing; another body or route is a 409; a call still running is a 409; a refused
call is not remembered."""

from __future__ import annotations

import threading

import psycopg
import pytest
from django.db import connection
from rest_framework.test import APIClient

from erasure.api.idempotency import lock_id
from erasure.models import ApiKey, ErasureRequest, IdempotencyRecord
from tests.api.helpers import ALL_SCOPES, error_of, written
from tests.conftest import database_url_of

pytestmark = pytest.mark.django_db

MAPPING = {"subject": "user-1", "namespace": "notes", "item_id": "a"}
OTHER_MAPPING = {"subject": "user-1", "namespace": "notes", "item_id": "b"}


@pytest.fixture
def caller(api_key_factory):
    return api_key_factory("caller", *ALL_SCOPES)


@pytest.fixture
def other(api_key_factory):
    return api_key_factory("other", *ALL_SCOPES)


def _filed_by(client) -> str:
    response = client.post("/api/v1/requests", {"subject": "user-9"}, format="json")
    assert response.status_code == 201
    return response.json()["id"]


def _case(name: str, other, emulator) -> tuple[str, dict, dict]:
    """(path, body, another body) of one POST operation, with what it needs to succeed."""
    if name in ("mappings", "mappings/remove"):
        emulator.seed([{"name": "notes", "type": "text", "items": []}])
        if name == "mappings/remove":
            registered = other.post("/api/v1/mappings", {"items": [MAPPING]}, format="json")
            assert registered.status_code == 200
        return f"/api/v1/{name}", {"items": [MAPPING]}, {"items": [OTHER_MAPPING]}
    if name == "aliases":
        item = {"subject": "user-1", "kind": "email", "alias": "a@example.com"}
        return "/api/v1/aliases", {"items": [item]}, {"items": [{**item, "alias": "b@x.org"}]}
    if name == "requests":
        return "/api/v1/requests", {"subject": "user-1"}, {"subject": "user-2"}
    request_id = _filed_by(other)
    if name == "retry":
        ErasureRequest.objects.filter(pk=request_id).update(status="completed_with_failures")
    if name == "cancel":
        return f"/api/v1/requests/{request_id}/cancel", {"reason": "a"}, {"reason": "b"}
    return f"/api/v1/requests/{request_id}/{name}", {}, {"extra": 1}


OPERATIONS = ["mappings", "mappings/remove", "aliases", "requests", "approve", "cancel", "retry"]


@pytest.mark.parametrize("name", OPERATIONS)
def test_same_key_and_body_replays_the_first_answer_and_changes_nothing(
    caller, other, emulator, name
):
    path, body, another = _case(name, other, emulator)
    headers = {"HTTP_IDEMPOTENCY_KEY": f"key-{name}"}
    first = caller.post(path, body, format="json", **headers)
    assert 200 <= first.status_code < 300, first.content
    assert "Idempotent-Replayed" not in first
    after_first = written()
    again = caller.post(path, body, format="json", **headers)
    assert (again.status_code, again.json()) == (first.status_code, first.json())
    assert again["Idempotent-Replayed"] == "true"
    assert written() == after_first
    conflict = caller.post(path, another, format="json", **headers)
    assert error_of(conflict, 409)["code"] == "conflict"
    assert "different body" in conflict.json()["error"]["message"]
    assert written() == after_first


@pytest.mark.parametrize("name", OPERATIONS)
def test_without_the_header_nothing_is_remembered(caller, other, emulator, name):
    path, body, _ = _case(name, other, emulator)
    assert 200 <= caller.post(path, body, format="json").status_code < 300
    assert IdempotencyRecord.objects.count() == 0


def test_the_same_key_on_another_route_is_a_conflict(caller):
    headers = {"HTTP_IDEMPOTENCY_KEY": "k1"}
    created = caller.post("/api/v1/requests", {"subject": "user-1"}, format="json", **headers)
    assert created.status_code == 201
    before = written()
    response = caller.post(
        f"/api/v1/requests/{created.json()['id']}/cancel", {}, format="json", **headers
    )
    assert "another call (POST /api/v1/requests)" in error_of(response, 409)["message"]
    assert written() == before


def test_keys_belong_to_one_api_key(caller, other):
    headers = {"HTTP_IDEMPOTENCY_KEY": "shared"}
    mine = caller.post("/api/v1/requests", {"subject": "user-1"}, format="json", **headers)
    theirs = other.post("/api/v1/requests", {"subject": "user-2"}, format="json", **headers)
    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert ErasureRequest.objects.count() == 2


def test_a_refused_call_is_not_remembered(caller):
    headers = {"HTTP_IDEMPOTENCY_KEY": "k1"}
    refused = caller.post("/api/v1/requests", {"subject": ""}, format="json", **headers)
    error_of(refused, 400)
    assert IdempotencyRecord.objects.count() == 0
    fixed = caller.post("/api/v1/requests", {"subject": "user-1"}, format="json", **headers)
    assert fixed.status_code == 201


def test_a_failed_effect_leaves_no_record_behind(caller, emulator, settings):
    """The record is written in the transaction of the effect: a 503 keeps neither."""
    emulator.seed([{"name": "notes", "type": "text", "items": []}])
    url = settings.NAMESPACE_API_URL
    settings.NAMESPACE_API_URL = "http://127.0.0.1:9/v1"
    settings.NAMESPACE_API_TIMEOUT = 1
    headers = {"HTTP_IDEMPOTENCY_KEY": "k1"}
    body = {"items": [MAPPING]}
    error_of(caller.post("/api/v1/mappings", body, format="json", **headers), 503)
    assert IdempotencyRecord.objects.count() == 0
    settings.NAMESPACE_API_URL = url
    assert caller.post("/api/v1/mappings", body, format="json", **headers).status_code == 200
    assert IdempotencyRecord.objects.count() == 1


def test_json_key_order_and_white_space_are_the_same_body(caller):
    headers = {"HTTP_IDEMPOTENCY_KEY": "k1"}
    first = caller.post(
        "/api/v1/requests",
        b'{"subject": "user-1", "regulation": "gdpr"}',
        content_type="application/json",
        **headers,
    )
    again = caller.post(
        "/api/v1/requests",
        b'{"regulation":"gdpr","subject":"user-1"}',
        content_type="application/json",
        **headers,
    )
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"


def test_a_key_longer_than_200_characters_is_400(caller):
    response = caller.post(
        "/api/v1/requests", {"subject": "u"}, format="json", HTTP_IDEMPOTENCY_KEY="k" * 201
    )
    assert "Idempotency-Key" in error_of(response, 400)["fields"]
    assert ErasureRequest.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_a_repeat_while_the_first_call_runs_is_409_in_progress(caller):
    """Another session holds the key's lock, as a first call still running does."""
    key = ApiKey.objects.get(name="caller")
    with psycopg.connect(database_url_of(connection.settings_dict["NAME"])) as other_session:
        other_session.execute(
            "SELECT pg_advisory_xact_lock(%s)", [lock_id(api_key_id=key.pk, key="k1")]
        )
        response = caller.post(
            "/api/v1/requests", {"subject": "user-1"}, format="json", HTTP_IDEMPOTENCY_KEY="k1"
        )
        error = error_of(response, 409)
        assert error["code"] == "idempotency_in_progress"
        assert "still in progress" in error["message"]
        assert ErasureRequest.objects.count() == 0
        other_session.rollback()
    done = caller.post(
        "/api/v1/requests", {"subject": "user-1"}, format="json", HTTP_IDEMPOTENCY_KEY="k1"
    )
    assert done.status_code == 201


@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicates_run_the_effect_once(caller):
    results: list[int] = []
    barrier = threading.Barrier(4)

    def post() -> None:
        # A client per thread (a test client is not meant to be shared), same API key.
        client = APIClient()
        client.credentials(**caller._credentials)
        try:
            barrier.wait()
            response = client.post(
                "/api/v1/mappings/remove",
                {"items": [MAPPING]},
                format="json",
                HTTP_IDEMPOTENCY_KEY="race",
            )
            results.append(response.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 4
    assert set(results) <= {200, 409}
    assert 200 in results
    assert IdempotencyRecord.objects.count() == 1
    from erasure.models import AuditEvent

    assert AuditEvent.objects.filter(event_type="mappings.removed").count() == 1


def test_records_older_than_the_retention_can_be_pruned(caller):
    from datetime import timedelta

    from django.utils import timezone

    from erasure.services.idempotency import RETENTION, idempotency_records_prune

    for key in ("old", "new"):
        caller.post(
            "/api/v1/requests", {"subject": f"user-{key}"}, format="json", HTTP_IDEMPOTENCY_KEY=key
        )
    IdempotencyRecord.objects.filter(key="old").update(
        created_at=timezone.now() - RETENTION - timedelta(minutes=1)
    )
    assert idempotency_records_prune() == 1
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["new"]


def test_a_body_with_a_lone_surrogate_is_400_not_500(caller):
    response = caller.post(
        "/api/v1/requests",
        b'{"subject": "\\ud800"}',
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="k1",
    )
    assert "subject" in error_of(response, 400)["fields"]
    assert ErasureRequest.objects.count() == 0


def test_a_stored_answer_is_found_before_the_namespace_api_is_asked(caller, emulator, settings):
    """The key's stored answer is looked for before the preparing step (which may ask the
    namespace API): a reused key is a 409 even when that API is down."""
    emulator.seed([{"name": "notes", "type": "text", "items": []}])
    headers = {"HTTP_IDEMPOTENCY_KEY": "k1"}
    first = caller.post("/api/v1/mappings", {"items": [MAPPING]}, format="json", **headers)
    assert first.status_code == 200
    settings.NAMESPACE_API_URL = "http://127.0.0.1:9/v1"
    settings.NAMESPACE_API_TIMEOUT = 1
    emulator.control("calls/clear", {})
    before = written()
    unknown = {"items": [{**MAPPING, "namespace": "not-known-yet"}]}
    conflict = caller.post("/api/v1/mappings", unknown, format="json", **headers)
    assert error_of(conflict, 409)["code"] == "conflict"
    again = caller.post("/api/v1/mappings", {"items": [MAPPING]}, format="json", **headers)
    assert (again.status_code, again.json()) == (200, first.json())
    assert written() == before
