"""Who is alive: a lease ends when its worker dies, not only when its time runs out.

Each run of `request_execute` holds a session-level advisory lock named by its lease owner
(`OWNER_LOCK_CLASS`, `hashtext(owner)`) while it works, and each execution job one named by
its Procrastinate job id (`JOB_LOCK_CLASS`). PostgreSQL releases both the moment the
worker's connection ends (a crash, a SIGKILL, a machine lost), so a free lock means a dead
worker, at once and on every machine:

* a dead owner's claimed items are claimable again (`LEASE_BINDS` is false for them), and
  `pending_state` counts them claimable now instead of at the end of their lease;
* the sweeper re-queues a running execution job whose lock is free (`jobs_without_worker`)
  without waiting for its worker's heartbeat to go stale.

A live worker always holds its locks, so two live workers never hold one batch. The
lease's time (`ERASURE_LEASE_SECONDS`) stays as the backstop for a worker that lives but
hangs. A hash collision can only keep a dead owner's items leased until their time runs
out (the safe side).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext

from django.db import connection

OWNER_LOCK_CLASS = 0x4C454153  # "LEAS"
JOB_LOCK_CLASS = 0x4A4F4253  # "JOBS"


def lease_binds(alias: str) -> str:
    """SQL, for an item aliased `alias`: its lease still binds (time left, and its owner
    alive). The live owners are read from pg_locks once per statement (an uncorrelated
    subquery); no `%`, so it goes into statements with parameters as it is."""
    return f"""({alias}.lease_until >= now()
        AND (hashtext({alias}.lease_owner)::bigint & 4294967295) = ANY (ARRAY(
            SELECT objid::bigint FROM pg_locks WHERE locktype = 'advisory' AND granted
            AND classid = {OWNER_LOCK_CLASS}::bigint::oid AND objsubid = 2)))"""  # noqa: S608


def lease_free(alias: str) -> str:
    """SQL: the item aliased `alias` is not leased, or its lease no longer binds."""
    return f"({alias}.lease_until IS NULL OR NOT {lease_binds(alias)})"


@contextmanager
def session_lock(lock_class: int, key: int | str, *, wait: bool = True) -> Iterator[bool]:
    """The session-level advisory lock (`lock_class`, `key`) for the block: PostgreSQL
    releases it with the connection if the process dies. A text `key` is hashed by
    PostgreSQL's `hashtext`, as `lease_binds` reads it. With `wait=False` the block gets
    whether the lock was free (and holds it only then)."""
    key_sql = "hashtext(%s)" if isinstance(key, str) else "%s"
    take = "pg_advisory_lock" if wait else "pg_try_advisory_lock"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {take}(%s, {key_sql})", [lock_class, key])
        got = wait or bool(cursor.fetchone()[0])
    try:
        yield got
    finally:
        if got:
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT pg_advisory_unlock(%s, {key_sql})", [lock_class, key])


def owner_alive(owner: str) -> AbstractContextManager[bool]:
    """Hold the owner's lock while its claims are worked on."""
    return session_lock(OWNER_LOCK_CLASS, owner)


def job_alive(job_id: int | None) -> AbstractContextManager[bool]:
    """Hold the job's lock while it runs (nothing for a call outside a worker)."""
    if job_id is None:
        return nullcontext(True)
    return session_lock(JOB_LOCK_CLASS, job_id % 2**31)


def job_held(alias: str) -> str:
    """SQL, for a Procrastinate job aliased `alias`: a live worker holds its lock."""
    return f"""EXISTS (SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted
        AND l.classid = {JOB_LOCK_CLASS}::bigint::oid AND l.objsubid = 2
        AND l.objid::bigint = mod({alias}.id, 2147483648))"""  # noqa: S608
