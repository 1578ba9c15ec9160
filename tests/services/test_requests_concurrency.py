"""Filings on their own connections at once: a filing locks its subject before it writes
the request, and a batch of deliveries locks all of its subjects before its first filing,
so two filings that share a subject never wait on each other in a cycle."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection

from erasure.actors import Actor
from erasure.lifecycle import OPEN_STATUSES
from erasure.models import ErasureRequest
from erasure.services.requests import request_file
from erasure.services.subjects import subject_get_or_create
from tests.webhooks.conftest import VECTOR_SECRET, make_source
from webhooks.providers import Event
from webhooks.services import deliveries_process, webhook_accept

pytestmark = pytest.mark.django_db(transaction=True)

API = Actor.system("api-like")


@pytest.mark.parametrize("known", [False, True], ids=["new-subjects", "known-subjects"])
def test_a_delivery_for_two_users_and_a_filing_for_the_second_at_once_do_not_deadlock(known):
    """A worker's batch that files for two users is one transaction; an API filing for
    the second user runs at the same moment.
    Before, the API filing inserted the user's rows first and then waited for the chain,
    while the delivery held the chain and waited for those rows: a deadlock."""
    source = make_source("standard_webhooks", [VECTOR_SECRET])
    if known:  # their mappings were registered before: the subjects exist
        for key in ("user-a", "user-b"):
            subject_get_or_create(key=key)
    errors: list[BaseException] = []

    # (Audit events once took a global lock, which lined the two up into a deadlock;
    # they take none now, and the subjects are still locked in one order.)

    def delivery() -> None:
        try:
            webhook_accept(
                source=source,
                events=[
                    Event(delivery_id="msg_a", event_type="user.deleted", user_id="user-a"),
                    Event(delivery_id="msg_b", event_type="user.deleted", user_id="user-b"),
                ],
            )
            deliveries_process()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    def api_filing() -> None:
        try:
            request_file(subject_key="user-b", actor=API, source="api")
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    first = threading.Thread(target=delivery)
    second = threading.Thread(target=api_filing)
    first.start()
    time.sleep(0.5)
    second.start()
    first.join(timeout=30)
    second.join(timeout=30)

    assert not errors, errors
    open_requests = ErasureRequest.objects.filter(status__in=OPEN_STATUSES)
    assert open_requests.count() == 2  # one per subject, whoever filed it
