"""Every write of the webhooks: acting on verified events, deferred erasures, and the
configuration of sources and secrets (which the admin calls).

A delivery's dedup rows, the requests it files and their audit events are written in one
transaction: a redelivery either finds the rows committed (a duplicate) or waits on the
unique key until the first attempt commits or rolls back.

Lock order: a delivery locks its rows (its delivery keys, then the pending deferrals of
its users, then the subjects it files for) before it files; `deferred_file_due` locks the
deferral it files first too. Audit events take no lock (erasure.services.audit).
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from erasure.actors import Actor
from erasure.errors import InvalidInput
from erasure.hashing import subject_hash, subject_hashes
from erasure.models import AuditEventType, RequestSource, Subject, SubjectAlias
from erasure.services.aliases import alias_hash, subject_for_alias
from erasure.services.audit import audit_record
from erasure.services.requests import request_file
from erasure.services.subjects import subject_get_or_create, subjects_lock
from webhooks.models import (
    DeactivationPolicy,
    DeferralState,
    DeferredErasure,
    DeliveryOutcome,
    SubjectMapping,
    WebhookDelivery,
    WebhookSecret,
    WebhookSource,
)
from webhooks.providers import DEACTIVATE, REACTIVATE, SCHEMES, Event, Malformed, secret_problem

logger = logging.getLogger("webhooks")

FILE, DEFER, CANCEL = "file", "defer", "cancel"
IGNORED = "ignored"
DUPLICATE = "duplicate"
MALFORMED = "malformed"


@dataclass
class ReceiveResult:
    outcomes: Counter[str] = field(default_factory=Counter)


def request_events_of(source: WebhookSource) -> set[str]:
    return set(source.request_events or SCHEMES[source.scheme].deletion_events)


def _action(source: WebhookSource, event: Event, wanted: set[str]) -> str | None:
    if event.event_type in wanted:
        return FILE
    if source.deactivation_policy == DeactivationPolicy.DELAY:
        if event.lifecycle == DEACTIVATE:
            return DEFER
        if event.lifecycle == REACTIVATE:
            return CANCEL
    return None


def _existing_subject(source: WebhookSource, user_id: str) -> Subject | None:
    if source.subject_mapping == SubjectMapping.ALIAS:
        return subject_for_alias(kind=source.alias_kind, alias=user_id)
    return Subject.objects.filter(key_hash=subject_hash(user_id)).first()


def webhook_receive(
    *, source: WebhookSource, events: Sequence[Event], now: datetime | None = None
) -> ReceiveResult:
    """Act on the verified events of one delivery: file requests for the source's request
    events, defer or cancel per its deactivation policy, and answer every other event as
    ignored. Each acted-upon event is recorded once under its delivery id; a repeat is a
    duplicate and changes nothing.

    Raises `Malformed` (before writing anything) when the only event of the delivery is
    one to act on that names no user; in a batch, such an event is skipped as malformed.
    """
    now = now or timezone.now()
    result = ReceiveResult()
    wanted = request_events_of(source)
    planned: dict[str, tuple[Event, str]] = {}
    for event in events:
        if event.problem:
            _skip_malformed(source, result, event.problem)
            continue
        action = _action(source, event, wanted)
        if action is None or event.delivery_id in planned:
            result.outcomes[IGNORED if action is None else DUPLICATE] += 1
            continue
        if event.user_id is None:
            problem = f"event {event.event_type} {event.delivery_id} names no user"
            if len(events) == 1:
                raise Malformed(problem)
            _skip_malformed(source, result, problem)
            continue
        planned[event.delivery_id] = (event, action)

    # A reactivation is only worth a row when it has a deferral to cancel (Okta sends one
    # per activated user, most of whom were never deactivated): one pending already, or a
    # deactivation earlier in this same batch.
    deactivated_here: set[str] = set()
    for delivery_id, (event, action) in list(planned.items()):
        assert event.user_id is not None
        if action == DEFER:
            deactivated_here.add(event.user_id)
        elif action == CANCEL and event.user_id not in deactivated_here:
            subject = _existing_subject(source, event.user_id)
            if (
                subject is None
                or not DeferredErasure.objects.filter(
                    source=source, subject=subject, state=DeferralState.PENDING
                ).exists()
            ):
                del planned[delivery_id]
                result.outcomes[IGNORED] += 1

    if planned:
        with transaction.atomic():
            claimed = {d.delivery_id: d for d in _claim(source=source, planned=planned, now=now)}
            _lock_pending_deferrals(
                source=source,
                user_ids={user for d in claimed if (user := planned[d][0].user_id) is not None},
            )
            # Every subject this delivery files for, in one order, before the first
            # filing: a filing of one of them elsewhere then waits for this delivery at
            # the subject's row, never while holding what this delivery needs. One filing
            # cannot form such a cycle (request_file locks its own subject first).
            filing = [planned[d][0] for d in claimed if planned[d][1] == FILE]
            if len(filing) > 1:
                _lock_filing_subjects(source, filing)
            # In the order of the batch: a deactivation and a reactivation of one user in
            # one delivery must cancel out.
            for delivery_id, (event, action) in planned.items():
                delivery = claimed.get(delivery_id)
                if delivery is None:
                    result.outcomes[DUPLICATE] += 1
                    continue
                if action == FILE:
                    _file(source=source, event=event, delivery=delivery)
                elif action == DEFER:
                    _defer(source=source, event=event, delivery=delivery, now=now)
                else:
                    _cancel(source=source, event=event, delivery=delivery, now=now)
                result.outcomes[delivery.outcome] += 1
            WebhookDelivery.objects.bulk_update(list(claimed.values()), ["outcome", "request"])
        for delivery_id, (event, _) in planned.items():
            delivery = claimed.get(delivery_id)
            logger.info(
                "webhook %s: %s %s -> %s",
                source.slug,
                event.event_type,
                delivery_id,
                delivery.outcome if delivery else DUPLICATE,
            )
    return result


def _lock_filing_subjects(source: WebhookSource, events: Sequence[Event]) -> None:
    """Lock the subjects the events file for, in bulk (created when new; an alias that is
    not registered has none)."""
    user_ids = [event.user_id for event in events if event.user_id is not None]
    if source.subject_mapping == SubjectMapping.ALIAS:
        key_hashes = SubjectAlias.objects.filter(
            kind=source.alias_kind,
            alias_hash__in=[alias_hash(source.alias_kind, user) for user in user_ids],
        ).values_list("subject__key_hash", flat=True)
        subjects_lock(key_hashes=key_hashes)
    else:
        subjects_lock(key_hashes=subject_hashes(user_ids).values(), create=True)


def _skip_malformed(source: WebhookSource, result: ReceiveResult, problem: str) -> None:
    """One unreadable event of a batch: answered and logged, the others still count."""
    result.outcomes[MALFORMED] += 1
    logger.warning("webhook %s: skipped a malformed event of a batch: %s", source.slug, problem)


def _claim(
    *, source: WebhookSource, planned: dict[str, tuple[Event, str]], now: datetime
) -> list[WebhookDelivery]:
    """Insert the delivery rows that do not exist yet; return those inserted (the others
    are duplicates). A concurrent attempt with the same ids waits here for ours."""
    # In a stable order: two overlapping batches then lock their delivery rows in the same
    # order, and cannot deadlock each other.
    ids = sorted(planned)
    types = [planned[i][0].event_type for i in ids]
    first_outcome = {FILE: DeliveryOutcome.FILED, DEFER: DeliveryOutcome.DEFERRED}
    outcomes = [first_outcome.get(planned[i][1], DeliveryOutcome.DEFERRAL_CANCELLED) for i in ids]
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO webhooks_webhookdelivery (source_id, delivery_id, event_type, outcome,
                                                  received_at)
            SELECT %s, v.delivery_id, v.event_type, v.outcome, %s
            FROM unnest(%s::text[], %s::text[], %s::text[]) AS v(delivery_id, event_type, outcome)
            ON CONFLICT (source_id, delivery_id) DO NOTHING
            RETURNING id, delivery_id, event_type, outcome
            """,
            [source.pk, now, ids, types, outcomes],
        )
        rows = cursor.fetchall()
    return [
        WebhookDelivery(
            id=row[0],
            source=source,
            delivery_id=row[1],
            event_type=row[2],
            outcome=row[3],
            received_at=now,
        )
        for row in rows
    ]


def _lock_pending_deferrals(*, source: WebhookSource, user_ids: set[str]) -> None:
    """Lock the pending deferrals of these users before the delivery files. Filing and
    cancelling settle them; `deferred_file_due` holds one while it files. Locked here,
    they are skipped by `deferred_file_due` instead of being filed twice."""
    if not user_ids:
        return
    pending = DeferredErasure.objects.filter(source=source, state=DeferralState.PENDING)
    if source.subject_mapping == SubjectMapping.ALIAS:
        hashes = [alias_hash(source.alias_kind, user_id) for user_id in user_ids]
        aliases = SubjectAlias.objects.filter(kind=source.alias_kind, alias_hash__in=hashes)
        pending = pending.filter(subject__in=aliases.values("subject_id"))
    else:
        keys = Subject.objects.filter(key_hash__in=subject_hashes(user_ids).values())
        pending = pending.filter(subject__in=keys.values("pk"))
    # In id order, so that two deliveries locking some of the same rows cannot deadlock.
    list(pending.select_for_update(no_key=True).order_by("pk").values_list("pk", flat=True))


def _file(*, source: WebhookSource, event: Event, delivery: WebhookDelivery) -> None:
    assert event.user_id is not None
    actor = Actor.for_webhook(source.slug)
    subject_key, subject = event.user_id, None
    if source.subject_mapping == SubjectMapping.ALIAS:
        subject_key, subject = "", subject_for_alias(kind=source.alias_kind, alias=event.user_id)
        if subject is None:
            _unknown_subject(source=source, event=event, delivery=delivery, actor=actor)
            return
    filed = request_file(
        subject_key=subject_key,
        subject=subject,
        actor=actor,
        source=RequestSource.WEBHOOK,
        regulation=source.regulation,
        reason=f"Identity webhook {source.slug}: {event.event_type}",
        auto_approve=source.auto_approve,
        grace_hours=source.grace_hours,
    )
    delivery.request = filed.request
    delivery.outcome = DeliveryOutcome.FILED if filed.created else DeliveryOutcome.ALREADY_OPEN
    # A deletion overtakes a deactivation waiting out its delay: filing that one later
    # would only repeat this request.
    DeferredErasure.objects.filter(
        source=source, subject=filed.request.subject, state=DeferralState.PENDING
    ).update(state=DeferralState.FILED, request=filed.request, settled_at=timezone.now())


def _unknown_subject(
    *, source: WebhookSource, event: Event, delivery: WebhookDelivery, actor: Actor
) -> None:
    """No subject has this alias: nothing to erase here. Audited with the alias's keyed
    hash only, so that a later registration can be traced back to this delivery."""
    delivery.outcome = DeliveryOutcome.UNKNOWN_SUBJECT
    assert event.user_id is not None
    audit_record(
        event_type=AuditEventType.WEBHOOK_UNKNOWN_SUBJECT,
        actor=actor,
        details={
            "source": source.slug,
            "event_type": event.event_type,
            "delivery_id": event.delivery_id,
            "alias_kind": source.alias_kind,
            "alias_hash": alias_hash(source.alias_kind, event.user_id),
        },
    )


def _defer(
    *, source: WebhookSource, event: Event, delivery: WebhookDelivery, now: datetime
) -> None:
    assert event.user_id is not None
    actor = Actor.for_webhook(source.slug)
    if source.subject_mapping == SubjectMapping.ALIAS:
        subject = subject_for_alias(kind=source.alias_kind, alias=event.user_id)
        if subject is None:
            _unknown_subject(source=source, event=event, delivery=delivery, actor=actor)
            return
    else:
        # Only the keyed hash: the raw key is kept while a request is open, and there is
        # none yet.
        subject = subject_get_or_create(key=event.user_id)
    due = now + timedelta(hours=source.deactivation_delay_hours)
    try:
        with transaction.atomic():
            DeferredErasure.objects.create(
                source=source, subject=subject, delivery=delivery, due_at=due
            )
    except IntegrityError:
        delivery.outcome = DeliveryOutcome.ALREADY_DEFERRED
        return
    audit_record(
        event_type=AuditEventType.WEBHOOK_DEFERRED,
        actor=actor,
        subject_hash=subject.key_hash,
        details={
            "source": source.slug,
            "event_type": event.event_type,
            "delivery_id": event.delivery_id,
            "due_at": due.isoformat(),
        },
    )


def _cancel(
    *, source: WebhookSource, event: Event, delivery: WebhookDelivery, now: datetime
) -> None:
    assert event.user_id is not None
    subject = _existing_subject(source, event.user_id)
    cancelled = (
        DeferredErasure.objects.filter(
            source=source, subject=subject, state=DeferralState.PENDING
        ).update(state=DeferralState.CANCELLED, settled_at=now)
        if subject is not None
        else 0
    )
    if not cancelled or subject is None:
        # Filed or cancelled by someone else since the check before the transaction.
        delivery.outcome = DeliveryOutcome.NOTHING_TO_CANCEL
        return
    audit_record(
        event_type=AuditEventType.WEBHOOK_DEFERRAL_CANCELLED,
        actor=Actor.for_webhook(source.slug),
        subject_hash=subject.key_hash,
        details={
            "source": source.slug,
            "event_type": event.event_type,
            "delivery_id": event.delivery_id,
        },
    )


def deferred_file_due(*, now: datetime | None = None, limit: int = 500) -> int:
    """File the requests of deferrals whose delay has run out; returns how many were
    settled. Each in its own transaction, claimed with SKIP LOCKED so that two workers
    never file the same one."""
    now = now or timezone.now()
    settled = 0
    while settled < limit:
        with transaction.atomic():
            deferral = (
                DeferredErasure.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("source", "subject", "delivery")
                # A source disabled, or set back to "ignore", files nothing more.
                .filter(
                    state=DeferralState.PENDING,
                    due_at__lte=now,
                    source__enabled=True,
                    source__deactivation_policy=DeactivationPolicy.DELAY,
                )
                .order_by("due_at")
                .first()
            )
            if deferral is None:
                break
            source = deferral.source
            filed = request_file(
                subject_key="",
                subject=deferral.subject,
                actor=Actor.for_webhook(source.slug),
                source=RequestSource.WEBHOOK,
                regulation=source.regulation,
                reason=f"Identity webhook {source.slug}: "
                f"{deferral.delivery.event_type}, after {source.deactivation_delay_hours} h",
                auto_approve=source.auto_approve,
                grace_hours=source.grace_hours,
            )
            deferral.state = DeferralState.FILED
            deferral.request = filed.request
            deferral.settled_at = timezone.now()
            deferral.save(update_fields=["state", "request", "settled_at"])
        logger.info(
            "webhook %s: deferred %s -> %s",
            source.slug,
            deferral.delivery.delivery_id,
            "filed" if filed.created else "already_open",
        )
        settled += 1
    return settled


# --- configuration (the admin) -----------------------------------------------------------


def secret_prefix(value: str) -> str:
    """What the admin and the audit trail show of a secret: a fingerprint (the first 8 hex
    digits of its SHA-256), enough to tell two apart and nothing of the secret itself (the
    start of a `Basic` credential would be the start of its user name)."""
    return "#" + hashlib.sha256(value.encode()).hexdigest()[:8]


def source_save(
    *, source: WebhookSource, actor: Actor, changed_fields: Sequence[str] = ()
) -> WebhookSource:
    """Create or change a source, with its audit event (field names only)."""
    created = source.pk is None
    with transaction.atomic():
        source.save()
        audit_record(
            event_type=AuditEventType.WEBHOOK_SOURCE_CHANGED,
            actor=actor,
            details={
                "source": source.slug,
                "action": "created" if created else "changed",
                "fields": sorted(changed_fields),
            },
        )
    return source


def secret_add(*, source: WebhookSource, value: str, actor: Actor) -> WebhookSecret:
    """Add an active secret; the source's other active secrets stay valid (rotation)."""
    problem = secret_problem(source.scheme, value)
    if problem:
        raise InvalidInput(problem, fields={"value": [problem]})
    with transaction.atomic():
        secret = WebhookSecret.objects.create(
            source=source, value=value, prefix=secret_prefix(value)
        )
        audit_record(
            event_type=AuditEventType.WEBHOOK_SOURCE_CHANGED,
            actor=actor,
            details={"source": source.slug, "action": "secret_added", "prefix": secret.prefix},
        )
    return secret


def secret_revoke(*, secret: WebhookSecret, actor: Actor) -> bool:
    """Revoke an active secret; deliveries signed with it fail from now on."""
    with transaction.atomic():
        revoked = WebhookSecret.objects.filter(pk=secret.pk, active=True).update(
            active=False, revoked_at=timezone.now()
        )
        if revoked:
            audit_record(
                event_type=AuditEventType.WEBHOOK_SOURCE_CHANGED,
                actor=actor,
                details={
                    "source": secret.source.slug,
                    "action": "secret_revoked",
                    "prefix": secret.prefix,
                },
            )
    return bool(revoked)
