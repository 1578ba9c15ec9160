"""Simultaneous deliveries, each on its own database connection: the unique delivery key
and the one-open-request rule hold under races."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from django.db import connection
from django.test import Client

from erasure.models import ErasureRequest
from tests.webhooks import payloads
from tests.webhooks.conftest import VECTOR_SECRET, make_source, post, standard_headers
from webhooks.models import WebhookDelivery
from webhooks.tasks import file_due

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 8


def race(deliveries: list[tuple[bytes, dict[str, str]]]) -> Counter:
    barrier = threading.Barrier(len(deliveries))
    outcomes: Counter = Counter()
    lock = threading.Lock()

    def send(body: bytes, headers: dict[str, str]) -> None:
        try:
            barrier.wait()
            response = post(Client(), "clerk", body, headers)
            with lock:
                outcomes[response.status_code] += 1
                for outcome, n in response.json().get("outcomes", {}).items():
                    outcomes[outcome] += n
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=d) for d in deliveries]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def test_the_same_delivery_sent_at_once_files_exactly_one_request():
    make_source("standard_webhooks", [VECTOR_SECRET], slug="clerk")
    body = payloads.clerk("user.deleted", "user_race")
    headers = standard_headers(VECTOR_SECRET, "msg_race", body)
    outcomes = race([(body, headers)] * THREADS)
    assert outcomes[200] == THREADS
    assert (outcomes["filed"], outcomes["duplicate"]) == (1, THREADS - 1)
    assert ErasureRequest.objects.count() == 1
    assert WebhookDelivery.objects.count() == 1


def test_different_deliveries_for_one_user_at_once_file_one_request():
    make_source("standard_webhooks", [VECTOR_SECRET], slug="clerk")
    body = payloads.clerk("user.deleted", "user_race")
    outcomes = race(
        [(body, standard_headers(VECTOR_SECRET, f"msg_{n}", body)) for n in range(THREADS)]
    )
    assert outcomes[200] == THREADS
    assert (outcomes["filed"], outcomes["already_open"]) == (1, THREADS - 1)
    request = ErasureRequest.objects.get()
    assert set(WebhookDelivery.objects.values_list("request_id", flat=True)) == {request.pk}


def test_periodic_task_is_registered_and_runs():
    from procrastinate.contrib.django import app

    assert "webhooks.file_due" in app.tasks
    file_due(timestamp=0)  # nothing due: a no-op, safe to run any time
