"""The two steps of a delivery: the view records it and answers, a worker acts on it.

The answer waits for nothing but the record; the raw user id stays on the row only until
the worker has acted; a batch is a handful of statements whatever its size; one delivery
the worker cannot act on leaves the rest of its batch done."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from procrastinate.contrib.django.models import ProcrastinateJob

from erasure.models import AuditEvent, ErasureRequest
from tests.conftest import run_worker_once
from tests.webhooks import payloads
from tests.webhooks.conftest import (
    VECTOR_SECRET,
    filed_for,
    make_source,
    outcomes,
    post,
    standard_headers,
)
from webhooks.models import DeferralState, DeferredErasure, DeliveryOutcome, WebhookDelivery
from webhooks.services import deliveries_process

OKTA_SECRET = "okta-shared-secret"


def clerk_delivery(user_id: str, msg_id: str) -> tuple[bytes, dict[str, str]]:
    body = payloads.clerk("user.deleted", user_id)
    return body, standard_headers(VECTOR_SECRET, msg_id, body)


@pytest.mark.django_db
def test_the_answer_records_and_the_worker_files(client):
    make_source("standard_webhooks", [VECTOR_SECRET], slug="clerk")
    response = post(client, "clerk", *clerk_delivery("user_1", "msg_1"), act=False)

    assert response.status_code == 200
    assert response.json() == {"received": 1, "outcomes": {"accepted": 1}}
    delivery = WebhookDelivery.objects.get()
    assert (delivery.outcome, delivery.action) == (DeliveryOutcome.RECEIVED, "file")
    assert delivery.pending_user_id == "user_1"
    assert not ErasureRequest.objects.exists()
    assert not AuditEvent.objects.exists()  # nothing happened yet that the trail records

    assert deliveries_process() == 1
    delivery.refresh_from_db()
    request = filed_for("user_1")
    assert (delivery.outcome, delivery.request_id) == (DeliveryOutcome.FILED, request.pk)
    assert delivery.pending_user_id is None  # the raw id now lives with the open request only
    assert delivery.processed_at is not None
    assert request.reason == "Identity webhook clerk: user.deleted"
    assert list(AuditEvent.objects.values_list("event_type", flat=True)) == ["request.filed"]
    assert deliveries_process() == 0


@pytest.mark.django_db
def test_a_redelivery_before_the_worker_acted_is_a_duplicate(client):
    make_source("standard_webhooks", [VECTOR_SECRET], slug="clerk")
    body, headers = clerk_delivery("user_1", "msg_1")
    post(client, "clerk", body, headers, act=False)
    again = post(client, "clerk", body, headers, act=False)
    assert again.json()["outcomes"] == {"duplicate": 1}
    assert deliveries_process() == 1
    assert ErasureRequest.objects.count() == 1


@pytest.mark.django_db
def test_a_batch_is_a_few_statements_whatever_its_size(client):
    make_source("standard_webhooks", [VECTOR_SECRET], slug="clerk")

    def statements_for(n: int, prefix: str) -> int:
        for i in range(n):
            post(client, "clerk", *clerk_delivery(f"{prefix}{i}", f"{prefix}msg{i}"), act=False)
        with CaptureQueriesContext(connection) as queries:
            assert deliveries_process() == n
        return len(queries.captured_queries)

    small, large = statements_for(5, "a"), statements_for(200, "b")
    assert small == large
    assert ErasureRequest.objects.count() == 205
    assert set(WebhookDelivery.objects.values_list("outcome", flat=True)) == {"filed"}


@pytest.mark.django_db
def test_one_delivery_the_worker_cannot_act_on_leaves_the_rest_of_its_batch_done(client, caplog):
    make_source("standard_webhooks", [VECTOR_SECRET], slug="clerk")
    broken = make_source("okta", [OKTA_SECRET])
    # A grace period out of range, as only a direct edit of the table could leave it: the
    # filing refuses it.
    type(broken).objects.filter(pk=broken.pk).update(grace_hours=10**6)
    post(client, "clerk", *clerk_delivery("user_1", "msg_1"), act=False)
    okta = payloads.okta(
        payloads.okta_event("user.lifecycle.delete.initiated", "e-1", "00u1", "j@example.com")
    )
    post(client, "okta", okta, {"Authorization": OKTA_SECRET}, act=False)
    post(client, "clerk", *clerk_delivery("user_2", "msg_2"), act=False)

    assert deliveries_process() == 3

    rows = {d.delivery_id: d for d in WebhookDelivery.objects.all()}
    assert rows["msg_1"].outcome == rows["msg_2"].outcome == DeliveryOutcome.FILED
    failed = rows["e-1"]
    assert failed.outcome == DeliveryOutcome.FAILED
    assert failed.error.startswith("InvalidInput: grace_hours must be between")
    assert failed.pending_user_id == "00u1"  # kept, so that it can be acted on again
    assert ErasureRequest.objects.count() == 2
    assert deliveries_process() == 0  # a failed delivery is not retried in a loop
    # The log names the failure's class, never the row's values.
    assert "InvalidInput" in caplog.text
    assert "00u1" not in caplog.text and "grace_hours" not in caplog.text


@pytest.mark.django_db
def test_a_reactivation_finds_the_deactivation_still_waiting_for_the_worker(client):
    make_source("okta", [OKTA_SECRET], deactivation_policy="delay")

    def lifecycle(kind: str, uuid: str) -> bytes:
        return payloads.okta(
            payloads.okta_event(f"user.lifecycle.{kind}", uuid, "00u1", "j@example.com")
        )

    post(client, "okta", lifecycle("deactivate", "e-1"), {"Authorization": OKTA_SECRET}, act=False)
    response = post(
        client, "okta", lifecycle("reactivate", "e-2"), {"Authorization": OKTA_SECRET}, act=False
    )
    assert response.json()["outcomes"] == {"accepted": 1}  # not ignored: it has one to cancel
    assert deliveries_process() == 2
    assert DeferredErasure.objects.get().state == DeferralState.CANCELLED
    assert dict(WebhookDelivery.objects.values_list("delivery_id", "outcome")) == {
        "e-1": "deferred",
        "e-2": "deferral_cancelled",
    }


@pytest.mark.django_db
def test_a_user_id_longer_than_a_subject_key_is_400_and_writes_nothing(client):
    make_source("standard_webhooks", [VECTOR_SECRET], slug="clerk")
    response = post(client, "clerk", *clerk_delivery("u" * 513, "msg_1"), act=False)
    assert response.status_code == 400
    assert "longer than 512 characters" in response.json()["error"]["message"]
    assert not WebhookDelivery.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_delivery_wakes_a_real_worker_after_commit(emulator):
    make_source("standard_webhooks", [VECTOR_SECRET], slug="clerk")
    response = post(Client(), "clerk", *clerk_delivery("user_1", "msg_1"), act=False)
    assert outcomes(response) == {"received": 1}
    woken = ProcrastinateJob.objects.filter(task_name="webhooks.process_deliveries", status="todo")
    assert woken.count() == 1
    # A second delivery while that job waits adds none.
    post(Client(), "clerk", *clerk_delivery("user_2", "msg_2"), act=False)
    assert woken.count() == 1

    run_worker_once(connection.settings_dict["NAME"], emulator)

    assert set(WebhookDelivery.objects.values_list("outcome", flat=True)) == {"filed"}
    assert filed_for("user_1") and filed_for("user_2")
