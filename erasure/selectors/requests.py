"""Reads about erasure requests."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from erasure.apis import apis, namespace_label
from erasure.deadlines import due_at
from erasure.errors import NotFound
from erasure.lifecycle import AWAITING_START_STATUSES, OPEN_STATUSES, STATE_CLOCKS
from erasure.models import (
    ErasureItem,
    ErasureRequest,
    ItemMapping,
    ItemOutcome,
    Namespace,
    Subject,
)


def request_get(*, request_id: str | uuid.UUID) -> ErasureRequest:
    try:
        return ErasureRequest.objects.select_related(
            "subject", "filed_by", "approved_by", "filed_by_api_key", "approved_by_api_key"
        ).get(pk=request_id)
    except (ErasureRequest.DoesNotExist, ValidationError, ValueError) as exc:
        # A malformed UUID is as unknown as a well-formed one that matches nothing.
        raise NotFound("erasure request not found") from exc


SHORT_ID_LENGTH = 8


def request_by_typed_id(typed: str) -> ErasureRequest:
    """The request a person typed: its whole id, or the first 8 or more characters of it
    that every page shows (hyphens optional, any case). NotFound, with a message for that
    person, when nothing matches, when the prefix is shorter than 8 characters or not hex,
    or when it matches more than one request."""
    text = typed.strip().lower()
    try:
        return request_get(request_id=uuid.UUID(text))
    except (ValueError, NotFound):
        pass
    hex_digits = text.replace("-", "")
    if not SHORT_ID_LENGTH <= len(hex_digits) <= 32 or any(
        c not in "0123456789abcdef" for c in hex_digits
    ):
        raise NotFound(
            f"“{typed.strip()[:40]}” is not a request id: give the whole id or its first "
            f"{SHORT_ID_LENGTH} characters, as the pages show them"
        )
    low = uuid.UUID(hex_digits.ljust(32, "0"))
    high = uuid.UUID(hex_digits.ljust(32, "f"))
    matches = list(ErasureRequest.objects.filter(pk__gte=low, pk__lte=high).order_by("pk")[:2])
    if not matches:
        raise NotFound(f"no request's id begins with {hex_digits}")
    if len(matches) > 1:
        raise NotFound(f"more than one request's id begins with {hex_digits}: type more of the id")
    return matches[0]


def unexpanded_sql(alias: str, namespace: str) -> str:
    """SQL: the mapping aliased `alias` sorts after the last item of the request (parameter
    `request`) in `namespace` (SQL): not an item yet. Claims expand a namespace in
    `item_id` order (`expansion.items_expand_leased`), so what lies past its last item is
    what is left to expand; one descent of the unique index finds that item. (A mapping
    before it not expanded yet, one registered as the request was approved, is swept in
    before the request completes, as always.)"""
    return f"""{alias}.item_id > coalesce((
        SELECT max(x.item_id) FROM erasure_erasureitem x
        WHERE x.request_id = %(request)s AND x.namespace_id = {namespace}), '')"""  # noqa: S608


def request_unexpanded_counts(*, request: ErasureRequest) -> dict[int, int]:
    """Per namespace id: the mappings a started, open request has not expanded yet (its
    claims expand them as they go), pending in everything that counts its items. One
    range count of the mapping key per namespace with any."""
    if request.status not in OPEN_STATUSES or request.started_at is None:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT n.id, (SELECT count(*) FROM erasure_itemmapping m
                          WHERE m.subject_id = %(subject)s AND m.namespace_id = n.id
                            AND {unexpanded_sql("m", "n.id")})
            FROM erasure_namespace n
            """,  # noqa: S608 (the constant above)
            {"request": request.pk, "subject": request.subject_id},
        )
        return {pk: n for pk, n in cursor.fetchall() if n}


def request_outcome_counts(*, request: ErasureRequest) -> dict[str, int]:
    """Items per outcome, every outcome present (zeros included)."""
    counts = dict.fromkeys(ItemOutcome.values, 0)
    rows = request.items.values("outcome").annotate(n=Count("id")).order_by()
    for row in rows:
        counts[row["outcome"]] = row["n"]
    counts[ItemOutcome.PENDING] += sum(request_unexpanded_counts(request=request).values())
    counts["total"] = sum(counts[o] for o in ItemOutcome.values)
    if counts["total"] == 0 and _not_started(request):
        # Filed, approved or scheduled, not started yet: its items are expanded when its
        # job starts; until then, the subject's mappings are what is pending (what will
        # be erased).
        counts[ItemOutcome.PENDING] = counts["total"] = ItemMapping.objects.filter(
            subject_id=request.subject_id
        ).count()
    return counts


def _not_started(request: ErasureRequest) -> bool:
    """Open, and its job has not started: no item of it exists yet."""
    if request.status in AWAITING_START_STATUSES:
        return True
    return request.status in OPEN_STATUSES and request.started_at is None


def request_items(
    *, request: ErasureRequest, outcome: str | None = None, namespace: str | None = None
) -> QuerySet[ErasureItem]:
    items = request.items.select_related("namespace").order_by("id")
    if outcome:
        items = items.filter(outcome=outcome)
    if namespace:
        # A name, or API/name for a namespace of another API (as the items show it).
        api, _, name = namespace.rpartition("/")
        if api and api in apis():
            items = items.filter(namespace__api=api, namespace__name=name)
        else:
            items = items.filter(namespace__name=namespace)
    return items


def requests_list(
    *,
    status: str | None = None,
    source: str | None = None,
    regulation: str | None = None,
    received_after: datetime | None = None,
    received_before: datetime | None = None,
    subject_hash: str | None = None,
) -> QuerySet[ErasureRequest]:
    """Requests matching every filter given, newest first (`received_after` inclusive,
    `received_before` exclusive). A subject is named by its keyed hash, never its key."""
    requests = ErasureRequest.objects.select_related("subject").order_by("-received_at", "-id")
    if status:
        requests = requests.filter(status=status)
    if source:
        requests = requests.filter(source=source)
    if regulation:
        requests = requests.filter(regulation=regulation)
    if received_after is not None:
        requests = requests.filter(received_at__gte=received_after)
    if received_before is not None:
        requests = requests.filter(received_at__lt=received_before)
    if subject_hash:
        requests = requests.filter(subject__key_hash=subject_hash)
    return requests


def request_counts_by_namespace(*, request: ErasureRequest) -> list[dict[str, Any]]:
    """Per namespace: its label (`name`: the namespace's name, after its API's unless that
    is the default API), API, kind, and items per outcome (every outcome, zeros too), the
    mappings a running request has not expanded yet counted pending."""
    rows = list(
        request.items.values("namespace__api", "namespace__name", "namespace__kind", "outcome")
        .annotate(n=Count("id"))
        .order_by()
    )
    unexpanded = request_unexpanded_counts(request=request)
    for namespace in Namespace.objects.filter(pk__in=unexpanded):
        rows.append(
            {
                "namespace__api": namespace.api,
                "namespace__name": namespace.name,
                "namespace__kind": namespace.kind,
                "outcome": ItemOutcome.PENDING,
                "n": unexpanded[namespace.pk],
            }
        )
    rows.sort(key=lambda row: (row["namespace__name"], row["namespace__api"]))
    table: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows:
        api, name = row["namespace__api"], row["namespace__name"]
        entry = table.setdefault(
            (api, name),
            {
                "name": namespace_label(api, name),
                "api": api,
                "kind": row["namespace__kind"],
                "counts": dict.fromkeys(ItemOutcome.values, 0),
            },
        )
        entry["counts"][row["outcome"]] += row["n"]
    for entry in table.values():
        entry["total"] = sum(entry["counts"].values())
    return list(table.values())


def filing_preview(*, subject: Subject | None, regulation: str) -> dict[str, Any]:
    """What filing a request now would cover: the subject's mapped items per namespace,
    its open request if it has one, and the deadline the regulation sets."""
    now = timezone.now()
    namespaces: list[dict[str, Any]] = []
    open_request = None
    if subject is not None:
        namespaces = [
            {"name": row["namespace__name"], "kind": row["namespace__kind"], "items": row["n"]}
            for row in ItemMapping.objects.filter(subject=subject)
            .values("namespace__name", "namespace__kind")
            .annotate(n=Count("id"))
            .order_by("namespace__name")
        ]
        found = ErasureRequest.objects.filter(subject=subject, status__in=OPEN_STATUSES).first()
        open_request = str(found.pk) if found else None
    return {
        "subject_known": subject is not None,
        "subject_hash": subject.key_hash[:12] if subject is not None else None,
        "namespaces": namespaces,
        "items": sum(ns["items"] for ns in namespaces),
        "open_request": open_request,
        "due_at": due_at(regulation=regulation, received_at=now).isoformat(),
    }


def over_state_limit(*, now: datetime | None = None) -> Q:
    """Requests in a non-terminal state for longer than that state's limit
    (settings.ERASURE_STATE_LIMIT_HOURS): stuck, for an operator to look at."""
    now = now or timezone.now()
    condition = Q(pk__in=[])
    for state, clock in STATE_CLOCKS.items():
        hours = settings.ERASURE_STATE_LIMIT_HOURS[state]
        condition |= Q(status=state, **{f"{clock}__lt": now - timedelta(hours=hours)})
    return condition
