"""Subjects: found or created by the keyed hash of their key."""

from __future__ import annotations

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
