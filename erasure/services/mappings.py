"""Registering which items belong to which subject (product.md "mapping")."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.db import connection, transaction

from erasure.actors import Actor
from erasure.errors import InvalidInput, UpstreamUnavailable
from erasure.hashing import subject_hashes
from erasure.models import AuditEventType, ErasureRequest, Namespace, RequestStatus
from erasure.services.audit import audit_record
from erasure.services.execution import items_expand
from erasure.services.namespaces import namespaces_sync
from namespace_api.client.errors import NamespaceApiError

MAX_ITEMS_PER_CALL = 10_000
MAX_ITEM_ID_LENGTH = 512


@dataclass(frozen=True)
class MappingInput:
    subject: str
    namespace: str
    item_id: str


@dataclass(frozen=True)
class RegisterResult:
    received: int
    created: int
    added_to_open_requests: int


def mappings_register(*, items: Sequence[MappingInput], actor: Actor) -> RegisterResult:
    """Register mappings in bulk; idempotent (a mapping registered twice is kept once).

    Every namespace must be known (we ask the namespace API for its list once when one is
    not). Nothing is written unless every item is valid. Items of a subject whose request
    is running are added to that request at once.
    """
    if not items:
        raise InvalidInput("items must not be empty", fields={"items": ["required"]})
    if len(items) > MAX_ITEMS_PER_CALL:
        raise InvalidInput(
            f"at most {MAX_ITEMS_PER_CALL} items per call", fields={"items": ["too many"]}
        )
    errors: dict[str, list[str]] = {}
    for index, item in enumerate(items):
        problems = []
        if not item.subject.strip():
            problems.append("subject must not be empty")
        if not item.namespace:
            problems.append("namespace must not be empty")
        if not item.item_id:
            problems.append("item_id must not be empty")
        elif len(item.item_id) > MAX_ITEM_ID_LENGTH:
            problems.append(f"item_id is longer than {MAX_ITEM_ID_LENGTH} characters")
        if problems:
            errors[f"items[{index}]"] = problems
    if errors:
        raise InvalidInput("some items are invalid", fields=errors)

    namespaces = _resolve_namespaces({i.namespace for i in items})
    hashes = subject_hashes(i.subject for i in items)
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                """
                INSERT INTO erasure_subject (key_hash, created_at)
                SELECT DISTINCT h, now() FROM unnest(%s::text[]) AS h
                ON CONFLICT (key_hash) DO NOTHING
                """,
                [list(set(hashes.values()))],
            )
            cursor.execute(
                """
                INSERT INTO erasure_itemmapping
                    (subject_id, namespace_id, item_id, registered_at, registered_by)
                SELECT s.id, v.namespace_id, v.item_id, now(), %s
                FROM unnest(%s::text[], %s::bigint[], %s::text[])
                     AS v(key_hash, namespace_id, item_id)
                JOIN erasure_subject s ON s.key_hash = v.key_hash
                ON CONFLICT (subject_id, namespace_id, item_id) DO NOTHING
                """,
                [
                    actor.label,
                    [hashes[i.subject] for i in items],
                    [namespaces[i.namespace].pk for i in items],
                    [i.item_id for i in items],
                ],
            )
            created = cursor.rowcount
        added = 0
        # A running request takes the new items now (only in the namespaces named here);
        # an approved one expands everything when its job starts, and every request sweeps
        # in what is missing before it completes.
        running = ErasureRequest.objects.filter(
            subject__key_hash__in=set(hashes.values()), status=RequestStatus.RUNNING
        ).select_related("subject")
        touched = sorted({namespaces[i.namespace].pk for i in items})
        for request in running:
            added += items_expand(request=request, actor=actor, namespace_ids=touched)
        audit_record(
            event_type=AuditEventType.MAPPINGS_REGISTERED,
            actor=actor,
            details={
                "received": len(items),
                "created": created,
                "subjects": len(set(hashes.values())),
                "added_to_open_requests": added,
            },
        )
    return RegisterResult(received=len(items), created=created, added_to_open_requests=added)


def _resolve_namespaces(names: set[str]) -> dict[str, Namespace]:
    known = {ns.name: ns for ns in Namespace.objects.filter(name__in=names)}
    if len(known) < len(names):
        try:
            namespaces_sync()
        except NamespaceApiError as exc:
            raise UpstreamUnavailable(
                "unknown namespaces, and the namespace API could not be asked for its list "
                f"(try again later): {exc}",
                fields={"namespace": sorted(names - set(known))},
            ) from exc
        known = {ns.name: ns for ns in Namespace.objects.filter(name__in=names)}
    missing = sorted(names - set(known))
    if missing:
        raise InvalidInput(
            f"unknown namespaces: {', '.join(missing[:20])}",
            fields={"namespace": [f"unknown namespace {name!r}" for name in missing[:20]]},
        )
    return known
