"""The lifecycle of an erasure request and of its items: the one home of the statuses,
the outcome sets, the allowed transitions, the `can_*` predicates and the state clocks.

    received ─► awaiting_approval ─► approved ─► (scheduled) ─► running ─► completed
                                                                         ├► completed_with_failures
                                                                         └► failed
    cancelled: from any state before running        on_hold: from any open state but itself

(product.md, "Request lifecycle".) The services make every change; this module only says
which changes exist. Every status and outcome is named by its enum member, never a string.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from django.db import models
from django.utils import timezone


class RequestStatus(models.TextChoices):
    RECEIVED = "received", "Received"
    AWAITING_APPROVAL = "awaiting_approval", "Awaiting approval"
    APPROVED = "approved", "Approved"
    SCHEDULED = "scheduled", "Scheduled"
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"
    COMPLETED_WITH_FAILURES = "completed_with_failures", "Completed with failures"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"
    ON_HOLD = "on_hold", "On hold"


class ItemOutcome(models.TextChoices):
    PENDING = "pending", "Pending"
    DELETED = "deleted", "Deleted"
    NOT_FOUND = "not_found", "Not found"
    DELETED_OR_NOT_FOUND = "deleted_or_not_found", "Deleted or not found"
    FAILED = "failed", "Failed"


# A subject has at most one request in these (a database constraint, erasure.models).
OPEN_STATUSES = (
    RequestStatus.RECEIVED,
    RequestStatus.AWAITING_APPROVAL,
    RequestStatus.APPROVED,
    RequestStatus.SCHEDULED,
    RequestStatus.RUNNING,
    RequestStatus.ON_HOLD,
)
COMPLETED_STATUSES = (RequestStatus.COMPLETED, RequestStatus.COMPLETED_WITH_FAILURES)
# Before it has run: cancellable, unless it has started once (see can_cancel).
CANCELLABLE_STATUSES = (
    RequestStatus.RECEIVED,
    RequestStatus.AWAITING_APPROVAL,
    RequestStatus.APPROVED,
    RequestStatus.SCHEDULED,
    RequestStatus.ON_HOLD,
)
HOLDABLE_STATUSES = (
    RequestStatus.RECEIVED,
    RequestStatus.AWAITING_APPROVAL,
    RequestStatus.APPROVED,
    RequestStatus.SCHEDULED,
    RequestStatus.RUNNING,
)
# A request whose items are expanded from the subject's mappings (its job may run).
EXPANDABLE_STATUSES = (RequestStatus.APPROVED, RequestStatus.SCHEDULED, RequestStatus.RUNNING)
# Work is under way or about to be: the request page follows its progress.
LIVE_STATUSES = (RequestStatus.APPROVED, RequestStatus.RUNNING)
# Approved, its job not started yet: its items are not expanded (the mappings count).
AWAITING_START_STATUSES = (RequestStatus.APPROVED, RequestStatus.SCHEDULED)
# Statuses a released hold goes back to that carry the request out again.
RESUMING_STATUSES = (RequestStatus.APPROVED, RequestStatus.SCHEDULED, RequestStatus.RUNNING)

TERMINAL_OUTCOMES = (
    ItemOutcome.DELETED,
    ItemOutcome.NOT_FOUND,
    ItemOutcome.DELETED_OR_NOT_FOUND,
    ItemOutcome.FAILED,
)
# Gone from the namespace: what a completed request's items end as, and what removes a
# mapping.
ERASED_OUTCOMES = (ItemOutcome.DELETED, ItemOutcome.NOT_FOUND, ItemOutcome.DELETED_OR_NOT_FOUND)

# Every change of status a service may make. A release goes back to the status held from
# (a running request restarts as approved); a retry re-opens an ended request, or resumes a
# stuck running one in place.
TRANSITIONS: dict[RequestStatus, frozenset[RequestStatus]] = {
    RequestStatus.RECEIVED: frozenset(
        {RequestStatus.AWAITING_APPROVAL, RequestStatus.CANCELLED, RequestStatus.ON_HOLD}
    ),
    RequestStatus.AWAITING_APPROVAL: frozenset(
        {
            RequestStatus.APPROVED,
            RequestStatus.SCHEDULED,
            RequestStatus.CANCELLED,
            RequestStatus.ON_HOLD,
        }
    ),
    RequestStatus.APPROVED: frozenset(
        {RequestStatus.RUNNING, RequestStatus.CANCELLED, RequestStatus.ON_HOLD}
    ),
    RequestStatus.SCHEDULED: frozenset(
        {RequestStatus.RUNNING, RequestStatus.CANCELLED, RequestStatus.ON_HOLD}
    ),
    RequestStatus.RUNNING: frozenset(
        {
            RequestStatus.RUNNING,
            RequestStatus.COMPLETED,
            RequestStatus.COMPLETED_WITH_FAILURES,
            RequestStatus.FAILED,
            RequestStatus.ON_HOLD,
        }
    ),
    RequestStatus.ON_HOLD: frozenset(
        {
            RequestStatus.RECEIVED,
            RequestStatus.AWAITING_APPROVAL,
            RequestStatus.APPROVED,
            RequestStatus.SCHEDULED,
            RequestStatus.CANCELLED,
        }
    ),
    RequestStatus.COMPLETED_WITH_FAILURES: frozenset({RequestStatus.APPROVED}),
    RequestStatus.FAILED: frozenset({RequestStatus.APPROVED}),
    RequestStatus.COMPLETED: frozenset(),
    RequestStatus.CANCELLED: frozenset(),
}

# When a request entered its current state: the clock of its stuck limit
# (settings.ERASURE_STATE_LIMIT_HOURS). `status_changed_at` is set by every transition and
# by nothing else, so a deadline change or a note never restarts a clock. A scheduled
# request is timed from the end of its grace period, a held one from the hold.
STATE_CLOCKS: dict[RequestStatus, str] = {
    RequestStatus.RECEIVED: "received_at",
    RequestStatus.AWAITING_APPROVAL: "received_at",
    RequestStatus.APPROVED: "status_changed_at",
    RequestStatus.SCHEDULED: "scheduled_for",
    RequestStatus.RUNNING: "status_changed_at",
    RequestStatus.ON_HOLD: "held_at",
}


class ErasureRequest(Protocol):
    """What the predicates read of a request (erasure.models.ErasureRequest has it all);
    this module needs no model, so the models can take their enums from here."""

    status: str
    status_changed_at: datetime
    started_at: datetime | None
    stuck_since: datetime | None


def can_transition(current: str, target: str) -> bool:
    return RequestStatus(target) in TRANSITIONS[RequestStatus(current)]


def enter(request: ErasureRequest, status: str) -> datetime:
    """Move `request` (in memory) to `status` and start that state's clock; the caller
    saves `status` and `status_changed_at`. A change TRANSITIONS does not list is a bug of
    the caller (its `can_*` check should have refused it first), raised as such."""
    if not can_transition(request.status, status):
        raise RuntimeError(f"no transition from {request.status} to {status} (erasure.lifecycle)")
    request.status = RequestStatus(status)
    request.status_changed_at = timezone.now()
    return request.status_changed_at


def can_approve(request: ErasureRequest) -> bool:
    return request.status == RequestStatus.AWAITING_APPROVAL


def can_cancel(request: ErasureRequest) -> bool:
    # A request that has started (held or released since, or retried) has erased part of
    # its items: it can only be resumed, never cancelled.
    if request.started_at is not None:
        return False
    return request.status in CANCELLABLE_STATUSES


def can_hold(request: ErasureRequest) -> bool:
    return request.status in HOLDABLE_STATUSES


def can_release(request: ErasureRequest) -> bool:
    return request.status == RequestStatus.ON_HOLD


def can_extend(request: ErasureRequest) -> bool:
    return request.status in OPEN_STATUSES


def can_retry(request: ErasureRequest) -> bool:
    """Ended with failures, or running but flagged stuck by the sweeper."""
    if request.status in (RequestStatus.COMPLETED_WITH_FAILURES, RequestStatus.FAILED):
        return True
    return request.status == RequestStatus.RUNNING and request.stuck_since is not None


def can_certify(request: ErasureRequest) -> bool:
    return request.status in COMPLETED_STATUSES
