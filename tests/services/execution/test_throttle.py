"""The shared throttle in PostgreSQL: a 429 slows every worker; rate and calls in flight hold
across connections (each thread here is a worker with its own connection)."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection

from erasure.throttle import PgThrottle

pytestmark = pytest.mark.django_db(transaction=True)


def _throttle(**kwargs) -> tuple[PgThrottle, list[float]]:
    sleeps: list[float] = []
    options = {"name": "http://api.test/v1", "max_in_flight": 4, "calls_per_second": 0.0}
    options.update(kwargs)
    return PgThrottle(sleep=sleeps.append, **options), sleeps


def test_a_pause_asked_by_one_worker_holds_the_others():
    first, _ = _throttle()
    second, _ = _throttle()
    assert second._try_permit() == 0
    first.pause(5)
    wait = second._try_permit()
    assert 4.5 < wait <= 5
    # A shorter pause never shortens a longer one.
    first.pause(1)
    assert second._try_permit() > 4


def test_the_rate_is_shared_and_refills_with_time():
    throttle, _ = _throttle(calls_per_second=20.0)
    other, _ = _throttle(calls_per_second=20.0)
    granted = 0
    while throttle._try_permit() == 0:
        granted += 1
    # The burst is one second's worth of calls, shared by both throttles of the same API.
    assert 19 <= granted <= 21
    assert other._try_permit() > 0
    time.sleep(0.2)
    assert other._try_permit() == 0  # about 4 tokens came back


def test_calls_in_flight_are_capped_across_workers_and_freed_when_a_worker_dies():
    holding = threading.Event()
    release = threading.Event()

    def hold_one_slot() -> None:
        throttle, _ = _throttle(max_in_flight=1)
        with throttle.slot():
            holding.set()
            release.wait(5)
        connection.close()

    thread = threading.Thread(target=hold_one_slot)
    thread.start()
    holding.wait(5)
    waiting, sleeps = _throttle(max_in_flight=1)
    assert waiting._take_in_flight_slot_or_none() is None
    release.set()
    thread.join(5)
    with waiting.slot():
        pass
    # A connection that dies with a slot held gives it back (session advisory lock).
    from django.db import connections

    other = connections.create_connection("default")
    with other.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, 0)", [waiting._lock_class])
    assert waiting._take_in_flight_slot_or_none() is None
    other.close()
    # The server ends the dead session's backend (and its locks) a moment later.
    deadline = time.monotonic() + 5
    while (slot := waiting._take_in_flight_slot_or_none()) is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert slot == 0
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_unlock_all()")


def test_a_429_seen_by_one_client_pauses_every_client_of_the_api(emulator):
    from namespace_api.client import NamespaceApiClient, RetryPolicy

    emulator.seed([{"name": "vecs", "type": "vector", "vector_dimension": 2, "items": []}])
    emulator.control("faults/next", {"namespace": "*", "fault": "rate_limit", "retry_after": 3})
    throttle, _ = _throttle(name=emulator.url)
    slept: list[float] = []
    client = NamespaceApiClient(
        base_url=emulator.url,
        api_key="test-emulator-key",
        throttle=throttle,
        sleep=slept.append,
        retry=RetryPolicy(max_retries=0, jitter=lambda: 0.0),
    )
    with client:
        result = client.erase(namespace="vecs", kind="vector", ids=["a"], mode="fast")
    assert result.results["a"].http_status == 429
    # Another worker's throttle of the same API now waits the rest of those 3 seconds.
    other, _ = _throttle(name=emulator.url)
    assert 2 < other._try_permit() <= 3


def test_extra_slots_take_only_what_is_free_and_give_it_back():
    throttle, _ = _throttle(max_in_flight=3)
    with throttle.slot(), throttle.extra_slots(10) as extra:
        assert extra == 2
        assert throttle._take_in_flight_slot_or_none() is None
    # Everything was released on the way out.
    with throttle.slot(), throttle.extra_slots(10) as extra:
        assert extra == 2


def test_extra_slots_respect_a_pause():
    throttle, _ = _throttle(max_in_flight=8)
    throttle.pause(5)
    with throttle.extra_slots(4) as extra:
        assert extra == 0


def test_a_waiting_worker_is_handed_a_released_slot_without_polling():
    holding = threading.Event()
    release = threading.Event()

    def hold_one_slot() -> None:
        throttle, _ = _throttle(max_in_flight=1)
        with throttle.slot():
            holding.set()
            release.wait(5)
        connection.close()

    thread = threading.Thread(target=hold_one_slot)
    thread.start()
    holding.wait(5)
    waiting, sleeps = _throttle(max_in_flight=1)
    threading.Timer(0.3, release.set).start()
    slot = waiting._take_in_flight_slot()
    thread.join(5)
    assert slot == 0
    assert release.is_set()  # it waited for the release
    assert sleeps == []  # woken by the release's notification, not by a poll
    waiting._release(slot)
    # It listens only while it waits.
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_listening_channels()")
        assert cursor.fetchone()[0] == 0


def test_a_slot_freed_by_a_dead_connection_reaches_a_listening_waiter():
    import psycopg

    waiting, _ = _throttle(max_in_flight=1)
    settings = connection.settings_dict
    other = psycopg.connect(
        host=settings["HOST"] or "127.0.0.1",
        port=settings["PORT"] or 5432,
        user=settings["USER"],
        dbname=settings["NAME"],
        autocommit=True,
    )
    other.execute("SELECT pg_advisory_lock(%s, 0)", [waiting._lock_class])
    # The holder dies: its lock goes with its session, and no notification is sent.
    threading.Timer(0.2, other.close).start()
    slot = waiting._take_in_flight_slot()
    assert slot == 0
    waiting._release(slot)


def test_a_woken_waiter_tries_only_the_slot_that_was_released(monkeypatch):
    from django.test.utils import CaptureQueriesContext

    from erasure import throttle

    # No try unasked while it waits: only the release wakes it.
    monkeypatch.setattr(throttle, "_LISTEN_SECONDS", 5.0)

    held = threading.Event()
    release_one = threading.Event()
    release_rest = threading.Event()

    def hold_every_slot() -> None:
        holder, _ = _throttle(max_in_flight=8)
        slots = []
        while (slot := holder._take_in_flight_slot_or_none()) is not None:
            holder._held.add(slot)
            slots.append(slot)
        held.set()
        release_one.wait(5)
        holder._release(5)
        release_rest.wait(5)
        for slot in slots:
            if slot != 5:
                holder._release(slot)
        connection.close()

    thread = threading.Thread(target=hold_every_slot)
    thread.start()
    held.wait(5)
    waiting, sleeps = _throttle(max_in_flight=8)
    threading.Timer(0.3, release_one.set).start()
    try:
        with CaptureQueriesContext(connection) as queries:
            slot = waiting._take_in_flight_slot()
    finally:
        release_rest.set()
        thread.join(5)
    assert slot == 5
    assert sleeps == []
    statements = [query["sql"] for query in queries.captured_queries]
    listen = next(k for k, sql in enumerate(statements) if sql.startswith("LISTEN"))
    tries = [sql for sql in statements[listen:] if "pg_try_advisory_lock" in sql]
    # Once listening: every slot once (all held), then the released one alone.
    assert len(tries) == 8 + 1
    assert tries[-1].endswith(", 5)")
    waiting._release(slot)
