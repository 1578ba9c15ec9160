"""Okta Event Hooks: the verification GET, batches filed per event, the configured
header, and what a batch with unreadable events files."""

from __future__ import annotations

import pytest

from erasure.hashing import subject_hash
from erasure.models import ErasureRequest
from tests.webhooks import payloads
from tests.webhooks.conftest import filed_for, make_source, nothing_written, outcomes, post
from webhooks.models import WebhookDelivery

pytestmark = pytest.mark.django_db

OKTA_SECRET = "Basic YWRtaW46c3VwZXJzZWNyZXQ="
WORKOS_SECRET = "test_workos_secret"


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
    assert outcomes(response) == {"filed": 2, "ignored": 2}
    # The target of type User, never the actor (the admin).
    filed_for("00u3m90rxKjGQ0G6L1d6")
    filed_for("00u-other")
    assert not ErasureRequest.objects.filter(subject__key_hash=subject_hash("00uz9fj5aT69fHVro1d6"))
    assert set(WebhookDelivery.objects.values_list("delivery_id", flat=True)) == {"e-2", "e-3"}

    # Okta retries the whole batch at most once: every event is now a duplicate.
    again = post(client, "okta", body, {"Authorization": OKTA_SECRET})
    assert outcomes(again) == {"duplicate": 2, "ignored": 2}
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
    assert outcomes(response) == {"malformed": 2, "filed": 1}
    filed_for("00u3")
    assert ErasureRequest.objects.count() == 1


def test_okta_delivery_with_an_empty_batch_is_400(client):
    make_source("okta", [OKTA_SECRET])
    body = payloads.okta()
    response = post(client, "okta", body, {"Authorization": OKTA_SECRET})
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "malformed"
    assert nothing_written()
