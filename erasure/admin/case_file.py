"""The request page as a case file: what a compliance officer reads first (status, deadline,
progress) and the request's history in plain language.

Everything here is presentation of what the selectors and the audit log already hold: the
sentences name who did what and why, the details are shown as words, never as a Python
repr. Event types stay as they are in exports (auditors rely on them); only the page reads
them out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from erasure.lifecycle import OPEN_STATUSES, RequestStatus
from erasure.models import (
    AuditEvent,
    AuditEventType,
    ErasureRequest,
    ItemOutcome,
    Regulation,
    RequestSource,
)
from erasure.selectors.requests import filing_preview, request_counts_by_namespace

# The one format of a date and time on every page (config/formats/en/formats.py).
WHEN_FORMAT = "%Y-%m-%d %H:%M %Z"

OUTCOME_LABELS: dict[str, str] = dict(ItemOutcome.choices)


def when(moment: datetime | None) -> str:
    """A moment as every page writes it: `2026-12-02 21:50 UTC`, in the service's zone."""
    if moment is None:
        return "—"
    return timezone.localtime(moment).strftime(WHEN_FORMAT)


def span(length: timedelta) -> str:
    """A length of time in its largest useful unit: `45 minutes`, `5 hours`, `12 days`."""
    seconds = abs(length).total_seconds()
    # Rounded, not cut: a deadline 44 days and 23 hours away is "in 45 days".
    if seconds < 3600:
        amount, unit = round(seconds / 60), "minute"
    elif seconds < 2 * 86400:
        amount, unit = round(seconds / 3600), "hour"
    else:
        amount, unit = round(seconds / 86400), "day"
    return f"{amount} {unit}{'' if amount == 1 else 's'}"


def relative(moment: datetime, *, now: datetime | None = None) -> str:
    """`in 12 days`, `3 hours ago`: the distance that matters at a glance."""
    delta = moment - (now or timezone.now())
    if abs(delta) < timedelta(minutes=1):
        return "now"
    return f"in {span(delta)}" if delta > timedelta(0) else f"{span(delta)} ago"


def actor_name(label: str) -> str:
    """An actor label (`user:officer`, `api_key:crm`, `webhook:okta`, `system:worker`) as a
    person reads it."""
    kind, _, name = label.partition(":")
    if kind == "user":
        return name
    if kind == "api_key":
        return f"API key “{name}”"
    if kind == "webhook":
        return f"the {name} webhook"
    if kind == "system":
        return "the service" if name == "worker" else f"the service ({name.replace('-', ' ')})"
    return label


@dataclass(frozen=True)
class Deadline:
    due_at: datetime
    text: str  # "in 12 days", "overdue by 3 days", or when it was met
    state: str  # "open", "due-soon", "overdue", "closed"


DUE_SOON_DAYS = 7


def deadline_of(request: ErasureRequest, *, now: datetime | None = None) -> Deadline:
    now = now or timezone.now()
    if request.status not in OPEN_STATUSES:
        if request.completed_at is None:
            return Deadline(request.due_at, "closed", "closed")
        met = request.completed_at <= request.due_at
        return Deadline(request.due_at, "met" if met else "missed (closed after it)", "closed")
    left = request.due_at - now
    if left < timedelta(0):
        return Deadline(request.due_at, f"overdue by {span(left)}", "overdue")
    state = "due-soon" if left.days < DUE_SOON_DAYS else "open"
    return Deadline(request.due_at, relative(request.due_at, now=now), state)


@dataclass(frozen=True)
class Progress:
    """How far the request is: the share of its items with a final outcome."""

    decided: int
    total: int
    percent: int
    what_will_happen: str


def progress_of(request: ErasureRequest, counts: dict[str, int], namespaces: int) -> Progress:
    total = counts["total"]
    decided = total - counts[ItemOutcome.PENDING]
    percent = round(100 * decided / total) if total else (100 if request.completed_at else 0)
    items = f"{total:,} item{'' if total == 1 else 's'}"
    spaces = f"{namespaces} namespace{'' if namespaces == 1 else 's'}"
    not_started = request.started_at is None and request.status in OPEN_STATUSES
    if not total:
        sentence = (
            "No item is mapped to this subject: approving would erase nothing."
            if not_started
            else "No item was mapped to this subject: nothing was erased."
        )
    elif not_started:
        sentence = f"{items} in {spaces} will be erased."
    else:
        sentence = f"{decided:,} of {items} in {spaces} have an outcome."
    return Progress(decided, total, percent, sentence)


@dataclass
class TimelineEntry:
    when: str
    ago: str
    actor: str
    sentence: str
    details: list[tuple[str, str]] = field(default_factory=list)
    event_type: str = ""
    leaf_index: int | None = None


# Plain-language sentences, by event type; `{actor}` is who did it.
SENTENCES: dict[str, str] = {
    AuditEventType.REQUEST_FILED: "Filed by {actor}",
    AuditEventType.REQUEST_APPROVED: "Approved by {actor}",
    AuditEventType.REQUEST_SCHEDULED: "Scheduled: the erasure waits for its grace period",
    AuditEventType.REQUEST_STARTED: "Erasure started",
    AuditEventType.ITEMS_EXPANDED: "The subject's mapped items were listed for erasure",
    AuditEventType.ITEMS_FAILED: "Some items could not be erased",
    AuditEventType.REQUEST_COMPLETED: "Erasure finished",
    AuditEventType.REQUEST_CANCELLED: "Cancelled by {actor}",
    AuditEventType.REQUEST_RETRIED: "Failed items sent again by {actor}",
    AuditEventType.REQUEST_REQUEUED: "A stalled erasure was restarted by {actor}",
    AuditEventType.REQUEST_FLAGGED_STUCK: "Flagged as stuck by {actor}",
    AuditEventType.REQUEST_HELD: "Legal hold placed by {actor}",
    AuditEventType.REQUEST_RELEASED: "Legal hold released by {actor}",
    AuditEventType.REQUEST_DEADLINE_EXTENDED: "Deadline extended by {actor}",
    AuditEventType.REQUEST_DEADLINE_PAUSED: "Deadline paused by {actor}",
    AuditEventType.REQUEST_DEADLINE_RESUMED: "Deadline resumed by {actor}",
    AuditEventType.REQUEST_RECHECKED: "Erased items checked again by {actor}",
    AuditEventType.CERTIFICATE_DOWNLOADED: "Certificate downloaded by {actor}",
    AuditEventType.EVIDENCE_DOWNLOADED: "Evidence bundle downloaded by {actor}",
    AuditEventType.EXPORT_CREATED: "Records exported by {actor}",
    AuditEventType.MAPPINGS_AFTER_ERASURE: "Items registered after the erasure",
}

# Detail keys as a person reads them; keys not named here are shown with their words.
DETAIL_LABELS = {
    "auto": "Approved automatically",
    "auto_approve": "Approved automatically",
    "due_at": "Deadline",
    "grace_hours": "Grace period (hours)",
    "source": "Filed through",
    "scheduled_for": "Runs at",
    "from": "Previous status",
    "to": "Status after",
    "items_reopened": "Items sent again",
    "held_seconds": "Held for",
    "added": "Items listed",
    "mappings_removed": "Mappings removed",
    "prior_events": "Events before it",
    "comment": "Comment",
    "reason": "Reason",
}

# Details that belong to the evidence, not to the reading: digests and nested copies of
# what the page shows elsewhere (the counts table, the completeness table).
HIDDEN_DETAILS = {"by_namespace", "scans", "failed_items", "prior_events", "mappings_removed"}

STATUS_LABELS = dict(RequestStatus.choices)
REGULATION_LABELS = dict(Regulation.choices)
SOURCE_LABELS = dict(RequestSource.choices)


def _value(key: str, value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None or value == "":
        return "—"
    if key == "held_seconds" and isinstance(value, int | float):
        return span(timedelta(seconds=value))
    if key in ("from", "to", "status") and value in STATUS_LABELS:
        return str(STATUS_LABELS[value])
    if key == "regulation" and value in REGULATION_LABELS:
        return str(REGULATION_LABELS[value])
    if key == "source" and value in SOURCE_LABELS:
        return str(SOURCE_LABELS[value])
    if key == "grace_hours" and not value:
        return "none"
    if isinstance(value, str) and len(value) >= 19 and value[4:5] == "-" and value[10:11] == "T":
        parsed = parse_datetime(value)
        if parsed is not None:
            return when(parsed)
    if isinstance(value, dict):
        if key == "counts":
            return (
                ", ".join(
                    f"{OUTCOME_LABELS.get(k, k)} {n:,}"
                    for k, n in value.items()
                    if n and k != "total"
                )
                or "no items"
            )
        return ", ".join(f"{_label(k)}: {_value(k, v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(_value(key, v) for v in value)
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _label(key: str) -> str:
    return DETAIL_LABELS.get(key, key.replace("_", " ").capitalize())


def readable_details(details: dict[str, Any]) -> list[tuple[str, str]]:
    """An event's details as (label, text) pairs, the evidence-only ones left out."""
    return [
        (_label(key), _value(key, value))
        for key, value in details.items()
        if key not in HIDDEN_DETAILS
    ]


def timeline_entry(event: AuditEvent) -> TimelineEntry:
    actor = actor_name(event.actor)
    template = SENTENCES.get(event.event_type)
    sentence = (
        template.format(actor=actor)
        if template
        else f"{event.event_type.replace('.', ': ').replace('_', ' ').capitalize()}, by {actor}"
    )
    return TimelineEntry(
        when=when(event.occurred_at),
        ago=relative(event.occurred_at),
        actor=actor,
        sentence=sentence,
        details=readable_details(event.details or {}),
        event_type=event.event_type,
        leaf_index=event.leaf_index,
    )


def timeline(request: ErasureRequest, *, limit: int) -> tuple[list[TimelineEntry], int, int]:
    """The request's events in order, as entries, without one line per API call: returns
    (entries, events not shown past `limit`, API calls recorded)."""
    events = request.events.exclude(event_type=AuditEventType.DISPATCH_RECORDED).order_by("id")
    shown = list(events[: limit + 1])
    more = 0
    if len(shown) > limit:
        more = events.count() - limit
        shown = shown[:limit]
    calls = request.events.filter(event_type=AuditEventType.DISPATCH_RECORDED).count()
    return [timeline_entry(e) for e in shown], more, calls


def namespace_rows(obj: ErasureRequest) -> list[dict[str, Any]]:
    """Per namespace: its items per outcome, in OUTCOME_LABELS order (`ordered`); before
    the request starts, the subject's mapped items, all pending."""
    rows = request_counts_by_namespace(request=obj)
    if not rows and obj.started_at is None and obj.status in OPEN_STATUSES:
        rows = [
            {
                "name": ns["name"],
                "kind": ns["kind"],
                "counts": {
                    **dict.fromkeys(ItemOutcome.values, 0),
                    ItemOutcome.PENDING: ns["items"],
                },
                "total": ns["items"],
            }
            for ns in filing_preview(subject=obj.subject, regulation=obj.regulation)["namespaces"]
        ]
    for row in rows:
        row["ordered"] = [f"{row['counts'][value]:,}" for value in ItemOutcome.values]
    return rows


def _event_actor(obj: ErasureRequest, event_type: str) -> str | None:
    event = obj.events.filter(event_type=event_type).order_by("id").only("actor").first()
    return actor_name(event.actor) if event is not None else None


def filed_by(obj: ErasureRequest) -> str:
    """Who filed the request, as text: the page links to no user page (which only an
    administrator could open)."""
    if obj.filed_by is not None:
        return obj.filed_by.get_username()
    if obj.filed_by_api_key is not None:
        return f"API key “{obj.filed_by_api_key.name}”"
    return _event_actor(obj, AuditEventType.REQUEST_FILED) or obj.get_source_display()


def approved_by(obj: ErasureRequest) -> str:
    if obj.approved_at is None:
        return "not yet" if obj.status in OPEN_STATUSES else "never approved"
    name = _event_actor(obj, AuditEventType.REQUEST_APPROVED) or "—"
    if obj.auto_approved:
        return f"approved automatically ({name}), {when(obj.approved_at)}"
    return f"{name}, {when(obj.approved_at)}"


# How a request came in, as the case file's header says it ("through ...").
SOURCE_TEXT: dict[str, str] = {
    RequestSource.ADMIN: "the admin",
    RequestSource.API: "the REST API",
    RequestSource.WEBHOOK: "an identity system's webhook",
    RequestSource.SYSTEM: "the service itself (items registered after an erasure)",
}
