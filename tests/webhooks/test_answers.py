"""The answer to every kind of bad or repeated delivery, and that refusals write nothing."""

from __future__ import annotations

import json
import logging
import time

import pytest

from erasure.models import AuditEvent, ErasureRequest
from tests.webhooks import payloads
from tests.webhooks.conftest import VECTOR_SECRET, make_source, post, standard_headers
from webhooks.models import WebhookDelivery, WebhookSecret
from webhooks.views import MAX_BODY_BYTES

pytestmark = pytest.mark.django_db

OTHER_SECRET = "whsec_QUJDREVGR0hJSktMTU5PUFFSU1RVVldY"


def nothing_written() -> bool:
    return not (
        ErasureRequest.objects.exists()
        or WebhookDelivery.objects.exists()
        or AuditEvent.objects.exists()
    )


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
    assert replay.json()["outcomes"] == {"duplicate": 1}
    assert ErasureRequest.objects.count() == 1
    assert WebhookDelivery.objects.count() == 1
    assert AuditEvent.objects.count() == events_after_first


def test_retry_of_a_delivery_with_a_new_timestamp_is_a_duplicate(client, clerk_source):
    # Standard Webhooks retries keep webhook-id and re-sign with a new timestamp.
    body = deletion()
    post(client, "clerk", body, standard_headers(VECTOR_SECRET, "msg_1", body))
    later = standard_headers(VECTOR_SECRET, "msg_1", body, timestamp=int(time.time()) + 60)
    assert post(client, "clerk", body, later).json()["outcomes"] == {"duplicate": 1}
    assert ErasureRequest.objects.count() == 1


def test_another_delivery_for_an_open_request_files_nothing_new(client, clerk_source):
    body = deletion()
    post(client, "clerk", body, standard_headers(VECTOR_SECRET, "msg_1", body))
    second = post(client, "clerk", body, standard_headers(VECTOR_SECRET, "msg_2", body))
    assert second.json()["outcomes"] == {"already_open": 1}
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
    assert ErasureRequest.objects.count() == 1
