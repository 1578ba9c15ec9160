"""Every operation of the API: 401 without a valid key (missing, unknown, revoked), 403
without its scope, and the error shape; a key's use is recorded at most once a minute."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from erasure.actors import Actor
from erasure.models import ApiKey, AuditEvent, AuditEventType
from erasure.services.api_keys import api_key_create, api_key_revoke
from tests.api.helpers import ALL_SCOPES, error_of, written

pytestmark = pytest.mark.django_db

RID = str(uuid.uuid4())
# (method, path, the scopes of which one is needed)
OPERATIONS = [
    ("post", "/api/v1/mappings", ("mappings:write",)),
    ("post", "/api/v1/mappings/remove", ("mappings:write",)),
    ("post", "/api/v1/aliases", ("mappings:write",)),
    ("get", "/api/v1/requests", ("requests:write", "requests:approve", "audit:read")),
    ("post", "/api/v1/requests", ("requests:write",)),
    ("get", f"/api/v1/requests/{RID}", ("requests:write", "requests:approve", "audit:read")),
    ("post", f"/api/v1/requests/{RID}/approve", ("requests:approve",)),
    ("post", f"/api/v1/requests/{RID}/cancel", ("requests:write",)),
    ("post", f"/api/v1/requests/{RID}/retry", ("requests:write",)),
    ("get", f"/api/v1/requests/{RID}/items", ("requests:write", "requests:approve", "audit:read")),
    ("get", "/api/v1/namespaces", ALL_SCOPES),
    ("patch", "/api/v1/namespaces/notes", ("requests:approve",)),
    ("get", "/api/v1/namespaces/notes/coverage", ALL_SCOPES),
    ("post", "/api/v1/namespaces/notes/scans", ("requests:approve",)),
    ("get", "/api/v1/namespaces/notes/findings", ("audit:read",)),
    ("post", "/api/v1/replays", ("requests:approve",)),
    ("get", "/api/v1/replays/1", ("requests:write", "requests:approve", "audit:read")),
    ("get", "/api/v1/audit/export", ("audit:read",)),
    ("get", "/api/v1/audit/verify", ("audit:read",)),
    ("post", f"/api/v1/requests/{RID}/hold", ("requests:approve",)),
    ("post", f"/api/v1/requests/{RID}/release", ("requests:approve",)),
    ("post", f"/api/v1/requests/{RID}/deadline", ("requests:approve",)),
    ("post", f"/api/v1/requests/{RID}/deadline/pause", ("requests:approve",)),
    ("post", f"/api/v1/requests/{RID}/deadline/resume", ("requests:approve",)),
    (
        "get",
        f"/api/v1/requests/{RID}/certificate",
        ("requests:write", "requests:approve", "audit:read"),
    ),
    (
        "get",
        f"/api/v1/requests/{RID}/evidence",
        ("requests:write", "requests:approve", "audit:read"),
    ),
    ("get", "/api/v1/audit/proof/inclusion", ("audit:read",)),
    ("get", "/api/v1/audit/proof/consistency", ("audit:read",)),
    ("get", "/api/v1/audit/evidence", ("audit:read",)),
]
# Published for anyone to check against: no key, nothing secret.
PUBLIC_OPERATIONS = [
    ("get", "/api/v1/audit/checkpoint"),
    ("get", "/api/v1/audit/public-keys"),
]
BODY = {"items": [{"subject": "u", "namespace": "notes", "item_id": "a"}]}


def _call(client: APIClient, method: str, path: str):
    if method == "get":
        return client.get(path)
    return getattr(client, method)(path, BODY, format="json")


def _client(raw: str | None) -> APIClient:
    client = APIClient()
    if raw is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def test_the_table_names_every_operation_of_the_schema(client):
    import yaml

    schema = yaml.safe_load(client.get("/api/v1/schema/").content)
    documented = {(m, p) for p, ops in schema["paths"].items() for m in ops}
    tested = {
        (
            m,
            p.replace(RID, "{request_id}")
            .replace("/notes", "/{name}")
            .replace("/replays/1", "/replays/{replay_id}"),
        )
        for m, p, _ in OPERATIONS
    }
    assert tested | set(PUBLIC_OPERATIONS) == documented


@pytest.mark.parametrize(("method", "path"), PUBLIC_OPERATIONS)
def test_public_operations_answer_without_a_key_and_are_not_401(method, path):
    response = _call(_client(None), method, path)
    assert response.status_code in (200, 404), response.content
    assert "WWW-Authenticate" not in response


@pytest.mark.parametrize(("method", "path", "scopes"), OPERATIONS)
def test_missing_unknown_and_revoked_keys_are_401(method, path, scopes):
    key, raw = api_key_create(name="all", scopes=ALL_SCOPES, actor=Actor.system("test"))
    api_key_revoke(key=key, actor=Actor.system("test"))
    before = written()
    for client, message in [
        (_client(None), "an API key is required"),
        (_client("esk_not-a-key"), "invalid or revoked API key"),
        (_client(raw), "invalid or revoked API key"),
    ]:
        response = _call(client, method, path)
        error = error_of(response, 401)
        assert message in error["message"]
        assert response["WWW-Authenticate"] == "Bearer"
    assert written() == before


@pytest.mark.parametrize(
    ("method", "path", "scopes"), [op for op in OPERATIONS if set(op[2]) != set(ALL_SCOPES)]
)
def test_a_key_without_the_scope_is_403(method, path, scopes):
    others = [s for s in ALL_SCOPES if s not in scopes]
    _, raw = api_key_create(name="other", scopes=others, actor=Actor.system("test"))
    before = written()
    error = error_of(_call(_client(raw), method, path), 403)
    assert all(scope in error["message"] for scope in scopes)
    assert written() == before


def test_a_revoked_key_stops_working_at_once():
    key, raw = api_key_create(name="k", scopes=["audit:read"], actor=Actor.system("test"))
    client = _client(raw)
    assert client.get("/api/v1/requests").status_code == 200
    api_key_revoke(key=key, actor=Actor.system("test"))
    error_of(client.get("/api/v1/requests"), 401)
    event = AuditEvent.objects.filter(event_type=AuditEventType.API_KEY_REVOKED).get()
    assert event.details == {"name": "k", "prefix": key.prefix}


def test_revoking_twice_is_a_conflict_and_records_one_event():
    from erasure.errors import Conflict

    key, _ = api_key_create(name="k", scopes=["audit:read"], actor=Actor.system("test"))
    api_key_revoke(key=key, actor=Actor.system("test"))
    with pytest.raises(Conflict):
        api_key_revoke(key=ApiKey.objects.get(pk=key.pk), actor=Actor.system("test"))
    assert AuditEvent.objects.filter(event_type=AuditEventType.API_KEY_REVOKED).count() == 1


def test_last_use_is_recorded_at_most_once_a_minute():
    key, raw = api_key_create(name="k", scopes=["audit:read"], actor=Actor.system("test"))
    assert key.last_used_at is None
    client = _client(raw)
    client.get("/api/v1/requests")
    first = ApiKey.objects.get(pk=key.pk).last_used_at
    assert first is not None
    client.get("/api/v1/requests")
    assert ApiKey.objects.get(pk=key.pk).last_used_at == first
    # A minute later, the next use is recorded.
    ApiKey.objects.filter(pk=key.pk).update(last_used_at=first - timedelta(seconds=61))
    client.get("/api/v1/requests")
    assert ApiKey.objects.get(pk=key.pk).last_used_at > first - timedelta(seconds=1)
    assert ApiKey.objects.get(pk=key.pk).last_used_at <= timezone.now()
