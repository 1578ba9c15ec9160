"""Standard Webhooks and Svix (Clerk): the verifier against the official vector, and
Clerk's documented deletion through /webhooks/<slug>/."""

from __future__ import annotations

import time

import pytest
from standardwebhooks import Webhook

from erasure.models import AuditEvent
from tests.webhooks import payloads
from tests.webhooks.conftest import (
    VECTOR_BAD_SIGNATURE,
    VECTOR_MSG_ID,
    VECTOR_PAYLOAD,
    VECTOR_SECRET,
    VECTOR_SIGNATURE,
    VECTOR_TIMESTAMP,
    filed_for,
    make_source,
    nothing_written,
    outcomes,
    post,
    standard_headers,
    standard_signature,
)
from webhooks.models import WebhookDelivery
from webhooks.providers import VerificationFailed, standard_webhooks


def vector_headers(signature: str = VECTOR_SIGNATURE, prefix: str = "webhook") -> dict[str, str]:
    return {
        f"{prefix}-id": VECTOR_MSG_ID,
        f"{prefix}-timestamp": str(VECTOR_TIMESTAMP),
        f"{prefix}-signature": signature,
    }


def verify_vector(headers: dict[str, str], *, secrets=(VECTOR_SECRET,), now=VECTOR_TIMESTAMP):
    """Verify the vector's payload under `headers`; the delivery id it was verified under."""
    standard_webhooks.verify(
        body=VECTOR_PAYLOAD, headers=headers, secrets=list(secrets), header_name="", now=now
    )
    return standard_webhooks.delivery_id(headers)


def test_official_vector_verifies_at_its_timestamp():
    assert verify_vector(vector_headers()) == VECTOR_MSG_ID


def test_test_helper_signs_the_official_vector():
    sig = standard_signature(VECTOR_SECRET, VECTOR_MSG_ID, VECTOR_TIMESTAMP, VECTOR_PAYLOAD)
    assert sig == VECTOR_SIGNATURE


def test_official_negative_vector_fails():
    with pytest.raises(VerificationFailed, match="no matching signature"):
        verify_vector(vector_headers(VECTOR_BAD_SIGNATURE))


def test_official_vector_under_svix_header_names():
    assert verify_vector(vector_headers(prefix="svix")) == VECTOR_MSG_ID


def test_vector_secret_without_its_whsec_prefix():
    assert verify_vector(vector_headers(), secrets=["MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]) == (
        VECTOR_MSG_ID
    )


def test_vector_is_stale_today():
    # The library's own behaviour too: the vector is from 2021.
    with pytest.raises(VerificationFailed, match="tolerance"):
        verify_vector(vector_headers(), now=time.time())


@pytest.mark.parametrize("offset", [-301, 301])
def test_timestamp_outside_five_minutes_either_way_fails(offset):
    with pytest.raises(VerificationFailed, match="tolerance"):
        verify_vector(vector_headers(), now=VECTOR_TIMESTAMP + offset)


@pytest.mark.parametrize("offset", [-300, 300])
def test_timestamp_at_the_edge_of_the_window_passes(offset):
    assert verify_vector(vector_headers(), now=VECTOR_TIMESTAMP + offset) == VECTOR_MSG_ID


def test_rotation_any_signature_in_the_list_matches():
    header = f"v1a,AAAA v1,{'A' * 44} v1,not-base64! {VECTOR_SIGNATURE}"
    assert verify_vector(vector_headers(header)) == VECTOR_MSG_ID


def test_rotation_any_active_secret_matches():
    other = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY"
    assert verify_vector(vector_headers(), secrets=[other, VECTOR_SECRET]) == VECTOR_MSG_ID
    with pytest.raises(VerificationFailed):
        verify_vector(vector_headers(), secrets=[other])


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"webhook-id": VECTOR_MSG_ID, "webhook-signature": VECTOR_SIGNATURE},
        {**vector_headers(), "webhook-timestamp": "1614265330.5"},
        {**vector_headers(), "webhook-timestamp": "soon"},
        {**vector_headers(), "webhook-timestamp": "1614265330\n"},
        {**vector_headers(), "webhook-signature": "v1,a,b"},
        {**vector_headers(), "webhook-signature": "garbage"},
    ],
)
def test_malformed_signature_headers_fail_without_crashing(headers):
    with pytest.raises(VerificationFailed):
        verify_vector(headers)


def test_no_secrets_means_nothing_verifies():
    with pytest.raises(VerificationFailed):
        verify_vector(vector_headers(), secrets=[])


def test_tampered_body_fails():
    with pytest.raises(VerificationFailed):
        standard_webhooks.verify(
            body=b'{"test": 2432232315}',
            headers=vector_headers(),
            secrets=[VECTOR_SECRET],
            header_name="",
            now=VECTOR_TIMESTAMP,
        )


def test_non_utf8_body_fails_cleanly():
    body = b"\xff\xfe"
    headers = standard_headers(VECTOR_SECRET, "msg_1", body)
    with pytest.raises(VerificationFailed):
        standard_webhooks.verify(
            body=body, headers=headers, secrets=[VECTOR_SECRET], header_name="", now=time.time()
        )


def test_agrees_with_the_standardwebhooks_library_at_the_current_time():
    body = b'{"type":"user.deleted","data":{"id":"user_1"}}'
    headers = standard_headers(VECTOR_SECRET, "msg_lib", body)
    Webhook(VECTOR_SECRET).verify(body, headers)  # the reference implementation accepts it
    standard_webhooks.verify(
        body=body, headers=headers, secrets=[VECTOR_SECRET], header_name="", now=time.time()
    )
    assert standard_webhooks.delivery_id(headers) == "msg_lib"


@pytest.mark.django_db
@pytest.mark.parametrize("prefix", ["svix", "webhook"])
def test_clerk_user_deleted_files_one_request(client, prefix):
    make_source("standard_webhooks", [VECTOR_SECRET], slug="clerk")
    body = payloads.CLERK_USER_DELETED
    headers = standard_headers(VECTOR_SECRET, "msg_2Lh9KRb0pzN4LePd3XiA4ivmzh", body, prefix=prefix)

    response = post(client, "clerk", body, headers)

    assert response.status_code == 200, response.content
    assert outcomes(response) == {"filed": 1}
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


@pytest.mark.django_db
def test_official_vector_secret_signs_a_live_delivery(client):
    # The vector's own timestamp is years old (stale: test_vector_is_stale_today); its secret and
    # message id signed now make a valid delivery; its payload has no event type.
    make_source("standard_webhooks", [VECTOR_SECRET], slug="vector")
    body = b'{"test": 2432232314}'
    headers = standard_headers(VECTOR_SECRET, "msg_p5jXN8AQM9LWM0D4loKWxJek", body)
    response = post(client, "vector", body, headers)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed"
    assert nothing_written()


@pytest.mark.django_db
def test_clerk_user_updated_is_acknowledged_and_ignored(client):
    make_source("standard_webhooks", [VECTOR_SECRET], slug="clerk")
    body = payloads.clerk("user.updated", "user_1")
    response = post(client, "clerk", body, standard_headers(VECTOR_SECRET, "msg_1", body))
    assert response.status_code == 200
    assert outcomes(response) == {"ignored": 1}
    assert nothing_written()
