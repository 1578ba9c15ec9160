"""The answer to every kind of bad or repeated delivery, and that refusals write nothing."""

from __future__ import annotations

import json
import logging
import time

import pytest

from erasure.hashing import subject_hash
from erasure.models import AuditEvent, ErasureRequest
from tests.webhooks import payloads
from tests.webhooks.conftest import (
    VECTOR_SECRET,
    keycloak_signature,
    make_source,
    nothing_written,
    outcomes,
    post,
    standard_headers,
    workos_header,
)
from webhooks.models import WebhookDelivery, WebhookSecret
from webhooks.services import deliveries_process
from webhooks.views import MAX_BODY_BYTES

pytestmark = pytest.mark.django_db

OTHER_SECRET = "whsec_QUJDREVGR0hJSktMTU5PUFFSU1RVVldY"


@pytest.fixture
def clerk_source():
    return make_source("standard_webhooks", [VECTOR_SECRET], slug="clerk")


def deletion(user_id: str = "user_1") -> bytes:
    return payloads.clerk("user.deleted", user_id)


def test_unknown_source_is_404_and_writes_nothing(client, clerk_source):
    body = deletion()
    response = post(client, "nobody", body, standard_headers(VECTOR_SECRET, "msg_1", body))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert nothing_written()


def test_disabled_source_answers_like_an_unknown_one(client, clerk_source):
    clerk_source.enabled = False
    clerk_source.save()
    body = deletion()
    assert (
        post(client, "clerk", body, standard_headers(VECTOR_SECRET, "m", body)).status_code == 404
    )
    assert nothing_written()


def test_forged_signature_is_401_and_writes_nothing(client, clerk_source):
    body = deletion()
    headers = standard_headers(OTHER_SECRET, "msg_1", body)
    response = post(client, "clerk", body, headers)
    assert response.status_code == 401
    assert set(response.json()["error"]) == {"code", "message", "fields"}
    assert nothing_written()


def test_missing_signature_headers_are_401(client, clerk_source):
    assert post(client, "clerk", deletion(), {}).status_code == 401
    assert nothing_written()


@pytest.mark.parametrize("age", [301, -301])
def test_stale_or_future_timestamp_is_401(client, clerk_source, age):
    body = deletion()
    headers = standard_headers(VECTOR_SECRET, "msg_1", body, timestamp=int(time.time()) - age)
    assert post(client, "clerk", body, headers).status_code == 401
    assert nothing_written()


def test_replayed_delivery_is_200_and_creates_nothing_more(client, clerk_source):
    body = deletion()
    headers = standard_headers(VECTOR_SECRET, "msg_1", body)
    first = post(client, "clerk", body, headers)
    events_after_first = AuditEvent.objects.count()
    replay = post(client, "clerk", body, headers)
    assert (first.status_code, replay.status_code) == (200, 200)
    assert outcomes(replay) == {"duplicate": 1}
    assert ErasureRequest.objects.count() == 1
    assert WebhookDelivery.objects.count() == 1
    assert AuditEvent.objects.count() == events_after_first


def test_retry_of_a_delivery_with_a_new_timestamp_is_a_duplicate(client, clerk_source):
    # Standard Webhooks retries keep webhook-id and re-sign with a new timestamp.
    body = deletion()
    post(client, "clerk", body, standard_headers(VECTOR_SECRET, "msg_1", body))
    later = standard_headers(VECTOR_SECRET, "msg_1", body, timestamp=int(time.time()) + 60)
    assert outcomes(post(client, "clerk", body, later)) == {"duplicate": 1}
    assert ErasureRequest.objects.count() == 1


def test_another_delivery_for_an_open_request_files_nothing_new(client, clerk_source):
    body = deletion()
    post(client, "clerk", body, standard_headers(VECTOR_SECRET, "msg_1", body))
    second = post(client, "clerk", body, standard_headers(VECTOR_SECRET, "msg_2", body))
    assert outcomes(second) == {"already_open": 1}
    request = ErasureRequest.objects.get()
    assert set(WebhookDelivery.objects.values_list("request_id", flat=True)) == {request.pk}


def test_malformed_json_after_a_valid_signature_is_400_and_writes_nothing(client, clerk_source):
    body = b'{"type": "user.deleted", "data": {"id": '
    response = post(client, "clerk", body, standard_headers(VECTOR_SECRET, "msg_1", body))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed"
    assert nothing_written()


def test_malformed_json_with_a_bad_signature_is_401(client, clerk_source):
    body = b"not json"
    assert post(client, "clerk", body, standard_headers(OTHER_SECRET, "m", body)).status_code == 401


@pytest.mark.parametrize(
    "payload",
    [
        [1, 2],
        {"data": {"id": "user_1"}},
        {"type": "user.deleted", "data": {"deleted": True}},
        {"type": "user.deleted", "data": {"id": ["user_1"]}},
        {"type": "user.deleted", "data": {"id": "u" * 513}},
        {"type": "user.deleted", "data": {"id": "   "}},
    ],
)
def test_verified_body_of_the_wrong_shape_is_400(client, clerk_source, payload):
    body = json.dumps(payload).encode()
    response = post(client, "clerk", body, standard_headers(VECTOR_SECRET, "msg_1", body))
    assert response.status_code == 400
    assert nothing_written()


def test_event_type_with_a_line_break_is_400_and_never_logged(client, clerk_source, caplog):
    body = json.dumps({"type": "user.deleted\nINFO forged line", "data": {"id": "u"}}).encode()
    response = post(client, "clerk", body, standard_headers(VECTOR_SECRET, "msg_1", body))
    assert response.status_code == 400
    assert "forged line" not in caplog.text
    assert nothing_written()


def test_delivery_id_longer_than_the_key_column_is_400(client, clerk_source):
    body = deletion()
    response = post(client, "clerk", body, standard_headers(VECTOR_SECRET, "m" * 201, body))
    assert response.status_code == 400
    assert nothing_written()


def test_oversized_body_is_413_and_writes_nothing(client, clerk_source):
    body = b'{"type":"user.deleted","data":{"id":"u","pad":"' + b"x" * MAX_BODY_BYTES + b'"}}'
    response = post(client, "clerk", body, standard_headers(VECTOR_SECRET, "msg_1", body))
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"
    assert nothing_written()


def test_body_just_under_the_limit_is_accepted(client, clerk_source):
    head, tail = b'{"type":"user.deleted","data":{"id":"user_1","pad":"', b'"}}'
    body = head + b"x" * (MAX_BODY_BYTES - len(head) - len(tail)) + tail
    assert len(body) == MAX_BODY_BYTES
    assert (
        post(client, "clerk", body, standard_headers(VECTOR_SECRET, "m", body)).status_code == 200
    )


def test_rotation_old_and_new_secret_both_verify_until_revoked(client, clerk_source):
    WebhookSecret.objects.create(source=clerk_source, value=OTHER_SECRET, prefix="whsec_")
    for n, secret in enumerate([VECTOR_SECRET, OTHER_SECRET]):
        body = deletion(f"user_{n}")
        assert (
            post(client, "clerk", body, standard_headers(secret, f"m{n}", body)).status_code == 200
        )
    WebhookSecret.objects.filter(value=VECTOR_SECRET).update(active=False, revoked_at=time_now())
    body = deletion("user_9")
    assert (
        post(client, "clerk", body, standard_headers(VECTOR_SECRET, "m9", body)).status_code == 401
    )
    assert ErasureRequest.objects.count() == 2


def time_now():
    from django.utils import timezone

    return timezone.now()


@pytest.mark.parametrize("method", ["get", "put", "delete", "patch"])
def test_other_methods_are_405_never_410(client, clerk_source, method):
    response = getattr(client, method)("/webhooks/clerk/")
    assert response.status_code == 405
    assert response.status_code != 410


def test_relevant_event_without_a_user_is_400(client):
    make_source("okta", ["okta-secret-value"])
    event = payloads.okta_event("user.lifecycle.delete.initiated", "e-1", "x", "x@example.com")
    event["target"] = [{"id": "0oa1", "type": "AppInstance"}]
    body = payloads.okta(event)
    assert post(client, "okta", body, {"Authorization": "okta-secret-value"}).status_code == 400
    assert nothing_written()


def test_no_log_line_carries_the_body_or_the_user(client, clerk_source, caplog):
    caplog.set_level(logging.DEBUG)
    body = payloads.clerk("user.deleted", "user_secret_identity")
    post(client, "clerk", body, standard_headers(VECTOR_SECRET, "msg_1", body))
    post(client, "clerk", body, standard_headers(OTHER_SECRET, "msg_2", body))
    post(client, "clerk", b"{broken", standard_headers(VECTOR_SECRET, "msg_3", b"{broken"))
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "msg_1" in text  # the delivery id is what the logs identify a delivery by
    assert "user_secret_identity" not in text
    assert "jane@example.com" not in text
    assert "broken" not in text
    assert "event_attributes" not in text


def test_url_without_the_trailing_slash_is_served_not_redirected(client, clerk_source):
    body = deletion()
    response = client.post(
        "/webhooks/clerk",
        data=body,
        content_type="application/json",
        headers=standard_headers(VECTOR_SECRET, "msg_1", body),
    )
    assert response.status_code == 200
    deliveries_process()
    assert ErasureRequest.objects.count() == 1


# --- text that a verified sender may still put in a delivery ------------------------------
#
# PostgreSQL refuses NUL in text, a lone surrogate (valid JSON: "\ud800") has no UTF-8
# encoding, and control characters would reach subject keys, log lines and exports. Each
# is a body that is not the documented shape: 400, nothing written; in an Okta or Auth0
# batch the entry is skipped as malformed and the rest still count.

HOSTILE = {
    "nul": "\x00",
    "lone_surrogate": "\ud800",
    "control": "\x01",
    "escape": "\x1b",
    "line_break": "\n",
    "c1_control": "\x9b",
}
SCHEME_SECRETS = {
    "standard_webhooks": VECTOR_SECRET,
    "okta": "okta-secret-value",
    "auth0": "Bearer auth0-stream-token-1234",
    "workos": "workos-secret-value",
    "keycloak": "keycloak-secret-value",
    "static_header": "generic-secret-value",
}
DELETION = {
    "standard_webhooks": "user.deleted",
    "okta": "user.lifecycle.delete.initiated",
    "auth0": "sdu",
    "workos": "user.deleted",
    "keycloak": "admin.USER-DELETE",
    "static_header": "user.deleted",
}
BATCH_SCHEMES = ("okta", "auth0")


def entry(scheme: str, *, user_id: str, delivery_id: str, event_type: str) -> dict:
    """One entry of an Okta or Auth0 batch."""
    if scheme == "okta":
        return payloads.okta_event(event_type, delivery_id, user_id, "j@example.com")
    return payloads.auth0_entry(event_type, delivery_id, user_id)


def signed(
    scheme: str,
    *,
    user_id: str = "user_1",
    delivery_id: str = "delivery-1",
    event_type: str | None = None,
    entries: list[dict] | None = None,
) -> tuple[bytes, dict[str, str]]:
    """A delivery of `scheme`'s default deletion event (or of a batch of `entries`),
    signed or authenticated exactly as the provider does it."""
    secret = SCHEME_SECRETS[scheme]
    event_type = event_type or DELETION[scheme]
    if scheme in BATCH_SCHEMES:
        entries = entries or [
            entry(scheme, user_id=user_id, delivery_id=delivery_id, event_type=event_type)
        ]
        body = payloads.okta(*entries) if scheme == "okta" else json.dumps(entries).encode()
        return body, {"Authorization": secret}
    if scheme == "standard_webhooks":
        body = json.dumps({"type": event_type, "data": {"id": user_id}}).encode()
        return body, standard_headers(secret, delivery_id, body)
    if scheme == "workos":
        body = json.dumps(
            {"object": "event", "id": delivery_id, "event": event_type, "data": {"id": user_id}}
        ).encode()
        return body, {"WorkOS-Signature": workos_header(secret, body)}
    if scheme == "keycloak":
        body = json.dumps(
            {
                "uid": delivery_id,
                "type": event_type,
                "resourceType": "USER",
                "resourcePath": f"users/{user_id}",
                "authDetails": {"userId": "admin-0000"},
            }
        ).encode()
        return body, {"X-Keycloak-Signature": keycloak_signature(secret, body)}
    body = json.dumps({"id": delivery_id, "type": event_type, "data": {"id": user_id}}).encode()
    return body, {"Authorization": secret}


@pytest.fixture
def any_source(request):
    scheme = request.param
    make_source(scheme, [SCHEME_SECRETS[scheme]], slug="sender")
    return scheme


@pytest.mark.parametrize("any_source", list(SCHEME_SECRETS), indirect=True)
@pytest.mark.parametrize("char", HOSTILE.values(), ids=list(HOSTILE))
@pytest.mark.parametrize("field", ["user_id", "delivery_id", "event_type"])
def test_verified_delivery_with_a_nul_surrogate_or_control_character_is_400(
    client, any_source, char, field
):
    if any_source == "standard_webhooks" and field == "delivery_id" and char == "\ud800":
        pytest.skip("the id is an HTTP header: latin-1, never a surrogate")
    values = {"user_id": "user_1", "delivery_id": "delivery-1", "event_type": DELETION[any_source]}
    values[field] += f"{char}x"
    body, headers = signed(any_source, **values)
    response = post(client, "sender", body, headers)
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "malformed"
    assert char not in response.content.decode("utf-8", "replace")
    assert nothing_written()


@pytest.mark.parametrize("any_source", BATCH_SCHEMES, indirect=True)
@pytest.mark.parametrize("char", HOSTILE.values(), ids=list(HOSTILE))
@pytest.mark.parametrize("field", ["user_id", "delivery_id", "event_type"])
def test_batch_entry_with_a_nul_surrogate_or_control_character_is_skipped_the_rest_count(
    client, any_source, char, field
):
    deletion = DELETION[any_source]
    values = {"user_id": "user_bad", "delivery_id": "d-bad", "event_type": deletion}
    values[field] += f"{char}x"
    bad = entry(any_source, **values)
    good = entry(any_source, user_id="user_good", delivery_id="d-good", event_type=deletion)
    body, headers = signed(any_source, entries=[bad, good])
    response = post(client, "sender", body, headers)
    assert response.status_code == 200, response.content
    assert outcomes(response) == {"malformed": 1, "filed": 1}
    assert ErasureRequest.objects.get().subject.key_hash == subject_hash("user_good")
    assert list(WebhookDelivery.objects.values_list("delivery_id", flat=True)) == ["d-good"]
