"""Every write of the webhooks: recording verified events, acting on them, deferred
erasures, and the configuration of sources and secrets (which the admin calls).

A delivery is acted upon in two steps:
1. `webhook_accept` (the view, after verification): one INSERT of the delivery rows,
   `received`. The unique key on (source, delivery id) makes a redelivery a duplicate: it
   finds the row committed, or waits on the key until the first attempt commits or rolls
   back. Then a worker is woken. This is the whole of the provider's wait: Okta allows
   3 s, Svix 15 s (identity-webhooks.md: "verify, persist, enqueue, then return 2xx").
2. `deliveries_process` (the worker): takes received rows in bulk (SKIP LOCKED: workers
   on several machines share the work), files their requests set-based, defers or cancels
   per the source's deactivation policy, and sets each row's outcome, in one transaction
   per batch. The raw user id leaves the row in that same transaction.

Lock order: a batch locks its deliveries, then the pending deferrals of its users, then
the subjects it files for, before it files; `deferred_file_due` locks the deferral it files
first too. Audit events take no lock (erasure.services.audit).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from erasure import queue
from erasure.actors import Actor
from erasure.errors import InvalidInput
from erasure.hashing import subject_hash, subject_hashes
from erasure.models import AuditEventType, ErasureRequest, RequestSource, Subject, SubjectAlias
from erasure.services.aliases import alias_hash, subject_for_alias
from erasure.services.audit import audit_record
from erasure.services.requests import (
    MAX_SUBJECT_KEY_LENGTH,
    Filing,
    request_file,
    requests_file,
)
from erasure.services.subjects import subject_get_or_create, subjects_lock
from webhooks.models import (
    DeactivationPolicy,
    DeferralState,
    DeferredErasure,
    DeliveryAction,
    DeliveryOutcome,
    SubjectMapping,
    WebhookDelivery,
    WebhookSecret,
    WebhookSource,
)
from webhooks.providers import DEACTIVATE, REACTIVATE, SCHEMES, Event, Malformed, secret_problem

logger = logging.getLogger("webhooks")

ACCEPTED = "accepted"
IGNORED = "ignored"
DUPLICATE = "duplicate"
MALFORMED = "malformed"

PROCESS_BATCH = 500
"""Deliveries a worker acts on in one transaction."""
RECORD_CHUNK = 1000
"""Delivery rows per INSERT at intake."""
GATHER_SECONDS = 1.0
"""How long the worker's task lets deliveries gather after a batch that was not full."""


@dataclass
class ReceiveResult:
    outcomes: Counter[str] = field(default_factory=Counter)


def request_events_of(source: WebhookSource) -> set[str]:
    return set(source.request_events or SCHEMES[source.scheme].deletion_events)


def _action(source: WebhookSource, event: Event, wanted: set[str]) -> str | None:
    if event.event_type in wanted:
        return DeliveryAction.FILE
    if source.deactivation_policy == DeactivationPolicy.DELAY:
        if event.lifecycle == DEACTIVATE:
            return DeliveryAction.DEFER
        if event.lifecycle == REACTIVATE:
            return DeliveryAction.CANCEL
    return None


def _existing_subject(source: WebhookSource, user_id: str) -> Subject | None:
    if source.subject_mapping == SubjectMapping.ALIAS:
        return subject_for_alias(kind=source.alias_kind, alias=user_id)
    return Subject.objects.filter(key_hash=subject_hash(user_id)).first()


# --- intake (the view) -------------------------------------------------------------------


def webhook_accept(
    *, source: WebhookSource, events: Sequence[Event], now: datetime | None = None
) -> ReceiveResult:
    """Record the verified events of one delivery that the source acts upon (its request
    events, and deactivations and reactivations under the delay policy), and wake a
    worker to act on them. Every other event is answered as ignored; a repeat of a
    recorded delivery id is a duplicate and changes nothing.

    Raises `Malformed` (before writing anything) when the only event of the delivery is
    one to act on whose user is missing or too long; in a batch, such an event is skipped
    as malformed.
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
        problem = ""
        if event.user_id is None:
            problem = f"event {event.event_type} {event.delivery_id} names no user"
        elif len(event.user_id) > MAX_SUBJECT_KEY_LENGTH:
            problem = f"event {event.event_type} {event.delivery_id}: the user id is too long"
        if problem:
            if len(events) == 1:
                raise Malformed(problem)
            _skip_malformed(source, result, problem)
            continue
        planned[event.delivery_id] = (event, action)

    # A reactivation is only worth a row when it may have a deferral to cancel (Okta sends
    # one per activated user, most of whom were never deactivated): one pending already,
    # one waiting for the worker, or a deactivation earlier in this same batch.
    deactivated_here: set[str] = set()
    for delivery_id, (event, action) in list(planned.items()):
        assert event.user_id is not None
        if action == DeliveryAction.DEFER:
            deactivated_here.add(event.user_id)
        elif (
            action == DeliveryAction.CANCEL
            and event.user_id not in deactivated_here
            and not _may_have_a_deferral(source, event.user_id)
        ):
            del planned[delivery_id]
            result.outcomes[IGNORED] += 1

    if planned:
        recorded = _record(source=source, planned=planned, now=now)
        if recorded:
            transaction.on_commit(_wake_worker, robust=True)
        for delivery_id, (event, _) in planned.items():
            outcome = ACCEPTED if delivery_id in recorded else DUPLICATE
            result.outcomes[outcome] += 1
            logger.info(
                "webhook %s: %s %s -> %s", source.slug, event.event_type, delivery_id, outcome
            )
    return result


def _may_have_a_deferral(source: WebhookSource, user_id: str) -> bool:
    waiting = WebhookDelivery.objects.filter(
        source=source,
        outcome=DeliveryOutcome.RECEIVED,
        action=DeliveryAction.DEFER,
        pending_user_id=user_id,
    )
    if waiting.exists():
        return True
    subject = _existing_subject(source, user_id)
    return (
        subject is not None
        and DeferredErasure.objects.filter(
            source=source, subject=subject, state=DeferralState.PENDING
        ).exists()
    )


def _wake_worker() -> None:
    queue.enqueue_webhook_processing()


def _skip_malformed(source: WebhookSource, result: ReceiveResult, problem: str) -> None:
    """One unreadable event of a batch: answered and logged, the others still count."""
    result.outcomes[MALFORMED] += 1
    logger.warning("webhook %s: skipped a malformed event of a batch: %s", source.slug, problem)


def _record(
    *, source: WebhookSource, planned: dict[str, tuple[Event, str]], now: datetime
) -> set[str]:
    """Insert the delivery rows that do not exist yet, in one statement; return the ids
    of those inserted (the others are duplicates). A concurrent attempt with the same ids
    waits here for ours."""
    # In the batch's order, which the worker keeps by id (a deactivation and a reactivation
    # of one user in one batch cancel out). A retry carries the same events in the same
    # order, so two attempts of one delivery lock their keys in one order.
    rows = [
        (source.pk, delivery_id, event.event_type, action, event.user_id, now)
        for delivery_id, (event, action) in planned.items()
    ]
    recorded: set[str] = set()
    # All or nothing; one chunk is one statement, atomic on its own.
    several = len(rows) > RECORD_CHUNK
    with transaction.atomic() if several else nullcontext(), connection.cursor() as cursor:
        # VALUES lists, inserted in their order: most deliveries carry one event, and
        # arrays cost more to send than the row itself. In chunks: a batch of small events
        # in a 1 MiB body would pass PostgreSQL's 65,535 parameters.
        for start in range(0, len(rows), RECORD_CHUNK):
            chunk = rows[start : start + RECORD_CHUNK]
            values = ", ".join(["(%s, %s, %s, %s, 'received', %s, %s, '')"] * len(chunk))
            cursor.execute(
                f"""
                INSERT INTO webhooks_webhookdelivery (source_id, delivery_id, event_type,
                    action, outcome, pending_user_id, received_at, error)
                VALUES {values}
                ON CONFLICT (source_id, delivery_id) DO NOTHING
                RETURNING delivery_id
                """,  # noqa: S608 (placeholders only)
                [value for row in chunk for value in row],
            )
            recorded.update(row[0] for row in cursor.fetchall())
    return recorded


# --- acting on received deliveries (the worker) ------------------------------------------


def deliveries_process(
    *, batch: int = PROCESS_BATCH, limit: int | None = None, gather_seconds: float = 0
) -> int:
    """Act on received deliveries, oldest first, `batch` per transaction, until none is
    left (or `limit` are done); returns how many were acted upon. Safe to run on several
    workers at once: each batch is claimed with SKIP LOCKED.

    After a batch smaller than `batch`, it waits `gather_seconds` before it looks again:
    during a burst, deliveries keep arriving one by one, and a batch costs a few
    statements whatever its size, so gathering them costs a fraction of a second of
    latency and spares the CPU that the intake shares.

    A batch that fails is acted upon again one delivery at a time, so that one delivery
    that cannot be acted upon (its error is kept on the row, `failed`) holds up no other.
    """
    done = 0
    while limit is None or done < limit:
        size = batch if limit is None else min(batch, limit - done)
        try:
            with transaction.atomic():
                claimed = _claim_received(size)
                if not claimed:
                    break
                _act(claimed)
        except Exception as exc:
            # The class only: a database error's text may quote a row's values.
            logger.error(
                "webhooks: a batch failed (%s); acting on its deliveries one by one",
                type(exc).__name__,
            )
            claimed = _act_one_by_one(size)
            if not claimed:
                break
        done += len(claimed)
        if gather_seconds and len(claimed) < size:
            time.sleep(gather_seconds)
    return done


def _claim_received(size: int, *, after: int = 0) -> list[WebhookDelivery]:
    return list(
        WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("source")
        .filter(outcome=DeliveryOutcome.RECEIVED, pk__gt=after)
        .order_by("pk")[:size]
    )


def _act_one_by_one(size: int) -> list[WebhookDelivery]:
    done: list[WebhookDelivery] = []
    after = 0
    while len(done) < size:
        delivery: WebhookDelivery | None = None
        try:
            with transaction.atomic():
                claimed = _claim_received(1, after=after)
                if not claimed:
                    break
                delivery = claimed[0]
                _act(claimed)
        except Exception as exc:
            if delivery is None:
                raise
            logger.error(
                "webhooks: delivery %s of source %s failed (%s)",
                delivery.pk,
                delivery.source.slug,
                type(exc).__name__,
            )
            # The row keeps its user id: an operator can set it back to received.
            WebhookDelivery.objects.filter(pk=delivery.pk, outcome=DeliveryOutcome.RECEIVED).update(
                outcome=DeliveryOutcome.FAILED,
                error=f"{type(exc).__name__}: {exc}"[:200],
                processed_at=timezone.now(),
            )
        after = delivery.pk
        done.append(delivery)
    return done


def _act(deliveries: list[WebhookDelivery]) -> None:
    """Act on claimed deliveries, in the caller's transaction: per source, in the order
    received."""
    by_source: dict[int, list[WebhookDelivery]] = defaultdict(list)
    for delivery in deliveries:
        by_source[delivery.source_id].append(delivery)
    for group in by_source.values():
        _act_for_source(group[0].source, group)
    now = timezone.now()
    for delivery in deliveries:
        delivery.pending_user_id = None
        delivery.processed_at = now
    # One statement (bulk_update's CASE per row cost more than the filing itself).
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE webhooks_webhookdelivery AS d
            SET outcome = v.outcome, request_id = v.request_id, pending_user_id = NULL,
                processed_at = %s
            FROM unnest(%s::bigint[], %s::text[], %s::uuid[]) AS v(id, outcome, request_id)
            WHERE d.id = v.id
            """,
            [
                now,
                [d.pk for d in deliveries],
                [d.outcome for d in deliveries],
                [d.request_id for d in deliveries],
            ],
        )
    for delivery in deliveries:
        logger.info(
            "webhook %s: %s %s -> %s",
            delivery.source.slug,
            delivery.event_type,
            delivery.delivery_id,
            delivery.outcome,
        )


def _act_for_source(source: WebhookSource, deliveries: list[WebhookDelivery]) -> None:
    users = {d.pending_user_id for d in deliveries if d.pending_user_id is not None}
    pending = _lock_pending_deferrals(source=source, user_ids=users)
    filing = [d for d in deliveries if d.action == DeliveryAction.FILE]
    if len(filing) < len(deliveries):
        # Several steps follow, each locking subjects: every subject this batch files for
        # is locked first, in one order (services.subjects.subjects_lock says why).
        _lock_filing_subjects(source, filing)
    # Consecutive filings in one step; the other actions one by one, in order: a
    # deactivation and a reactivation of one user must cancel out.
    run: list[WebhookDelivery] = []
    for delivery in deliveries:
        if delivery.action == DeliveryAction.FILE:
            run.append(delivery)
            continue
        _file(source, run, pending)
        run = []
        if delivery.action == DeliveryAction.DEFER:
            _defer(source=source, delivery=delivery)
        else:
            _cancel(source=source, delivery=delivery)
    _file(source, run, pending)


def _lock_filing_subjects(source: WebhookSource, deliveries: Sequence[WebhookDelivery]) -> None:
    """Lock the subjects the deliveries file for, in bulk (created when new; an alias that
    is not registered has none)."""
    user_ids = [d.pending_user_id for d in deliveries if d.pending_user_id is not None]
    if not user_ids:
        return
    if source.subject_mapping == SubjectMapping.ALIAS:
        key_hashes = SubjectAlias.objects.filter(
            kind=source.alias_kind,
            alias_hash__in=[alias_hash(source.alias_kind, user) for user in user_ids],
        ).values_list("subject__key_hash", flat=True)
        subjects_lock(key_hashes=key_hashes)
    else:
        subjects_lock(key_hashes=subject_hashes(user_ids).values(), create=True)


def _lock_pending_deferrals(*, source: WebhookSource, user_ids: set[str]) -> set[int]:
    """Lock the pending deferrals of these users before the batch files; returns their
    subjects' ids. Filing and cancelling settle them; `deferred_file_due` holds one while
    it files. Locked here, they are skipped by `deferred_file_due` instead of being filed
    twice."""
    if not user_ids:
        return set()
    pending = DeferredErasure.objects.filter(source=source, state=DeferralState.PENDING)
    if source.subject_mapping == SubjectMapping.ALIAS:
        hashes = [alias_hash(source.alias_kind, user_id) for user_id in user_ids]
        aliases = SubjectAlias.objects.filter(kind=source.alias_kind, alias_hash__in=hashes)
        pending = pending.filter(subject__in=aliases.values("subject_id"))
    else:
        keys = Subject.objects.filter(key_hash__in=subject_hashes(user_ids).values())
        pending = pending.filter(subject__in=keys.values("pk"))
    # In id order, so that two batches locking some of the same rows cannot deadlock.
    return set(
        pending.select_for_update(no_key=True).order_by("pk").values_list("subject_id", flat=True)
    )


def _file(source: WebhookSource, deliveries: Sequence[WebhookDelivery], pending: set[int]) -> None:
    """File the requests of these deliveries in one bulk filing; a subject with a pending
    deferral has it settled by the request (filing it later would only repeat it)."""
    if not deliveries:
        return
    actor = Actor.for_webhook(source.slug)
    filings, acting = [], []
    for delivery in deliveries:
        user_id = delivery.pending_user_id
        assert user_id is not None
        reason = f"Identity webhook {source.slug}: {delivery.event_type}"
        if source.subject_mapping == SubjectMapping.ALIAS:
            subject = subject_for_alias(kind=source.alias_kind, alias=user_id)
            if subject is None:
                _unknown_subject(source=source, delivery=delivery, actor=actor)
                continue
            filings.append(Filing(subject=subject, reason=reason))
        else:
            filings.append(Filing(subject_key=user_id, reason=reason))
        acting.append(delivery)
    results = requests_file(
        filings=filings,
        actor=actor,
        source=RequestSource.WEBHOOK,
        regulation=source.regulation,
        auto_approve=source.auto_approve,
        grace_hours=source.grace_hours,
    )
    settled: dict[int, ErasureRequest] = {}
    for delivery, filed in zip(acting, results, strict=True):
        delivery.request = filed.request
        delivery.outcome = DeliveryOutcome.FILED if filed.created else DeliveryOutcome.ALREADY_OPEN
        if filed.request.subject_id in pending:
            settled[filed.request.subject_id] = filed.request
    for subject_id, request in settled.items():
        DeferredErasure.objects.filter(
            source=source, subject_id=subject_id, state=DeferralState.PENDING
        ).update(state=DeferralState.FILED, request=request, settled_at=timezone.now())
        pending.discard(subject_id)


def _unknown_subject(*, source: WebhookSource, delivery: WebhookDelivery, actor: Actor) -> None:
    """No subject has this alias: nothing to erase here. Audited with the alias's keyed
    hash only, so that a later registration can be traced back to this delivery."""
    delivery.outcome = DeliveryOutcome.UNKNOWN_SUBJECT
    assert delivery.pending_user_id is not None
    audit_record(
        event_type=AuditEventType.WEBHOOK_UNKNOWN_SUBJECT,
        actor=actor,
        details={
            "source": source.slug,
            "event_type": delivery.event_type,
            "delivery_id": delivery.delivery_id,
            "alias_kind": source.alias_kind,
            "alias_hash": alias_hash(source.alias_kind, delivery.pending_user_id),
        },
    )


def _defer(*, source: WebhookSource, delivery: WebhookDelivery) -> None:
    user_id = delivery.pending_user_id
    assert user_id is not None
    actor = Actor.for_webhook(source.slug)
    if source.subject_mapping == SubjectMapping.ALIAS:
        subject = subject_for_alias(kind=source.alias_kind, alias=user_id)
        if subject is None:
            _unknown_subject(source=source, delivery=delivery, actor=actor)
            return
    else:
        # Only the keyed hash: the raw key is kept while a request is open, and there is
        # none yet.
        subject = subject_get_or_create(key=user_id)
    # The delay runs from the deactivation, not from when a worker got to it.
    due = delivery.received_at + timedelta(hours=source.deactivation_delay_hours)
    try:
        with transaction.atomic():
            DeferredErasure.objects.create(
                source=source, subject=subject, delivery=delivery, due_at=due
            )
    except IntegrityError:
        delivery.outcome = DeliveryOutcome.ALREADY_DEFERRED
        return
    delivery.outcome = DeliveryOutcome.DEFERRED
    audit_record(
        event_type=AuditEventType.WEBHOOK_DEFERRED,
        actor=actor,
        subject_hash=subject.key_hash,
        details={
            "source": source.slug,
            "event_type": delivery.event_type,
            "delivery_id": delivery.delivery_id,
            "due_at": due.isoformat(),
        },
    )


def _cancel(*, source: WebhookSource, delivery: WebhookDelivery) -> None:
    assert delivery.pending_user_id is not None
    subject = _existing_subject(source, delivery.pending_user_id)
    cancelled = (
        DeferredErasure.objects.filter(
            source=source, subject=subject, state=DeferralState.PENDING
        ).update(state=DeferralState.CANCELLED, settled_at=timezone.now())
        if subject is not None
        else 0
    )
    if not cancelled or subject is None:
        # Filed or cancelled by someone else since the delivery was received.
        delivery.outcome = DeliveryOutcome.NOTHING_TO_CANCEL
        return
    delivery.outcome = DeliveryOutcome.DEFERRAL_CANCELLED
    audit_record(
        event_type=AuditEventType.WEBHOOK_DEFERRAL_CANCELLED,
        actor=Actor.for_webhook(source.slug),
        subject_hash=subject.key_hash,
        details={
            "source": source.slug,
            "event_type": delivery.event_type,
            "delivery_id": delivery.delivery_id,
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
