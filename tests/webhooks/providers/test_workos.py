"""WorkOS: the verifier against the values computed in identity-webhooks.md, and the
documented deletions through /webhooks/<slug>/."""

from __future__ import annotations

import time

import pytest

from tests.webhooks import payloads
from tests.webhooks.conftest import (
    filed_for,
    make_source,
    nothing_written,
    outcomes,
    post,
    workos_header,
)
from webhooks.models import WebhookDelivery
from webhooks.providers import VerificationFailed, workos

WORKOS_SECRET = "test_workos_secret"

# identity-webhooks.md section 9 gives these computed WorkOS and p2-inc values.
WORKOS_BODY = (
    b'{"object":"event","id":"event_01TEST","event":"user.deleted","data":{"object":"user",'
    b'"id":"user_01TEST","email":"jane@example.com"},"created_at":"2023-11-14T22:13:20.000Z"}'
)

WORKOS_HEADER = (
    "t=1700000000000, v1=03a76b3fb8c3d9d2b2de6581ce2e26115e733192547a3e29baa44f4bb8c4fe2e"
)


def test_workos_documented_value_verifies_and_helper_matches():
    assert workos_header("test_workos_secret", WORKOS_BODY, timestamp_ms=1700000000000) == (
        WORKOS_HEADER
    )
    workos.verify(
        body=WORKOS_BODY,
        headers={"workos-signature": WORKOS_HEADER},
        secrets=["test_workos_secret"],
        header_name="",
        now=1700000000.0,
    )


@pytest.mark.parametrize("now", [1700000000 - 181, 1700000000 + 181])
def test_workos_window_is_180_seconds_in_milliseconds(now):
    with pytest.raises(VerificationFailed, match="tolerance"):
        workos.verify(
            body=WORKOS_BODY,
            headers={"workos-signature": WORKOS_HEADER},
            secrets=["test_workos_secret"],
            header_name="",
            now=float(now),
        )


def test_workos_header_split_without_space_like_the_ruby_sdk():
    workos.verify(
        body=WORKOS_BODY,
        headers={"workos-signature": WORKOS_HEADER.replace(", ", ",")},
        secrets=["test_workos_secret"],
        header_name="",
        now=1700000000.0,
    )


@pytest.mark.django_db
@pytest.mark.parametrize("event_type", ["user.deleted", "dsync.user.deleted"])
def test_workos_deletions_file_a_request(client, event_type):
    make_source("workos", [WORKOS_SECRET])
    body = payloads.workos(event_type, "event_01HQ", "user_01HQ", state="active")
    response = post(
        client, "workos", body, {"WorkOS-Signature": workos_header(WORKOS_SECRET, body)}
    )
    assert response.status_code == 200
    assert outcomes(response) == {"filed": 1}
    filed_for("user_01HQ")
    assert WebhookDelivery.objects.get().delivery_id == "event_01HQ"


@pytest.mark.django_db
def test_workos_stale_signature_is_refused(client):
    make_source("workos", [WORKOS_SECRET])
    body = payloads.workos("user.deleted", "event_01HQ", "user_01HQ")
    old = int(time.time() * 1000) - 181_000
    header = workos_header(WORKOS_SECRET, body, timestamp_ms=old)
    assert post(client, "workos", body, {"WorkOS-Signature": header}).status_code == 401
    assert nothing_written()
