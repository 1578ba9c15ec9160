"""Filings on their own connections at once: every writer takes the audit chain before the
rows it inserts, so two filings never wait on each other in a cycle."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, connections, transaction

from erasure.actors import Actor
from erasure.lifecycle import OPEN_STATUSES
from erasure.models import ErasureRequest
from erasure.services.audit import AUDIT_CHAIN_LOCK
from erasure.services.requests import request_file

pytestmark = pytest.mark.django_db(transaction=True)

WEBHOOK = Actor.system("webhook-like")
API = Actor.system("api-like")


def test_a_filing_for_two_subjects_and_one_for_the_second_at_once_do_not_deadlock():
    """A webhook delivery that files for two users is one transaction holding the chain
    from its first filing; an API filing for the second user runs at the same moment.
    Before, the API filing inserted the user's rows first and then waited for the chain,
    while the delivery held the chain and waited for those rows: a deadlock."""
    errors: list[BaseException] = []

    # A third session holds the chain so that both filings line up behind it: the
    # delivery first (queued on the chain), then the API filing.
    holder = connections.create_connection("default")
    holder.connect()
    holder.set_autocommit(False)
    with holder.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [AUDIT_CHAIN_LOCK])

    def delivery() -> None:
        try:
            with transaction.atomic():
                request_file(subject_key="user-a", actor=WEBHOOK, source="webhook")
                request_file(subject_key="user-b", actor=WEBHOOK, source="webhook")
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
    time.sleep(0.5)
    holder.rollback()
    holder.close()
    first.join(timeout=30)
    second.join(timeout=30)

    assert not errors, errors
    open_requests = ErasureRequest.objects.filter(status__in=OPEN_STATUSES)
    assert open_requests.count() == 2  # one per subject, whoever filed it
