"""Keyed hashes of subject identifiers (product.md, "Privacy of the service itself").

HMAC-SHA256 with SUBJECT_HASH_KEY: the same subject key always maps to the same hash, so
lookups work, while the table alone does not reveal who the subjects are.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def normalize_subject_key(key: str) -> str:
    """Keys are compared as given, minus surrounding white space (IdP ids are case-sensitive)."""
    return key.strip()


def _key() -> bytes:
    if not settings.SUBJECT_HASH_KEY:
        raise ImproperlyConfigured(
            "SUBJECT_HASH_KEY is not set: subject identifiers cannot be hashed. Set it (or "
            "SUBJECT_HASH_KEY_FILE) once, to a long random value, and never change it."
        )
    return settings.SUBJECT_HASH_KEY.encode()


def subject_hash(key: str) -> str:
    return hmac.new(_key(), normalize_subject_key(key).encode(), hashlib.sha256).hexdigest()


def subject_hashes(keys: Iterable[str]) -> dict[str, str]:
    """Map each distinct key to its hash (one HMAC object reused for speed)."""
    base = hmac.new(_key(), digestmod=hashlib.sha256)
    result = {}
    for key in keys:
        if key not in result:
            h = base.copy()
            h.update(normalize_subject_key(key).encode())
            result[key] = h.hexdigest()
    return result
