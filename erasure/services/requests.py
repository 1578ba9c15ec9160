"""The life of an erasure request: filing, approval, cancellation.

State changes are conditional updates (`filter(pk=..., status=old).update(...)`) whose row
count is checked, so two racing actors cannot both move a request.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from erasure import queue
from erasure.actors import Actor
from erasure.deadlines import add_calendar_month, due_at
from erasure.errors import Conflict, FourEyesViolation, InvalidInput, InvalidTransition, NotFound
from erasure.hashing import normalize_subject_key, subject_hash
from erasure.lifecycle import (
    OPEN_STATUSES,
    RESUMING_STATUSES,
    ItemOutcome,
    can_cancel,
    can_extend,
    can_hold,
    can_release,
    can_retry,
    enter,
)
from erasure.models import (
    MAX_GRACE_HOURS,
    AuditEventType,
    ErasureRequest,
    Regulation,
    RequestSource,
    RequestStatus,
    Subject,
)
from erasure.services.audit import Entry, audit_record, audit_record_many
from erasure.services.locks import lock_request
from erasure.services.subjects import subject_lock_with_raw_key, subjects_lock

MAX_SUBJECT_KEY_LENGTH = 512
MAX_REASON_LENGTH = 5000


@dataclass(frozen=True)
class FileResult:
    request: ErasureRequest
    created: bool
    """False when an existing request answered (same idempotency key, or an open request
    of the same subject): duplicate intake never creates a second request."""


def request_file(
    *,
    subject_key: str,
    actor: Actor,
    source: str,
    regulation: str = Regulation.GDPR,
    reason: str = "",
    idempotency_key: str | None = None,
    auto_approve: bool = False,
    subject: Subject | None = None,
    grace_hours: float | None = None,
) -> FileResult:
    """Record an erasure request for the subject of `subject_key`, or for `subject` when
    the caller found it another way (an alias: its raw key is then unknown, and
    `subject_key` must be empty).

    Returns the already open request of the subject (or the one filed earlier with the same
    idempotency key) instead of creating a second one.
    """
    key = normalize_subject_key(subject_key or "")
    if subject is not None and key:
        raise ValueError("give subject_key or subject, not both")
    if not key and subject is None:
        raise InvalidInput("subject must not be empty", fields={"subject": ["required"]})
    _check_key_length(key)
    grace_hours = _checked_terms(regulation=regulation, source=source, grace_hours=grace_hours)
    if len(reason) > MAX_REASON_LENGTH:
        raise InvalidInput("reason is too long", fields={"reason": ["too long"]})

    earlier = _filed_with_key(actor=actor, idempotency_key=idempotency_key)
    if earlier is not None:
        wanted = subject.key_hash if subject is not None else subject_hash(key)
        if (earlier.subject.key_hash, earlier.regulation) != (wanted, regulation):
            raise Conflict("this Idempotency-Key was used for a different request; use a new key")
        return FileResult(request=earlier, created=False)

    try:
        with transaction.atomic():
            # Filings of one subject queue here, at its row, before the request row
            # (services.subjects.subjects_lock says why).
            if subject is None:
                subject = subject_lock_with_raw_key(key=key)
            else:
                subjects_lock(key_hashes=[subject.key_hash])
            open_request = ErasureRequest.objects.filter(
                subject=subject, status__in=OPEN_STATUSES
            ).first()
            if open_request is not None:
                return FileResult(request=open_request, created=False)
            request = _new_request(
                subject=subject,
                actor=actor,
                source=source,
                regulation=regulation,
                reason=reason,
                grace_hours=grace_hours,
                idempotency_key=idempotency_key,
                now=timezone.now(),
            )
            request.save(force_insert=True)
            audit_record_many([_filed_entry(request, actor, auto_approve, grace_hours)])
            if auto_approve:
                _approve(request=request, actor=actor, auto=True)
    except IntegrityError:
        # Lost a race with another filing for the same subject or idempotency key: the
        # partial unique indexes kept the second request out; answer with the first.
        existing = _existing_for(
            key_hash=subject.key_hash if subject is not None else subject_hash(key),
            actor=actor,
            idempotency_key=idempotency_key,
        )
        if existing is None:
            raise
        return FileResult(request=existing, created=False)
    return FileResult(request=request, created=True)


@dataclass(frozen=True)
class Filing:
    """One request of a bulk filing (`requests_file`): a subject by its raw key, or one
    found another way (an alias), with its reason."""

    subject_key: str = ""
    subject: Subject | None = None
    reason: str = ""


def requests_file(
    *,
    filings: Sequence[Filing],
    actor: Actor,
    source: str,
    regulation: str = Regulation.GDPR,
    auto_approve: bool = False,
    grace_hours: float | None = None,
) -> list[FileResult]:
    """File many requests in the caller's transaction (or one of its own), set-based: the
    subjects are created and locked in one statement, their open requests read in one,
    the new requests and their audit events inserted in one each. Returns one result per
    filing, in order; as with `request_file`, a subject with an open request (or filed
    earlier in the same call) gets that request, not a second one.

    What `request_file` checks is checked for every filing before anything is written.
    """
    grace_hours = _checked_terms(regulation=regulation, source=source, grace_hours=grace_hours)
    hashes: list[str] = []
    raw_keys: dict[str, str] = {}
    for filing in filings:
        key = normalize_subject_key(filing.subject_key or "")
        if filing.subject is not None and key:
            raise ValueError("give subject_key or subject, not both")
        if filing.subject is None:
            if not key:
                raise InvalidInput("subject must not be empty", fields={"subject": ["required"]})
            _check_key_length(key)
            raw_keys[subject_hash(key)] = key
        if len(filing.reason) > MAX_REASON_LENGTH:
            raise InvalidInput("reason is too long", fields={"reason": ["too long"]})
        hashes.append(filing.subject.key_hash if filing.subject is not None else subject_hash(key))
    if not filings:
        return []
    with transaction.atomic():
        # In id order, like every filing (services.subjects.subjects_lock says why).
        subjects = subjects_lock(key_hashes=hashes, create=True, raw_keys=raw_keys)
        open_requests = {
            request.subject_id: request
            for request in ErasureRequest.objects.filter(
                subject__in=[subject.pk for subject in subjects.values()],
                status__in=OPEN_STATUSES,
            )
        }
        now = timezone.now()
        results, new = [], []
        for filing, key_hash in zip(filings, hashes, strict=True):
            subject = subjects[key_hash]
            request = open_requests.get(subject.pk)
            if request is not None:
                request.subject = subject
                results.append(FileResult(request=request, created=False))
                continue
            request = _new_request(
                subject=subject,
                actor=actor,
                source=source,
                regulation=regulation,
                reason=filing.reason,
                grace_hours=grace_hours,
                idempotency_key=None,
                now=now,
            )
            open_requests[subject.pk] = request
            new.append(request)
            results.append(FileResult(request=request, created=True))
        ErasureRequest.objects.bulk_create(new)
        audit_record_many([_filed_entry(r, actor, auto_approve, grace_hours) for r in new])
        if auto_approve:
            for request in new:
                _approve(request=request, actor=actor, auto=True)
    return results


def _checked_terms(*, regulation: str, source: str, grace_hours: float | None) -> float:
    """Refuse a filing's unknown regulation or source; the grace period, defaulted and
    checked."""
    if regulation not in Regulation.values:
        raise InvalidInput(
            f"unknown regulation {regulation!r}; expected one of {', '.join(Regulation.values)}",
            fields={"regulation": ["invalid choice"]},
        )
    if source not in RequestSource.values:
        raise InvalidInput(f"unknown source {source!r}")
    if grace_hours is None:
        grace_hours = settings.ERASURE_GRACE_HOURS
    if not 0 <= grace_hours <= MAX_GRACE_HOURS:
        raise InvalidInput(
            f"grace_hours must be between 0 and {MAX_GRACE_HOURS}",
            fields={"grace_hours": ["out of range"]},
        )
    return grace_hours


def _check_key_length(key: str) -> None:
    if len(key) > MAX_SUBJECT_KEY_LENGTH:
        raise InvalidInput(
            f"subject is longer than {MAX_SUBJECT_KEY_LENGTH} characters",
            fields={"subject": ["too long"]},
        )


def _new_request(
    *,
    subject: Subject,
    actor: Actor,
    source: str,
    regulation: str,
    reason: str,
    grace_hours: float,
    idempotency_key: str | None,
    now: datetime,
) -> ErasureRequest:
    return ErasureRequest(
        subject=subject,
        status=RequestStatus.AWAITING_APPROVAL,
        source=source,
        regulation=regulation,
        reason=reason,
        received_at=now,
        due_at=due_at(regulation=regulation, received_at=now),
        filed_by=actor.user,
        filed_by_api_key=actor.api_key,
        idempotency_key=idempotency_key or None,
        grace_seconds=round(grace_hours * 3600),
    )


def _filed_entry(
    request: ErasureRequest, actor: Actor, auto_approve: bool, grace_hours: float
) -> Entry:
    return Entry(
        event_type=AuditEventType.REQUEST_FILED,
        actor=actor,
        request=request,
        details={
            "source": request.source,
            "regulation": request.regulation,
            "due_at": request.due_at.isoformat(),
            "auto_approve": auto_approve,
            "grace_hours": grace_hours,
        },
    )


def _filed_with_key(*, actor: Actor, idempotency_key: str | None) -> ErasureRequest | None:
    """The request this API key filed earlier with this Idempotency-Key, if any."""
    if not idempotency_key or actor.api_key is None:
        return None
    return (
        ErasureRequest.objects.filter(
            filed_by_api_key=actor.api_key, idempotency_key=idempotency_key
        )
        .select_related("subject")
        .first()
    )


def _existing_for(
    *, key_hash: str, actor: Actor, idempotency_key: str | None
) -> ErasureRequest | None:
    earlier = _filed_with_key(actor=actor, idempotency_key=idempotency_key)
    if earlier is not None:
        return earlier
    return ErasureRequest.objects.filter(
        subject__key_hash=key_hash, status__in=OPEN_STATUSES
    ).first()


def request_approve(*, request: ErasureRequest, actor: Actor, comment: str = "") -> ErasureRequest:
    """Approve a request awaiting approval and wake a worker to carry it out. An optional
    comment is recorded in the `request.approved` event.

    Four-eyes: the actor that filed the request cannot approve it.
    """
    comment = _optional_reason(comment, name="comment")
    with transaction.atomic():
        request = _lock(request)
        if request.status != RequestStatus.AWAITING_APPROVAL:
            raise InvalidTransition(
                f"only a request awaiting approval can be approved; this one is "
                f"{request.get_status_display().lower()}"
            )
        filer = Actor(
            kind="user" if request.filed_by else "api_key",
            label="",
            user=request.filed_by,
            api_key=request.filed_by_api_key,
        )
        if actor.is_same(filer):
            raise FourEyesViolation(
                "four-eyes rule: a request must be approved by someone other than who filed it"
            )
        _approve(request=request, actor=actor, auto=False, comment=comment)
    return request


def _approve(*, request: ErasureRequest, actor: Actor, auto: bool, comment: str = "") -> None:
    """Within the caller's transaction: approve and defer the execution job."""
    now = timezone.now()
    grace = timedelta(seconds=request.grace_seconds)
    updated = ErasureRequest.objects.filter(
        pk=request.pk, status=RequestStatus.AWAITING_APPROVAL
    ).update(
        status=RequestStatus.SCHEDULED if grace else RequestStatus.APPROVED,
        scheduled_for=now + grace if grace else None,
        approved_by=actor.user,
        approved_by_api_key=actor.api_key,
        auto_approved=auto,
        approved_at=now,
        status_changed_at=now,
        updated_at=now,
    )
    if updated != 1:
        raise InvalidTransition("the request changed state while being approved; reload it")
    request.refresh_from_db()
    audit_record(
        event_type=AuditEventType.REQUEST_APPROVED,
        actor=actor,
        request=request,
        details={"auto": auto, **({"comment": comment} if comment else {})},
    )
    if grace:
        # Cancellable until the grace period ends; the job wakes then.
        audit_record(
            event_type=AuditEventType.REQUEST_SCHEDULED,
            actor=actor,
            request=request,
            details={"scheduled_for": request.scheduled_for.isoformat()},  # type: ignore[union-attr]
        )
    # Items are expanded by the job when it starts (erasure.services.execution.start):
    # approving stays a state change, whatever the number of items.
    # Deferred in this same transaction: the job exists if and only if the approval does.
    queue.enqueue_execution(request_id=request.pk, delay_seconds=grace.total_seconds())


# How far a deadline may be extended, counted from receipt: GDPR Art. 12(3) allows two
# further months (three in all); CCPA one more 45-day period (90 days in all).
EXTENSION_LIMITS = {"gdpr": "3 calendar months", "ccpa": "90 days"}


def _optional_reason(reason: str, *, name: str = "reason") -> str:
    """The reason (or comment), stripped; refused (never cut short) when longer than
    MAX_REASON_LENGTH."""
    reason = (reason or "").strip()
    if len(reason) > MAX_REASON_LENGTH:
        raise InvalidInput(
            f"{name} is too long (at most {MAX_REASON_LENGTH} characters)",
            fields={name: ["too long"]},
        )
    return reason


def _required_reason(reason: str) -> str:
    reason = _optional_reason(reason)
    if not reason:
        raise InvalidInput("a reason is required", fields={"reason": ["required"]})
    return reason


def request_hold(*, request: ErasureRequest, actor: Actor, reason: str) -> ErasureRequest:
    """Place a legal hold: nothing more is sent for the request until it is released.

    A running request stops claiming batches at once (workers only claim for running
    requests); a batch already sent is still recorded.
    """
    reason = _required_reason(reason)
    with transaction.atomic():
        request = _lock(request)
        if not can_hold(request):
            raise InvalidTransition(
                "only a request that has not ended can be placed on hold; this one is "
                f"{request.get_status_display().lower()}"
            )
        previous = request.status
        request.held_at = enter(request, RequestStatus.ON_HOLD)
        request.held_from = previous
        request.hold_reason = reason
        request.save(
            update_fields=[
                "status",
                "held_from",
                "hold_reason",
                "held_at",
                "status_changed_at",
                "updated_at",
            ]
        )
        audit_record(
            event_type=AuditEventType.REQUEST_HELD,
            actor=actor,
            request=request,
            details={"from": previous, "reason": reason},
        )
    return request


def request_release(*, request: ErasureRequest, actor: Actor, reason: str) -> ErasureRequest:
    """Release a legal hold: the request goes back to where it was; one that was approved
    or running is carried out again (from what is left)."""
    reason = _required_reason(reason)
    with transaction.atomic():
        request = _lock(request)
        if not can_release(request):
            raise InvalidTransition(
                "only a request on hold can be released; this one is "
                f"{request.get_status_display().lower()}"
            )
        back = request.held_from or RequestStatus.AWAITING_APPROVAL
        resume = back in RESUMING_STATUSES
        # A running request restarts as approved: its job moves it to running again; a
        # scheduled one waits for what is left of its grace period.
        enter(request, RequestStatus.APPROVED if back == RequestStatus.RUNNING else back)
        held_for = (timezone.now() - request.held_at).total_seconds() if request.held_at else 0
        request.held_from = ""
        request.hold_reason = ""
        request.held_at = None
        # A fresh start: the sweeper's count and stuck flag belong to before the hold.
        request.stuck_since = None
        request.wakeups = 0
        request.save(
            update_fields=[
                "status",
                "held_from",
                "hold_reason",
                "held_at",
                "stuck_since",
                "wakeups",
                "status_changed_at",
                "updated_at",
            ]
        )
        audit_record(
            event_type=AuditEventType.REQUEST_RELEASED,
            actor=actor,
            request=request,
            details={"to": request.status, "reason": reason, "held_seconds": round(held_for)},
        )
        if resume:
            wait = 0.0
            if request.status == RequestStatus.SCHEDULED and request.scheduled_for:
                wait = max((request.scheduled_for - timezone.now()).total_seconds(), 0.0)
            queue.enqueue_execution(request_id=request.pk, delay_seconds=wait)
    return request


def extension_limit(request: ErasureRequest) -> datetime | None:
    """The latest deadline the regulation allows, or None where we know of no limit."""
    if request.regulation == "gdpr":
        return add_calendar_month(add_calendar_month(add_calendar_month(request.received_at)))
    if request.regulation == "ccpa":
        return request.received_at + timedelta(days=90)
    return None


def request_extend_deadline(
    *, request: ErasureRequest, actor: Actor, due_at: datetime, reason: str
) -> ErasureRequest:
    """Move an open request's deadline later, with a reason, within the regulation's limit
    (EXTENSION_LIMITS). The legal deadline before the first extension is kept."""
    reason = _required_reason(reason)
    with transaction.atomic():
        request = _lock(request)
        if not can_extend(request):
            raise InvalidTransition(
                "only an open request's deadline can be extended; this one is "
                f"{request.get_status_display().lower()}"
            )
        if due_at <= request.due_at:
            raise InvalidInput(
                "the new deadline must be later than the current one "
                f"({request.due_at:%Y-%m-%d %H:%M} UTC)",
                fields={"due_at": ["not later than the current deadline"]},
            )
        limit = extension_limit(request)
        if limit is not None and due_at > limit:
            raise InvalidInput(
                f"{request.get_regulation_display()} allows at most "
                f"{EXTENSION_LIMITS[request.regulation]} from receipt: "
                f"{limit:%Y-%m-%d %H:%M} UTC at the latest",
                fields={"due_at": ["beyond the regulation's limit"]},
            )
        previous = request.due_at
        request.original_due_at = request.original_due_at or previous
        request.due_at = due_at
        request.save(update_fields=["due_at", "original_due_at", "updated_at"])
        audit_record(
            event_type=AuditEventType.REQUEST_DEADLINE_EXTENDED,
            actor=actor,
            request=request,
            details={
                "from": previous.isoformat(),
                "to": due_at.isoformat(),
                "reason": reason,
            },
        )
    return request


def request_cancel(*, request: ErasureRequest, actor: Actor, reason: str = "") -> ErasureRequest:
    """Cancel a request that has not started running."""
    reason = _optional_reason(reason)
    with transaction.atomic():
        request = _lock(request)
        if not can_cancel(request):
            raise InvalidTransition(
                f"a {request.get_status_display().lower()} request cannot be cancelled"
            )
        previous = request.status
        request.completed_at = enter(request, RequestStatus.CANCELLED)
        request.save(update_fields=["status", "completed_at", "status_changed_at", "updated_at"])
        # Nothing open remains for the subject (one open request each): its raw key goes.
        Subject.objects.filter(pk=request.subject_id).update(raw_key=None)
        audit_record(
            event_type=AuditEventType.REQUEST_CANCELLED,
            actor=actor,
            request=request,
            details={"from": previous, "reason": reason},
        )
    return request


def _lock(request: ErasureRequest) -> ErasureRequest:
    locked = lock_request(request.pk)
    if locked is None:
        raise NotFound("erasure request not found")
    return locked


def request_retry(*, request: ErasureRequest, actor: Actor, comment: str = "") -> ErasureRequest:
    """Send a request's failed items again (and only those); also resumes a request the
    sweeper flagged as stuck. An optional comment is recorded in the `request.retried`
    event.

    An item whose last try may have been applied (no answer, 429 or 5xx) keeps that mark,
    so that "absent now" is reported `deleted_or_not_found`, never `not_found`.
    """
    comment = _optional_reason(comment, name="comment")
    with transaction.atomic():
        request = _lock(request)
        stuck = request.status == RequestStatus.RUNNING
        if not can_retry(request):
            raise InvalidTransition(
                "only a request that ended with failures, or one flagged as stuck, can be "
                f"retried; this one is {request.get_status_display().lower()}"
            )
        with connection.cursor() as cursor:
            cursor.execute(
                """
                UPDATE erasure_erasureitem
                SET outcome = %s, not_before = NULL, decided_by_id = NULL,
                    decided_at = NULL, lease_owner = '', lease_until = NULL, attempts = 0,
                    maybe_applied = maybe_applied OR last_http_status IS NULL
                WHERE request_id = %s AND outcome = %s
                """,
                [ItemOutcome.PENDING, request.pk, ItemOutcome.FAILED],
            )
            reopened = cursor.rowcount
        previous = request.status
        # A resumed stuck request is timed afresh, like any other (re-)entered state.
        enter(request, RequestStatus.RUNNING if stuck else RequestStatus.APPROVED)
        request.completed_at = None
        request.stuck_since = None
        request.wakeups = 0
        request.last_error = ""
        try:
            with transaction.atomic():
                request.save(
                    update_fields=[
                        "status",
                        "completed_at",
                        "stuck_since",
                        "wakeups",
                        "last_error",
                        "status_changed_at",
                        "updated_at",
                    ]
                )
        except IntegrityError as exc:
            raise InvalidTransition(
                "the subject has another open request; finish or cancel it before retrying this one"
            ) from exc
        audit_record(
            event_type=AuditEventType.REQUEST_RETRIED,
            actor=actor,
            request=request,
            details={
                "from": previous,
                "items_reopened": reopened,
                **({"comment": comment} if comment else {}),
            },
        )
        queue.enqueue_execution(request_id=request.pk)
    return request


def request_pause_deadline(*, request: ErasureRequest, actor: Actor, reason: str) -> ErasureRequest:
    """Stop an open request's deadline clock, with a reason (e.g. the subject's identity
    must be verified first). Execution is not affected."""
    reason = _required_reason(reason)
    with transaction.atomic():
        request = _lock(request)
        if not can_extend(request):
            raise InvalidTransition(
                "only an open request's deadline can be paused; this one is "
                f"{request.get_status_display().lower()}"
            )
        if request.deadline_paused_at is not None:
            raise InvalidTransition("the deadline is paused already")
        request.deadline_paused_at = timezone.now()
        request.deadline_pause_reason = reason
        request.save(update_fields=["deadline_paused_at", "deadline_pause_reason", "updated_at"])
        audit_record(
            event_type=AuditEventType.REQUEST_DEADLINE_PAUSED,
            actor=actor,
            request=request,
            details={"reason": reason, "due_at": request.due_at.isoformat()},
        )
    return request


def request_resume_deadline(
    *, request: ErasureRequest, actor: Actor, reason: str
) -> ErasureRequest:
    """Restart a paused deadline clock: the deadline moves by the time it was paused."""
    reason = _required_reason(reason)
    with transaction.atomic():
        request = _lock(request)
        if request.deadline_paused_at is None:
            raise InvalidTransition("the deadline is not paused")
        if not can_extend(request):
            raise InvalidTransition(
                "only an open request's deadline can be resumed; this one is "
                f"{request.get_status_display().lower()}"
            )
        paused = timezone.now() - request.deadline_paused_at
        previous = request.due_at
        request.original_due_at = request.original_due_at or previous
        request.due_at = previous + paused
        request.deadline_paused_at = None
        request.deadline_pause_reason = ""
        request.save(
            update_fields=[
                "due_at",
                "original_due_at",
                "deadline_paused_at",
                "deadline_pause_reason",
                "updated_at",
            ]
        )
        audit_record(
            event_type=AuditEventType.REQUEST_DEADLINE_RESUMED,
            actor=actor,
            request=request,
            details={
                "reason": reason,
                "paused_seconds": round(paused.total_seconds()),
                "from": previous.isoformat(),
                "to": request.due_at.isoformat(),
            },
        )
    return request
