"""Each provider's documented deletion delivery, signed as the provider signs it, files
one request through /webhooks/<slug>/; its other events are acknowledged and ignored."""

from __future__ import annotations

import json

import pytest

from erasure.hashing import subject_hash
from erasure.models import AuditEvent, ErasureRequest
from tests.webhooks import payloads
from tests.webhooks.conftest import (
    VECTOR_SECRET,
    keycloak_signature,
    make_source,
    post,
    standard_headers,
    workos_header,
)
from webhooks.models import WebhookDelivery

pytestmark = pytest.mark.django_db

OKTA_SECRET = "Basic YWRtaW46c3VwZXJzZWNyZXQ="
AUTH0_SECRET = "Bearer auth0-stream-token-1234"
WORKOS_SECRET = "test_workos_secret"
KEYCLOAK_SECRET = "A3jt6D8lz-keycloak"


def filed_for(user_id: str) -> ErasureRequest:
    return ErasureRequest.objects.get(subject__key_hash=subject_hash(user_id))


def nothing_written() -> bool:
    return (
        not ErasureRequest.objects.exists()
        and not WebhookDelivery.objects.exists()
        and not AuditEvent.objects.exists()
    )


@pytest.mark.parametrize("prefix", ["svix", "webhook"])
def test_clerk_user_deleted_files_one_request(client, prefix):
    make_source("standard_webhooks", [VECTOR_SECRET], slug="clerk")
    body = payloads.CLERK_USER_DELETED
    headers = standard_headers(VECTOR_SECRET, "msg_2Lh9KRb0pzN4LePd3XiA4ivmzh", body, prefix=prefix)

    response = post(client, "clerk", body, headers)

    assert response.status_code == 200, response.content
    assert response.json()["outcomes"] == {"filed": 1}
    request = filed_for(payloads.CLERK_USER_ID)
    assert (request.status, request.source, request.regulation) == (
        "awaiting_approval",
        "webhook",
        "gdpr",
    )
    delivery = WebhookDelivery.objects.get()
    assert (delivery.delivery_id, delivery.event_type, delivery.request_id) == (
        "msg_2Lh9KRb0pzN4LePd3XiA4ivmzh",
        "user.deleted",
        request.pk,
    )
    filed = AuditEvent.objects.get(event_type="request.filed")
    assert filed.actor == "webhook:clerk"


def test_official_vector_secret_signs_a_live_delivery(client):
    # The vector's own timestamp is years old (stale, see test_schemes); its secret and
    # message id signed now make a valid delivery; its payload has no event type.
    make_source("standard_webhooks", [VECTOR_SECRET], slug="vector")
    body = b'{"test": 2432232314}'
    headers = standard_headers(VECTOR_SECRET, "msg_p5jXN8AQM9LWM0D4loKWxJek", body)
    response = post(client, "vector", body, headers)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed"
    assert nothing_written()


def test_clerk_user_updated_is_acknowledged_and_ignored(client):
    make_source("standard_webhooks", [VECTOR_SECRET], slug="clerk")
    body = payloads.clerk("user.updated", "user_1")
    response = post(client, "clerk", body, standard_headers(VECTOR_SECRET, "msg_1", body))
    assert response.status_code == 200
    assert response.json()["outcomes"] == {"ignored": 1}
    assert nothing_written()


def test_okta_verification_challenge_is_echoed_to_the_configured_sender(client):
    # The GET of Okta's support article "Unable to verify event hook", header for header.
    make_source("okta", ["my-shared-secret"])
    challenge = "Me_rShK8JHsTnbyYrWXCEoMGbM_zsZ6k0hLPZ_Pg"
    headers = {
        "User-Agent": "Okta-Integrations",
        "Accept": "application/json",
        "X-Okta-Request-Id": "XOZfPkReFFZ10KWyGkzAMwAAADA",
        "X-Okta-Verification-Challenge": challenge,
        "x-any-key": "my-header-value",
        "Authorization": "my-shared-secret",
    }
    response = client.get("/webhooks/okta/", headers=headers)
    assert response.status_code == 200
    assert response.json() == {"verification": challenge}

    refused = client.get("/webhooks/okta/", headers={**headers, "Authorization": "guess"})
    assert refused.status_code == 401
    assert challenge not in refused.content.decode()
    assert nothing_written()


def test_okta_batch_files_per_event_and_ignores_the_rest(client):
    make_source("okta", [OKTA_SECRET])
    body = payloads.okta(
        payloads.okta_event("user.session.start", "e-1", "00u-session", "s@example.com"),
        payloads.okta_event(
            "user.lifecycle.delete.initiated", "e-2", "00u3m90rxKjGQ0G6L1d6", "john@example.com"
        ),
        payloads.okta_event("user.lifecycle.delete.initiated", "e-3", "00u-other", "o@example.com"),
        payloads.okta_event("user.lifecycle.deactivate", "e-4", "00u-deact", "d@example.com"),
    )
    response = post(client, "okta", body, {"Authorization": OKTA_SECRET})
    assert response.status_code == 200
    assert response.json()["outcomes"] == {"filed": 2, "ignored": 2}
    # The target of type User, never the actor (the admin).
    filed_for("00u3m90rxKjGQ0G6L1d6")
    filed_for("00u-other")
    assert not ErasureRequest.objects.filter(subject__key_hash=subject_hash("00uz9fj5aT69fHVro1d6"))
    assert set(WebhookDelivery.objects.values_list("delivery_id", flat=True)) == {"e-2", "e-3"}

    # Okta retries the whole batch at most once: every event is now a duplicate.
    again = post(client, "okta", body, {"Authorization": OKTA_SECRET})
    assert again.json()["outcomes"] == {"duplicate": 2, "ignored": 2}
    assert ErasureRequest.objects.count() == 2


def test_okta_custom_header_name(client):
    make_source("okta", ["hook-shared-secret"], header_name="X-Okta-Hook-Secret")
    body = payloads.okta(
        payloads.okta_event("user.lifecycle.delete.initiated", "e-1", "00u1", "a@example.com")
    )
    assert post(client, "okta", body, {"Authorization": "hook-shared-secret"}).status_code == 401
    ok = post(client, "okta", body, {"X-Okta-Hook-Secret": "hook-shared-secret"})
    assert ok.status_code == 200
    filed_for("00u1")


@pytest.mark.parametrize("content_format", ["JSONARRAY", "JSONLINES", "JSONOBJECT"])
def test_auth0_log_stream_sdu_files_a_request(client, content_format):
    make_source("auth0", [AUTH0_SECRET])
    entries = [
        payloads.auth0_entry("s", "90020240501100000000000000000000000000000000001", "auth0|login"),
        payloads.auth0_entry("sdu", "90020240501100000000000000000000000000000000002", "auth0|6a1"),
    ]
    if content_format == "JSONARRAY":
        body = json.dumps(entries).encode()
    elif content_format == "JSONLINES":
        body = "\n".join(json.dumps(e) for e in entries).encode() + b"\n"
    else:
        entries = entries[1:]
        body = json.dumps(entries[0]).encode()
    response = post(client, "auth0", body, {"Authorization": AUTH0_SECRET})
    assert response.status_code == 200, response.content
    assert response.json()["outcomes"]["filed"] == 1
    filed_for("auth0|6a1")
    assert ErasureRequest.objects.count() == 1
    assert WebhookDelivery.objects.get().delivery_id.endswith("0002")


@pytest.mark.parametrize("event_type", ["user.deleted", "dsync.user.deleted"])
def test_workos_deletions_file_a_request(client, event_type):
    make_source("workos", [WORKOS_SECRET])
    body = payloads.workos(event_type, "event_01HQ", "user_01HQ", state="active")
    response = post(
        client, "workos", body, {"WorkOS-Signature": workos_header(WORKOS_SECRET, body)}
    )
    assert response.status_code == 200
    assert response.json()["outcomes"] == {"filed": 1}
    filed_for("user_01HQ")
    assert WebhookDelivery.objects.get().delivery_id == "event_01HQ"


def test_workos_stale_signature_is_refused(client):
    make_source("workos", [WORKOS_SECRET])
    body = payloads.workos("user.deleted", "event_01HQ", "user_01HQ")
    import time

    old = int(time.time() * 1000) - 181_000
    header = workos_header(WORKOS_SECRET, body, timestamp_ms=old)
    assert post(client, "workos", body, {"WorkOS-Signature": header}).status_code == 401
    assert nothing_written()


def test_keycloak_admin_user_delete_takes_the_user_from_resource_path(client):
    make_source("keycloak", [KEYCLOAK_SECRET])
    body = payloads.keycloak_admin("DELETE", "uid-1", "11111111-2222-3333-4444-555555555555")
    headers = {"X-Keycloak-Signature": keycloak_signature(KEYCLOAK_SECRET, body)}
    response = post(client, "keycloak", body, headers)
    assert response.status_code == 200
    filed_for("11111111-2222-3333-4444-555555555555")
    # Never the admin in authDetails.
    assert ErasureRequest.objects.count() == 1
    assert not ErasureRequest.objects.filter(subject__key_hash=subject_hash("admin-0000"))


def test_keycloak_self_service_delete_account(client):
    make_source("keycloak", [KEYCLOAK_SECRET])
    body = payloads.keycloak_access("DELETE_ACCOUNT", "uid-2", "kc-user-2")
    headers = {"X-Keycloak-Signature": keycloak_signature(KEYCLOAK_SECRET, body)}
    assert post(client, "keycloak", body, headers).status_code == 200
    filed_for("kc-user-2")


def test_keycloak_signature_of_another_body_is_refused(client):
    make_source("keycloak", [KEYCLOAK_SECRET])
    body = payloads.keycloak_admin("DELETE", "uid-1", "victim")
    other = payloads.keycloak_admin("DELETE", "uid-1", "someone-else")
    headers = {"X-Keycloak-Signature": keycloak_signature(KEYCLOAK_SECRET, other)}
    assert post(client, "keycloak", body, headers).status_code == 401
    assert nothing_written()


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


def test_auth0_same_log_id_twice_in_one_batch_counts_once(client):
    make_source("auth0", [AUTH0_SECRET])
    entry = payloads.auth0_entry("sdu", "900202405011", "auth0|dup")
    body = json.dumps([entry, entry]).encode()
    response = post(client, "auth0", body, {"Authorization": AUTH0_SECRET})
    assert response.json()["outcomes"] == {"filed": 1, "duplicate": 1}
    assert WebhookDelivery.objects.count() == 1


def test_okta_get_without_a_challenge_and_other_schemes_get_are_405(client):
    make_source("okta", [OKTA_SECRET])
    make_source("workos", [WORKOS_SECRET])
    assert client.get("/webhooks/okta/", headers={"Authorization": OKTA_SECRET}).status_code == 405
    challenge = {"X-Okta-Verification-Challenge": "abc", "Authorization": OKTA_SECRET}
    assert client.get("/webhooks/workos/", headers=challenge).status_code == 405


def test_okta_wrong_secret_is_401_and_writes_nothing(client):
    make_source("okta", [OKTA_SECRET])
    body = payloads.okta(
        payloads.okta_event("user.lifecycle.delete.initiated", "e-1", "00u1", "a@example.com")
    )
    assert post(client, "okta", body, {"Authorization": OKTA_SECRET + "x"}).status_code == 401
    assert post(client, "okta", body, {}).status_code == 401
    assert nothing_written()


def test_auth0_event_streams_cloud_event_user_deleted(client):
    make_source("auth0", [AUTH0_SECRET], slug="auth0-events")
    body = json.dumps(
        {
            "id": "evt_6SfwXrtm8nVcjzzNCFFH1L",
            "source": "urn:auth0:acme.auth0.com",
            "specversion": "1.0",
            "type": "user.deleted",
            "time": "2025-02-02T17:56:01.573Z",
            "data": {
                "object": {
                    "user_id": "auth0|679fb1b1e809445f129bc18d",
                    "email": "jane@example.com",
                    "created_at": "2025-02-01T10:00:00.000Z",
                    "updated_at": "2025-02-01T10:00:00.000Z",
                    "deleted_at": "2025-02-02T17:56:01.000Z",
                    "identities": [],
                }
            },
            "a0tenant": "acme",
            "a0stream": "est_38ANnv8pQhqsZrX2VFbftv",
        }
    ).encode()
    response = post(client, "auth0-events", body, {"Authorization": AUTH0_SECRET})
    assert response.json()["outcomes"] == {"filed": 1}
    filed_for("auth0|679fb1b1e809445f129bc18d")
    assert WebhookDelivery.objects.get().delivery_id == "evt_6SfwXrtm8nVcjzzNCFFH1L"


def test_okta_batch_with_an_unreadable_event_still_files_the_good_ones(client):
    # Okta does not retry a 4xx: refusing the batch would lose its good events too.
    make_source("okta", [OKTA_SECRET])
    broken = payloads.okta_event("user.lifecycle.delete.initiated", "e-1", "00u1", "a@x.org")
    del broken["uuid"]
    no_user = payloads.okta_event("user.lifecycle.delete.initiated", "e-2", "00u2", "b@x.org")
    no_user["target"] = [{"id": "0oa1", "type": "AppInstance"}]
    good = payloads.okta_event("user.lifecycle.delete.initiated", "e-3", "00u3", "c@x.org")
    body = payloads.okta(broken, no_user, good)
    response = post(client, "okta", body, {"Authorization": OKTA_SECRET})
    assert response.status_code == 200
    assert response.json()["outcomes"] == {"malformed": 2, "filed": 1}
    filed_for("00u3")
    assert ErasureRequest.objects.count() == 1


def test_auth0_batch_with_no_readable_entry_is_400(client):
    make_source("auth0", [AUTH0_SECRET])
    body = json.dumps([{"data": {"type": "sdu", "user_id": "auth0|1"}}] * 2).encode()
    response = post(client, "auth0", body, {"Authorization": AUTH0_SECRET})
    assert response.status_code == 400
    assert "log_id" in response.json()["error"]["message"]
    assert nothing_written()


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
