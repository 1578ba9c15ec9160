"""Auth0 Log Streams in each content format, and Event Streams' CloudEvents, through
/webhooks/<slug>/; what a batch with unreadable entries files."""

from __future__ import annotations

import json

import pytest

from erasure.models import ErasureRequest
from tests.webhooks import payloads
from tests.webhooks.conftest import filed_for, make_source, nothing_written, outcomes, post
from webhooks.models import WebhookDelivery
from webhooks.providers import auth0

AUTH0_SECRET = "Bearer auth0-stream-token-1234"


def test_auth0_reads_array_object_and_json_lines_alike():
    entry = '{"log_id":"900%d","data":{"type":"sdu","user_id":"auth0|%d","log_id":"900%d"}}'
    as_lines = "\n".join(entry % (i, i, i) for i in range(3)).encode()
    as_array = ("[" + ",".join(entry % (i, i, i) for i in range(3)) + "]").encode()
    assert auth0.events(as_lines, "") == auth0.events(as_array, "")
    assert [e.delivery_id for e in auth0.events((entry % (7, 7, 7)).encode(), "")] == ["9007"]


@pytest.mark.django_db
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
    assert outcomes(response)["filed"] == 1
    filed_for("auth0|6a1")
    assert ErasureRequest.objects.count() == 1
    assert WebhookDelivery.objects.get().delivery_id.endswith("0002")


@pytest.mark.django_db
def test_auth0_same_log_id_twice_in_one_batch_counts_once(client):
    make_source("auth0", [AUTH0_SECRET])
    entry = payloads.auth0_entry("sdu", "900202405011", "auth0|dup")
    body = json.dumps([entry, entry]).encode()
    response = post(client, "auth0", body, {"Authorization": AUTH0_SECRET})
    assert outcomes(response) == {"filed": 1, "duplicate": 1}
    assert WebhookDelivery.objects.count() == 1


@pytest.mark.django_db
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
    assert outcomes(response) == {"filed": 1}
    filed_for("auth0|679fb1b1e809445f129bc18d")
    assert WebhookDelivery.objects.get().delivery_id == "evt_6SfwXrtm8nVcjzzNCFFH1L"


@pytest.mark.django_db
def test_auth0_json_line_that_is_not_json_is_one_malformed_entry(client):
    # README: an unreadable entry of an Auth0 batch is skipped, the rest still count.
    make_source("auth0", [AUTH0_SECRET])
    good = payloads.auth0_entry("sdu", "900202405011", "auth0|lines")
    body = b'{"log_id": "9002", "data": {"type"\n' + json.dumps(good).encode() + b"\n"
    response = post(client, "auth0", body, {"Authorization": AUTH0_SECRET})
    assert response.status_code == 200, response.content
    assert outcomes(response) == {"malformed": 1, "filed": 1}
    filed_for("auth0|lines")


@pytest.mark.django_db
def test_auth0_batch_with_no_readable_entry_is_400(client):
    make_source("auth0", [AUTH0_SECRET])
    body = json.dumps([{"data": {"type": "sdu", "user_id": "auth0|1"}}] * 2).encode()
    response = post(client, "auth0", body, {"Authorization": AUTH0_SECRET})
    assert response.status_code == 400
    assert "log_id" in response.json()["error"]["message"]
    assert nothing_written()


@pytest.mark.django_db
@pytest.mark.parametrize("body", [b"[]", b" [ ]\n", b"", b"\n\n", b'{"logs": []}'])
def test_auth0_delivery_with_an_empty_batch_is_400(client, body):
    # Every content format may come empty (an array, no JSON lines at all, an object
    # that is no log entry): no readable entry, the documented 400.
    make_source("auth0", [AUTH0_SECRET])
    response = post(client, "auth0", body, {"Authorization": AUTH0_SECRET})
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "malformed"
    assert nothing_written()
