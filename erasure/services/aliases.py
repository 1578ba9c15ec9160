"""Aliases: other identifiers of a subject (an identity provider's user id, an email).

Applications register them next to their mappings; identity webhooks and the admin find a
subject by an alias. Only keyed hashes are stored.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import connection, transaction

from erasure.actors import Actor
from erasure.errors import InvalidInput
from erasure.hashing import subject_hash, subject_hashes
from erasure.models import AuditEventType, Subject, SubjectAlias
from erasure.services.audit import audit_record

MAX_ALIASES_PER_CALL = 10_000
MAX_ALIAS_LENGTH = 512
KIND_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,39}$")


@dataclass(frozen=True)
class AliasInput:
    subject: str
    kind: str
    alias: str


@dataclass(frozen=True)
class AliasResult:
    received: int
    created: int
    conflicts: int
    """Aliases already registered to another subject: kept as they were, never moved."""


def normalize_alias(kind: str, alias: str) -> str:
    """Emails compare case-insensitively; every other alias as given (IdP ids are
    case-sensitive), minus surrounding white space."""
    alias = alias.strip()
    return alias.lower() if kind == "email" else alias


def alias_hash(kind: str, alias: str) -> str:
    return subject_hash(normalize_alias(kind, alias))


def subject_for_alias(*, kind: str, alias: str) -> Subject | None:
    """The subject an alias of `kind` was registered for, if any."""
    found = (
        SubjectAlias.objects.filter(kind=kind, alias_hash=alias_hash(kind, alias))
        .select_related("subject")
        .first()
    )
    return found.subject if found else None


def aliases_register(*, items: Sequence[AliasInput], actor: Actor) -> AliasResult:
    """Register aliases in bulk (set-based, idempotent). Nothing is written unless every
    item is valid."""
    if not items:
        raise InvalidInput("items must not be empty", fields={"items": ["required"]})
    if len(items) > MAX_ALIASES_PER_CALL:
        raise InvalidInput(
            f"at most {MAX_ALIASES_PER_CALL} items per call", fields={"items": ["too many"]}
        )
    errors: dict[str, list[str]] = {}
    for index, item in enumerate(items):
        problems = []
        if not item.subject.strip():
            problems.append("subject must not be empty")
        if not KIND_PATTERN.match(item.kind or ""):
            problems.append("kind must be 1-40 characters of a-z, 0-9, '_', '.', '-'")
        if not item.alias.strip():
            problems.append("alias must not be empty")
        elif len(item.alias) > MAX_ALIAS_LENGTH:
            problems.append(f"alias is longer than {MAX_ALIAS_LENGTH} characters")
        if problems:
            errors[f"items[{index}]"] = problems
    if errors:
        raise InvalidInput("some items are invalid", fields=errors)

    subjects = subject_hashes(i.subject for i in items)
    kinds = [i.kind for i in items]
    aliases = [alias_hash(i.kind, i.alias) for i in items]
    owners = [subjects[i.subject] for i in items]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO erasure_subject (key_hash, created_at)
            SELECT DISTINCT h, now() FROM unnest(%s::text[]) AS h
            ON CONFLICT (key_hash) DO NOTHING
            """,
            [list(set(owners))],
        )
        cursor.execute(
            """
            INSERT INTO erasure_subjectalias (kind, alias_hash, subject_id, registered_at,
                                              registered_by)
            SELECT DISTINCT ON (v.kind, v.alias_hash) v.kind, v.alias_hash, s.id, now(), %s
            FROM unnest(%s::text[], %s::text[], %s::text[]) AS v(kind, alias_hash, owner)
            JOIN erasure_subject s ON s.key_hash = v.owner
            ORDER BY v.kind, v.alias_hash
            ON CONFLICT (kind, alias_hash) DO NOTHING
            """,
            [actor.label, kinds, aliases, owners],
        )
        created = cursor.rowcount
        cursor.execute(
            """
            SELECT count(*)
            FROM unnest(%s::text[], %s::text[], %s::text[]) AS v(kind, alias_hash, owner)
            JOIN erasure_subjectalias a ON a.kind = v.kind AND a.alias_hash = v.alias_hash
            JOIN erasure_subject s ON s.id = a.subject_id
            WHERE s.key_hash <> v.owner
            """,
            [kinds, aliases, owners],
        )
        conflicts = cursor.fetchone()[0]
        audit_record(
            event_type=AuditEventType.ALIASES_REGISTERED,
            actor=actor,
            details={"received": len(items), "created": created, "conflicts": conflicts},
        )
    return AliasResult(received=len(items), created=created, conflicts=conflicts)
