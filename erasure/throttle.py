"""The shared throttle of a namespace API, kept in PostgreSQL.

Every worker, on every machine, asks the same row before each call, so that a 429's
`Retry-After` slows all of them, and the configured rate and calls in flight hold overall:

* rate: a token bucket in `erasure_apithrottle` (refilled by elapsed time, one token a call);
* pause: `not_before`, pushed forward by a 429;
* calls in flight: N session-level advisory locks, one held around each call; PostgreSQL
  releases them when a worker's connection dies, so a killed worker never leaks a slot.
  A worker waiting for a slot listens on the API's channel, which every release notifies
  with the slot's number: the slot passes on at once, not at the next poll, and each
  waiter woken tries that slot alone, not all of them.

The statements of every call (permit, slot, release, the answer's status) are prepared
(erasure.prepared): they run several times a call, each a microsecond's work.
"""

from __future__ import annotations

import random
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.db import connection

from erasure.apis import ApiConfig
from erasure.prepared import prepared_cursor

_POLL_SECONDS = 0.01
# How long a waiter listens before it tries the slots again unasked: a slot freed by a
# connection that died sends no notification.
_LISTEN_SECONDS = 0.1


class PgThrottle:
    def __init__(
        self,
        *,
        name: str,
        max_in_flight: int,
        calls_per_second: float,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.name = name
        self.max_in_flight = max_in_flight
        self.rate = calls_per_second
        # A second's worth of calls may go at once after a quiet spell.
        self.burst = max(1.0, calls_per_second)
        self._sleep = sleep
        # Advisory-lock keys of this API's in-flight slots: (per-API class, slot number).
        self._lock_class = zlib.crc32(name.encode()) & 0x7FFFFFFF
        # The channel its releases notify (an identifier: letters and digits only).
        self._channel = f"erasure_api_slot_{self._lock_class}"
        # Slots held by this instance (one per worker thread, like its connection).
        self._held: set[int] = set()
        with connection.cursor() as cursor:
            cursor.execute(
                """
                INSERT INTO erasure_apithrottle (name, tokens, refilled_at)
                VALUES (%s, %s, now()) ON CONFLICT (name) DO NOTHING
                """,
                [name, self.burst],
            )

    @classmethod
    def for_api(cls, config: ApiConfig) -> PgThrottle:
        """The throttle of one configured API, shared by everyone by the API's name."""
        return cls(
            name=config.name,
            max_in_flight=config.max_in_flight,
            calls_per_second=config.calls_per_second,
        )

    @contextmanager
    def slot(self) -> Iterator[None]:
        self._wait_for_permit()
        held = self._take_in_flight_slot()
        self._held.add(held)
        try:
            yield
        finally:
            self._release(held)

    @contextmanager
    def extra_slots(self, wanted: int) -> Iterator[int]:
        """Up to `wanted` more in-flight slots, each with a rate permit, without waiting."""
        held: list[int] = []
        try:
            while len(held) < wanted:
                slot = self._take_in_flight_slot_or_none()
                if slot is None:
                    break
                self._held.add(slot)
                held.append(slot)
                if self._try_permit() > 0:
                    # No permit (rate, or a pause): this slot goes back unused.
                    self._release(held.pop())
                    break
            yield len(held)
        finally:
            for slot in held:
                self._release(slot)

    def _release(self, slot: int) -> None:
        self._held.discard(slot)
        with prepared_cursor() as cursor:
            # The notification names the slot: a waiter tries that one.
            cursor.execute(
                "SELECT pg_advisory_unlock(%s, %s), pg_notify(%s, %s)",
                [self._lock_class, slot, self._channel, str(slot)],
            )

    def pause(self, seconds: float) -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                """
                UPDATE erasure_apithrottle
                SET not_before = greatest(coalesce(not_before, now()),
                                          now() + make_interval(secs => %s))
                WHERE name = %s
                """,
                [seconds, self.name],
            )

    def _wait_for_permit(self) -> None:
        while True:
            wait = self._try_permit()
            if wait <= 0:
                return
            self._sleep(min(wait, 1.0))

    def _try_permit(self) -> float:
        """Take a permit; 0 when granted, else the seconds to wait before asking again."""
        with prepared_cursor() as cursor:
            if self.rate <= 0:
                cursor.execute(
                    "SELECT extract(epoch FROM not_before - now()) FROM erasure_apithrottle "
                    "WHERE name = %s",
                    [self.name],
                )
                row = cursor.fetchone()
                return float(row[0]) if row and row[0] is not None else 0.0
            cursor.execute(
                """
                WITH t AS (
                    SELECT id, not_before,
                           least(%(burst)s, tokens + %(rate)s *
                                 extract(epoch FROM now() - refilled_at)) AS available
                    FROM erasure_apithrottle WHERE name = %(name)s FOR UPDATE
                )
                UPDATE erasure_apithrottle a
                SET tokens = CASE WHEN t.available >= 1
                                   AND (t.not_before IS NULL OR t.not_before <= now())
                             THEN t.available - 1 ELSE t.available END,
                    refilled_at = now()
                FROM t WHERE a.id = t.id
                RETURNING
                    greatest(extract(epoch FROM t.not_before - now()), 0),
                    t.available
                """,
                {"burst": self.burst, "rate": self.rate, "name": self.name},
            )
            paused, available = cursor.fetchone()
            if paused and paused > 0:
                return float(paused)
            if available >= 1:
                return 0.0
            return (1 - float(available)) / self.rate

    def _take_in_flight_slot(self) -> int:
        slot = self._take_in_flight_slot_or_none()
        if slot is not None:
            return slot
        if connection.in_atomic_block:
            # A notification waits for the end of a transaction: poll instead.
            while (slot := self._take_in_flight_slot_or_none()) is None:
                self._sleep(_POLL_SECONDS)
            return slot
        with connection.cursor() as cursor:
            cursor.execute(f"LISTEN {self._channel}")
            try:
                # Tried again once listening: a release between the first try and the
                # LISTEN notified no one.
                slot = self._take_in_flight_slot_or_none()
                while slot is None:
                    freed = [
                        note.payload
                        for note in connection.connection.notifies(
                            timeout=_LISTEN_SECONDS, stop_after=1
                        )
                    ]
                    # A release names its slot, and every waiter hears it: each tries that
                    # slot alone (one statement; the first to ask takes it), rather than
                    # all the slots in turn. Unasked (a slot freed by a connection that
                    # died notifies no one), or told no slot, it tries them all again.
                    if freed and freed[0].isdigit():
                        slot = self._try_slot(int(freed[0]))
                    else:
                        slot = self._take_in_flight_slot_or_none()
                return slot
            finally:
                cursor.execute(f"UNLISTEN {self._channel}")

    def _try_slot(self, slot: int) -> int | None:
        if slot in self._held or not 0 <= slot < self.max_in_flight:
            return None
        with prepared_cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [self._lock_class, slot])
            return slot if cursor.fetchone()[0] else None

    def _take_in_flight_slot_or_none(self) -> int | None:
        # Start at a random slot so that workers do not all contend for slot 0.
        offset = random.randrange(self.max_in_flight)  # noqa: S311 - spreading, not security
        for k in range(self.max_in_flight):
            # Advisory locks are re-entrant within a session: a slot this connection holds
            # would be granted again (`_try_slot` skips it).
            if (slot := self._try_slot((offset + k) % self.max_in_flight)) is not None:
                return slot
        return None


# The state of each API beside its throttle: refusals, and the last answer's status.


def api_refuse(name: str, *, seconds: float, reason: str) -> None:
    """Send nothing to API `name` for `seconds` (its key was refused, or cannot be read):
    every worker skips its namespaces until then; the other APIs' work goes on."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO erasure_apithrottle (name, tokens, refilled_at, refused_until,
                                             refused_reason)
            VALUES (%(name)s, 1, now(), now() + make_interval(secs => %(secs)s), %(reason)s)
            ON CONFLICT (name) DO UPDATE
            SET refused_until = excluded.refused_until, refused_reason = excluded.refused_reason
            """,
            {"name": name, "secs": seconds, "reason": reason[:1000]},
        )


def api_resume(name: str) -> bool:
    """Lift a refusal at once (an operator fixed the key); True when one was in force."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE erasure_apithrottle SET refused_until = NULL, refused_reason = ''
            WHERE name = %s AND refused_until > now()
            """,
            [name],
        )
        return cursor.rowcount > 0


def api_note_status(name: str, status: int | None) -> None:
    """Remember the status of an API's last answer; written only when it changes, so that
    the row every worker shares is not written on every call."""
    with prepared_cursor() as cursor:
        cursor.execute(
            """
            UPDATE erasure_apithrottle SET last_status = %(status)s, last_status_at = now()
            WHERE name = %(name)s AND last_status IS DISTINCT FROM %(status)s
            """,
            {"name": name, "status": status or 0},
        )


def refused_apis() -> dict[str, str]:
    """The APIs refused now, with the reason."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT name, refused_reason FROM erasure_apithrottle WHERE refused_until > now()"
        )
        return dict(cursor.fetchall())
