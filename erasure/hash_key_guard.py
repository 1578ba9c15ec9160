"""The subject-hash key must never change under a database.

Subject keys, aliases and emails are stored as HMAC-SHA256 under SUBJECT_HASH_KEY
(erasure.hashing). A process with another key finds none of them ("No items mapped") and
files new rows under hashes nobody can match again: the raw keys are purged, so the
hashes cannot be re-keyed. The first migrate records a fingerprint of the key
(erasure.models.Installation); every process checks it before it starts (manage.py, for
every command and the worker; config.wsgi, for the web) and refuses to run on a mismatch.
"""

from __future__ import annotations

import hashlib
import hmac
import sys

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connection
from django.db.backends.base.base import BaseDatabaseWrapper

# A fixed text: the fingerprint is a MAC of it, which reveals nothing of the key.
_FINGERPRINT_MESSAGE = b"erasure-service: subject hash key fingerprint v1"


class HashKeyMismatch(ImproperlyConfigured):
    """The process's SUBJECT_HASH_KEY is not the one this database was made with."""


def fingerprint(key: str) -> str:
    return hmac.new(key.encode(), _FINGERPRINT_MESSAGE, hashlib.sha256).hexdigest()


def recorded_fingerprint(db: BaseDatabaseWrapper = connection) -> str | None:
    """The database's fingerprint; None before the first migrate wrote it."""
    with db.cursor() as cursor:
        cursor.execute("SELECT to_regclass('erasure_installation') IS NOT NULL")
        if not cursor.fetchone()[0]:
            return None
        cursor.execute("SELECT subject_hash_key_fingerprint FROM erasure_installation")
        row = cursor.fetchone()
    return row[0] if row else None


def check_key(recorded: str) -> None:
    """Raise HashKeyMismatch unless SUBJECT_HASH_KEY has the `recorded` fingerprint."""
    if not settings.SUBJECT_HASH_KEY:
        raise HashKeyMismatch(
            "SUBJECT_HASH_KEY is not set, but this database's subject identifiers are keyed "
            f"hashes under a key with fingerprint {recorded[:16]}. Set SUBJECT_HASH_KEY (or "
            "SUBJECT_HASH_KEY_FILE) to that key."
        )
    current = fingerprint(settings.SUBJECT_HASH_KEY)
    if not hmac.compare_digest(current, recorded):
        raise HashKeyMismatch(
            "SUBJECT_HASH_KEY is not the key this database was made with (fingerprint "
            f"{current[:16]}, the database's is {recorded[:16]}). Subject identifiers are "
            "stored as keyed hashes that cannot be re-keyed: with another key no subject "
            "would be found and new mappings would be lost. Set SUBJECT_HASH_KEY back to the "
            "original value; it must never change."
        )


class _Verified:
    done = False


def check_new_connection(sender: object, connection: BaseDatabaseWrapper, **kwargs: object) -> None:
    """`connection_created` receiver (erasure.apps): the same check on the first
    connection that finds a fingerprint, for a process that started while the database
    could not be reached (its start-up check then had nothing to compare)."""
    if _Verified.done or connection.alias != DEFAULT_DB_ALIAS:
        return
    recorded = recorded_fingerprint(connection)
    if recorded is None:
        return
    check_key(recorded)
    _Verified.done = True


def guard_subject_hash_key() -> None:
    """Raise HashKeyMismatch when SUBJECT_HASH_KEY differs from
    the key this database's hashes were made with.

    A database that cannot be reached is left to the command itself (it may not need one);
    one not migrated yet has nothing to protect.
    """
    try:
        recorded = recorded_fingerprint()
    except DatabaseError:
        return
    finally:
        connection.close()
    if recorded is None:
        return
    check_key(recorded)
    _Verified.done = True


def guard_or_exit() -> None:
    """guard_subject_hash_key() for an entry point: the message on standard error."""
    try:
        guard_subject_hash_key()
    except HashKeyMismatch as exc:
        print(f"Refusing to start: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
