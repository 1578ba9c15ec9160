"""The generic static-header scheme: our documented envelope, and vymalo
keycloak-webhook's admin and self-service events."""

from __future__ import annotations

import json

import pytest

from erasure.hashing import subject_hash
from erasure.models import ErasureRequest
from tests.webhooks.conftest import filed_for, make_source, post

pytestmark = pytest.mark.django_db


def test_generic_static_header_with_a_vymalo_keycloak_payload(client):
    make_source("static_header", ["Basic a2V5Y2xvYWs6c2VjcmV0"], slug="kc-basic")
    body = json.dumps(
        {
            "type": "USER-DELETE",
            "realmId": "master",
            "id": "9c1b-0001",
            "time": 1700000000000,
            "userId": "the-admin",
            "resourcePath": "users/kc-user-9",
        }
    ).encode()
    response = post(client, "kc-basic", body, {"Authorization": "Basic a2V5Y2xvYWs6c2VjcmV0"})
    assert response.status_code == 200
    filed_for("kc-user-9")
    assert not ErasureRequest.objects.filter(subject__key_hash=subject_hash("the-admin"))


def test_generic_static_header_envelope(client):
    make_source("static_header", ["generic-secret-123"], slug="generic", header_name="X-Secret")
    body = json.dumps({"id": "evt-1", "type": "user.deleted", "data": {"id": "u-1"}}).encode()
    assert post(client, "generic", body, {"X-Secret": "generic-secret-123"}).status_code == 200
    filed_for("u-1")


def test_generic_static_header_with_a_self_service_account_deletion(client):
    # vymalo keycloak-webhook, a user deleting their own account: no resource path, the
    # user who acted is the one deleted.
    make_source("static_header", ["Basic a2V5Y2xvYWs6c2VjcmV0"], slug="kc-self")
    body = json.dumps(
        {
            "type": "DELETE_ACCOUNT",
            "realmId": "master",
            "id": "9c1b-0002",
            "time": 1700000000000,
            "userId": "kc-user-10",
        }
    ).encode()
    response = post(client, "kc-self", body, {"Authorization": "Basic a2V5Y2xvYWs6c2VjcmV0"})
    assert response.status_code == 200, response.content
    filed_for("kc-user-10")
