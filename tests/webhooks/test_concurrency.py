"""Simultaneous deliveries, each on its own database connection: the unique delivery key
and the one-open-request rule hold under races, and the webhook and the deferral worker
take their locks in one order."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from erasure.models import ErasureRequest
from tests.webhooks import payloads
from tests.webhooks.conftest import (
    VECTOR_SECRET,
    make_source,
    outcomes,
    post,
    standard_headers,
)
from webhooks.models import DeferralState, DeferredErasure, WebhookDelivery
from webhooks.services import deferred_file_due
from webhooks.tasks import file_due

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 8


def race(deliveries: list[tuple[bytes, dict[str, str]]]) -> Counter:
    """Send the deliveries at once, each thread then acting on what is received; returns
    the status codes and the answers' counts, plus the delivery rows' outcomes."""
    barrier = threading.Barrier(len(deliveries))
    outcomes: Counter = Counter()
    lock = threading.Lock()

    def send(body: bytes, headers: dict[str, str]) -> None:
        try:
            barrier.wait()
            # Each thread then acts as a worker too: the workers race as well.
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
    # What the workers made of what was accepted.
    outcomes.update(WebhookDelivery.objects.values_list("outcome", flat=True))
    return outcomes


def test_the_same_delivery_sent_at_once_files_exactly_one_request():
    make_source("standard_webhooks", [VECTOR_SECRET], slug="clerk")
    body = payloads.clerk("user.deleted", "user_race")
    headers = standard_headers(VECTOR_SECRET, "msg_race", body)
    outcomes = race([(body, headers)] * THREADS)
    assert outcomes[200] == THREADS
    assert (outcomes["accepted"], outcomes["duplicate"]) == (1, THREADS - 1)
    assert outcomes["filed"] == 1
    assert ErasureRequest.objects.count() == 1
    assert WebhookDelivery.objects.count() == 1


def test_different_deliveries_for_one_user_at_once_file_one_request():
    make_source("standard_webhooks", [VECTOR_SECRET], slug="clerk")
    body = payloads.clerk("user.deleted", "user_race")
    outcomes = race(
        [(body, standard_headers(VECTOR_SECRET, f"msg_{n}", body)) for n in range(THREADS)]
    )
    assert outcomes[200] == THREADS
    assert outcomes["accepted"] == THREADS
    assert (outcomes["filed"], outcomes["already_open"]) == (1, THREADS - 1)
    request = ErasureRequest.objects.get()
    assert set(WebhookDelivery.objects.values_list("request_id", flat=True)) == {request.pk}


def test_periodic_task_is_registered_and_runs():
    from procrastinate.contrib.django import app

    assert "webhooks.file_due" in app.tasks
    file_due(timestamp=0)  # nothing due: a no-op, safe to run any time


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        time.sleep(0.02)


def waiting_on_a_lock(pid: int | None) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_locks WHERE pid = %s AND NOT granted", [pid])
        return cursor.fetchone()[0] > 0


def test_a_deletion_and_the_due_deferral_of_its_user_at_once_do_not_deadlock():
    """The worker acting on a deletion, and the deferral task filing its user's due
    deferral, at the same moment."""
    secret = "okta-shared-secret"
    make_source("okta", [secret], deactivation_policy="delay", deactivation_delay_hours=1)
    deactivate = payloads.okta_event("user.lifecycle.deactivate", "e-1", "00u1", "j@example.com")
    assert outcomes(
        post(Client(), "okta", payloads.okta(deactivate), {"Authorization": secret})
    ) == {"deferred": 1}
    delete = payloads.okta_event("user.lifecycle.delete.initiated", "e-2", "00u1", "j@x.org")
    results: dict[str, Any] = {}
    errors: list[BaseException] = []

    def deliver() -> None:
        try:
            results["webhook"] = post(
                Client(), "okta", payloads.okta(delete), {"Authorization": secret}
            )
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    def run_worker() -> None:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                results["worker_pid"] = cursor.fetchone()[0]
            results["settled"] = deferred_file_due(now=timezone.now() + timedelta(hours=2))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    # Audit events once took a global lock, and the webhook waited for it holding the
    # deferral; the worker then waited for the deferral holding the lock. There is no such
    # lock now: the two run side by side, the worker skipping the row the webhook holds.
    webhook = threading.Thread(target=deliver)
    worker = threading.Thread(target=run_worker)
    webhook.start()
    wait_until(
        lambda: (
            DeferredErasure.objects.filter(request__isnull=False).exists() or not webhook.is_alive()
        ),
        "the webhook filed",
    )
    worker.start()
    webhook.join(timeout=30)
    worker.join(timeout=30)

    assert not webhook.is_alive() and not worker.is_alive()
    assert errors == []
    assert outcomes(results["webhook"]) == {"filed": 1}
    assert results["settled"] == 0
    request = ErasureRequest.objects.get()
    deferral = DeferredErasure.objects.get()
    assert (deferral.state, deferral.request_id) == (DeferralState.FILED, request.pk)
