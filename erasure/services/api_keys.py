"""API keys: created once (the key is shown once), stored as a SHA-256 hash."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from datetime import timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from erasure.actors import Actor
from erasure.errors import Conflict, InvalidInput
from erasure.models import ApiKey, AuditEventType
from erasure.services.audit import audit_record

KEY_PREFIX = "esk_"
LAST_USED_PRECISION = timedelta(minutes=1)


def hash_key(raw: str) -> str:
    # A fast hash is right here: the key has 256 bits of entropy, nothing to brute-force.
    return hashlib.sha256(raw.encode()).hexdigest()


def api_key_create(*, name: str, scopes: Iterable[str], actor: Actor) -> tuple[ApiKey, str]:
    """Create a key; returns the row and the raw key, which is never stored."""
    name = name.strip()
    scope_list = sorted(set(scopes))
    if not name:
        raise InvalidInput("name must not be empty")
    if len(name) > 100:
        raise InvalidInput("name is longer than 100 characters")
    unknown = [s for s in scope_list if s not in ApiKey.Scope.values]
    if unknown or not scope_list:
        raise InvalidInput(
            f"scopes must be among {', '.join(ApiKey.Scope.values)}; got {unknown or 'none'}"
        )
    raw = KEY_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        if ApiKey.objects.filter(name=name).exists():
            raise Conflict(f"an API key named {name!r} exists already")
        key = ApiKey.objects.create(
            name=name, prefix=raw[: len(KEY_PREFIX) + 8], key_hash=hash_key(raw), scopes=scope_list
        )
        audit_record(
            event_type=AuditEventType.API_KEY_CREATED,
            actor=actor,
            details={"name": name, "scopes": scope_list, "prefix": key.prefix},
        )
    return key, raw


def api_key_authenticate(raw: str) -> ApiKey | None:
    """The active key matching `raw`, with its last use recorded; None otherwise."""
    key = ApiKey.objects.filter(key_hash=hash_key(raw), revoked_at__isnull=True).first()
    if key is None:
        return None
    now = timezone.now()
    # Recording every use would write on every request; a minute's precision is enough.
    # The condition is repeated in the UPDATE so that a burst of calls writes once.
    if key.last_used_at is None or now - key.last_used_at >= LAST_USED_PRECISION:
        ApiKey.objects.filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lte=now - LAST_USED_PRECISION),
            pk=key.pk,
        ).update(last_used_at=now)
        key.last_used_at = now
    return key


def api_key_revoke(*, key: ApiKey, actor: Actor) -> ApiKey:
    """Revoke a key: from now on it authenticates nothing (401). Revoking is final: a new
    key is created with `create_api_key`. Revoking a revoked key is a Conflict."""
    with transaction.atomic():
        now = timezone.now()
        updated = ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(revoked_at=now)
        if updated != 1:
            raise Conflict(f"the API key {key.name!r} is already revoked")
        key.revoked_at = now
        audit_record(
            event_type=AuditEventType.API_KEY_REVOKED,
            actor=actor,
            details={"name": key.name, "prefix": key.prefix},
        )
    return key
