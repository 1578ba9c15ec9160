"""Subjects: found or created by the keyed hash of their key."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from django.db import connection

from erasure.hashing import normalize_subject_key, subject_hash
from erasure.models import Subject


def subject_get_or_create(*, key: str, keep_raw_key: bool = False) -> Subject:
    """The subject of `key`. With `keep_raw_key`, the raw key is stored (open requests only)."""
    digest = subject_hash(key)
    subject, _ = Subject.objects.get_or_create(key_hash=digest)
    if keep_raw_key and subject.raw_key != normalize_subject_key(key):
        subject.raw_key = normalize_subject_key(key)
        subject.save(update_fields=["raw_key"])
    return subject


def subject_lock_with_raw_key(*, key: str) -> Subject:
    """The subject of `key`, created if need be, with its raw key stored (an open request
    needs it) and its row locked (FOR NO KEY UPDATE) until the transaction ends: one
    statement for what subject_get_or_create(keep_raw_key=True) and subjects_lock do."""
    raw = normalize_subject_key(key)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO erasure_subject (key_hash, raw_key, created_at) VALUES (%s, %s, now())
            ON CONFLICT (key_hash) DO UPDATE SET raw_key = EXCLUDED.raw_key
            RETURNING id, key_hash, raw_key, created_at
            """,
            [subject_hash(raw), raw],
        )
        pk, key_hash, raw_key, created_at = cursor.fetchone()
    return Subject(pk=pk, key_hash=key_hash, raw_key=raw_key, created_at=created_at)


def subjects_lock(
    *, key_hashes: Iterable[str], create: bool = False, raw_keys: Mapping[str, str] | None = None
) -> dict[str, Subject]:
    """Lock the subjects of `key_hashes` (FOR NO KEY UPDATE) until the transaction ends,
    in id order, in one statement, and return them by key hash; with `create`, the missing
    ones are inserted first. `raw_keys` (key hash -> normalized raw key) stores the raw
    keys of subjects that get an open request, in one more statement.

    A filing locks its subject before it inserts the request, and a delivery that files
    for several subjects locks them all, in id order, before its first filing: two
    filings that share subjects then wait for each other at the first subject they
    share, never in a cycle.
    """
    hashes = sorted(set(key_hashes))
    if not hashes:
        return {}
    if create:
        Subject.objects.bulk_create([Subject(key_hash=h) for h in hashes], ignore_conflicts=True)
    locked = {
        subject.key_hash: subject
        for subject in Subject.objects.select_for_update(no_key=True)
        .filter(key_hash__in=hashes)
        .order_by("pk")
    }
    stale = {h: raw for h, raw in (raw_keys or {}).items() if h in locked}
    stale = {h: raw for h, raw in stale.items() if locked[h].raw_key != raw}
    if stale:
        with connection.cursor() as cursor:
            cursor.execute(
                """
                UPDATE erasure_subject AS s SET raw_key = v.raw_key
                FROM unnest(%s::text[], %s::text[]) AS v(key_hash, raw_key)
                WHERE s.key_hash = v.key_hash
                """,
                [list(stale), list(stale.values())],
            )
        for key_hash, raw in stale.items():
            locked[key_hash].raw_key = raw
    return locked
