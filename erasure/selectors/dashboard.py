"""Reads for the team dashboard of the admin (what is due, what is late, what failed).

Every figure is aggregated by PostgreSQL: the dashboard costs the same handful of queries
(`DASHBOARD_QUERIES`) whether there are ten requests or a million. Lists are capped at
`DASHBOARD_LIST_LIMIT` rows; their totals are counted separately, so a long list still
shows its true size.

Subjects appear only as the first 12 characters of their keyed hash, cut by the
database: the raw key of an open request is never even loaded.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet
from django.db.models.functions import Substr, TruncWeek
from django.utils import timezone

from erasure.lifecycle import COMPLETED_STATUSES, OPEN_STATUSES, RequestStatus
from erasure.models import ErasureItem, ErasureRequest, Namespace, Recheck, Regulation

DASHBOARD_LIST_LIMIT = 50
DASHBOARD_WEEKS = 12
DUE_SOON = timedelta(days=7)
SUBJECT_HASH_SHOWN = 12
# Status counts, list totals, three lists, received per week, completed per week, the
# completeness of every namespace.
DASHBOARD_QUERIES = 8
DASHBOARD_NAMESPACES_SHOWN = 50


@dataclass(frozen=True)
class StatusCount:
    status: str
    label: str
    count: int


@dataclass(frozen=True)
class RequestRow:
    """One request in a dashboard list; `subject_hash` is a 12-character prefix."""

    id: uuid.UUID
    status: str
    status_label: str
    regulation: str
    regulation_label: str
    received_at: datetime
    due_at: datetime
    completed_at: datetime | None
    stuck_since: datetime | None
    last_error: str
    subject_hash: str
    # "overdue", "due-soon" or "" (open requests only: a closed one has no deadline left
    # to meet). Doubles as the CSS class of the row.
    deadline: str

    @property
    def short_id(self) -> str:
        return str(self.id)[:8]


@dataclass(frozen=True)
class WeekStats:
    """One ISO week (Monday to Sunday, in the site's time zone)."""

    start: date
    received: int
    completed: int
    completed_on_time: int

    @property
    def label(self) -> str:
        year, week, _ = self.start.isocalendar()
        return f"{year}-W{week:02d}"

    @property
    def on_time_rate(self) -> float | None:
        """Share of this week's completions that met their deadline; None if none."""
        return self.completed_on_time / self.completed if self.completed else None


@dataclass(frozen=True)
class Dashboard:
    now: datetime
    open_by_status: list[StatusCount]
    open_total: int
    due_this_week_count: int
    due_this_week: list[RequestRow]
    overdue_count: int
    overdue: list[RequestRow]
    failures_count: int
    failures: list[RequestRow]
    weeks: list[WeekStats]
    completed_total: int
    completed_on_time_total: int
    on_time_rate: float | None
    completeness: list[NamespaceCoverage]


@dataclass(frozen=True)
class NamespaceCoverage:
    """A namespace's last complete scan and its re-checks, for the completeness tile."""

    name: str
    kind: str
    last_scan_at: datetime | None
    full: bool
    unmapped: int
    stale: int
    api_item_count: int | None
    mapped_count: int
    scanning: bool
    reappeared: int
    """Items re-checks found back (each erased again by a follow-up request)."""
    rechecks_overdue: int

    @property
    def state(self) -> str:
        """ "ok", "attention" (something to look at) or "unknown" (never scanned)."""
        if self.last_scan_at is None:
            return "unknown"
        if self.unmapped or self.stale or self.reappeared or self.rechecks_overdue:
            return "attention"
        return "ok"


def _completeness(now: datetime) -> list[NamespaceCoverage]:
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT n.name, n.kind, s.finished_at, coalesce(s."full", false),
                   coalesce(s.unmapped, 0), coalesce(s.stale, 0), s.api_item_count,
                   coalesce(s.mapped_count, 0),
                   EXISTS (SELECT 1 FROM erasure_namespacescan r
                           WHERE r.namespace_id = n.id AND r.state = 'running'),
                   (SELECT coalesce(sum(c.reappeared), 0) FROM erasure_recheck c
                    WHERE c.namespace_id = n.id AND c.checked_at IS NOT NULL),
                   (SELECT count(*) FROM erasure_recheck c
                    WHERE c.namespace_id = n.id AND c.checked_at IS NULL
                      AND c.due_at < %s - interval '1 day')
            FROM erasure_namespace n
            LEFT JOIN LATERAL (
                SELECT finished_at, "full", unmapped, stale, api_item_count, mapped_count
                FROM erasure_namespacescan
                WHERE namespace_id = n.id AND state = 'completed'
                ORDER BY finished_at DESC LIMIT 1
            ) s ON true
            ORDER BY n.name
            LIMIT %s
            """,
            [now, DASHBOARD_NAMESPACES_SHOWN],
        )
        return [NamespaceCoverage(*row) for row in cursor.fetchall()]


def _open() -> Q:
    return Q(status__in=OPEN_STATUSES)


def _due_this_week(now: datetime) -> Q:
    # Open, not late yet, and late within 7 days.
    return _open() & Q(due_at__gte=now, due_at__lte=now + DUE_SOON)


def _overdue(now: datetime) -> Q:
    return _open() & Q(due_at__lt=now)


def _awaiting_action() -> Q:
    # What an operator must act on: failed items to retry, a request the sweeper gave up
    # on, or an open request whose work stopped with an error.
    return (
        Q(status=RequestStatus.COMPLETED_WITH_FAILURES)
        | Q(stuck_since__isnull=False)
        | (_open() & ~Q(last_error=""))
    )


def _rows(queryset: QuerySet[ErasureRequest], *, now: datetime) -> list[RequestRow]:
    values = queryset.annotate(
        subject_prefix=Substr("subject__key_hash", 1, SUBJECT_HASH_SHOWN)
    ).values(
        "id",
        "status",
        "regulation",
        "received_at",
        "due_at",
        "completed_at",
        "stuck_since",
        "last_error",
        "subject_prefix",
    )[:DASHBOARD_LIST_LIMIT]
    statuses = dict(RequestStatus.choices)
    regulations = dict(Regulation.choices)
    rows = []
    for value in values:
        deadline = ""
        if value["status"] in OPEN_STATUSES:
            if value["due_at"] < now:
                deadline = "overdue"
            elif value["due_at"] <= now + DUE_SOON:
                deadline = "due-soon"
        rows.append(
            RequestRow(
                id=value["id"],
                status=value["status"],
                status_label=statuses.get(value["status"], value["status"]),
                regulation=value["regulation"],
                regulation_label=regulations.get(value["regulation"], value["regulation"]),
                received_at=value["received_at"],
                due_at=value["due_at"],
                completed_at=value["completed_at"],
                stuck_since=value["stuck_since"],
                last_error=value["last_error"],
                subject_hash=value["subject_prefix"],
                deadline=deadline,
            )
        )
    return rows


def week_start(moment: datetime) -> date:
    """The Monday of the ISO week of `moment`, in the site's time zone (as TruncWeek)."""
    day = timezone.localtime(moment).date()
    return day - timedelta(days=day.weekday())


def _weekly(now: datetime) -> list[WeekStats]:
    current = week_start(now)
    first = current - timedelta(weeks=DASHBOARD_WEEKS - 1)
    tz = timezone.get_current_timezone()
    since = timezone.make_aware(datetime.combine(first, time.min), tz)
    until = timezone.make_aware(datetime.combine(current + timedelta(weeks=1), time.min), tz)

    received = (
        ErasureRequest.objects.filter(received_at__gte=since, received_at__lt=until)
        .annotate(week=TruncWeek("received_at"))
        .values("week")
        .annotate(n=Count("id"))
        .order_by()
    )
    completed = (
        ErasureRequest.objects.filter(
            status__in=COMPLETED_STATUSES, completed_at__gte=since, completed_at__lt=until
        )
        .annotate(week=TruncWeek("completed_at"))
        .values("week")
        .annotate(
            n=Count("id"),
            on_time=Count("id", filter=Q(completed_at__lte=F("due_at"))),
        )
        .order_by()
    )
    received_by_week = {timezone.localtime(row["week"]).date(): row["n"] for row in received}
    completed_by_week = {
        timezone.localtime(row["week"]).date(): (row["n"], row["on_time"]) for row in completed
    }
    weeks = []
    for index in range(DASHBOARD_WEEKS):
        start = first + timedelta(weeks=index)
        done, on_time = completed_by_week.get(start, (0, 0))
        weeks.append(
            WeekStats(
                start=start,
                received=received_by_week.get(start, 0),
                completed=done,
                completed_on_time=on_time,
            )
        )
    return weeks


def dashboard_get(*, now: datetime | None = None) -> Dashboard:
    """The dashboard as of `now` (default: the current time).

    - open by status: every open status, zeros included, in lifecycle order;
    - due this week: open, due within 7 days and not overdue; soonest first;
    - overdue: open and past due; most overdue first;
    - failures awaiting action: completed with failures, flagged stuck, or open with an
      error recorded; the closest deadline first;
    - per ISO week (the last 12, this one included): requests received, requests
      completed (with or without failures, by completion time), and those completed by
      their due date; the on-time rate over the 12 weeks is None if nothing completed.
    """
    now = now or timezone.now()
    requests = ErasureRequest.objects.all()

    by_status = dict(
        requests.filter(_open()).values_list("status").annotate(n=Count("id")).order_by()
    )
    open_by_status = [
        StatusCount(status=status.value, label=status.label, count=by_status.get(status.value, 0))
        for status in OPEN_STATUSES
    ]
    totals = requests.aggregate(
        due_this_week=Count("id", filter=_due_this_week(now)),
        overdue=Count("id", filter=_overdue(now)),
        failures=Count("id", filter=_awaiting_action()),
    )

    due_this_week = _rows(requests.filter(_due_this_week(now)).order_by("due_at", "id"), now=now)
    overdue = _rows(requests.filter(_overdue(now)).order_by("due_at", "id"), now=now)
    failures = _rows(requests.filter(_awaiting_action()).order_by("due_at", "id"), now=now)

    weeks = _weekly(now)
    completed_total = sum(week.completed for week in weeks)
    on_time_total = sum(week.completed_on_time for week in weeks)
    return Dashboard(
        now=now,
        open_by_status=open_by_status,
        open_total=sum(item.count for item in open_by_status),
        due_this_week_count=totals["due_this_week"],
        due_this_week=due_this_week,
        overdue_count=totals["overdue"],
        overdue=overdue,
        failures_count=totals["failures"],
        failures=failures,
        weeks=weeks,
        completed_total=completed_total,
        completed_on_time_total=on_time_total,
        on_time_rate=on_time_total / completed_total if completed_total else None,
        completeness=_completeness(now),
    )


# --- Requests by regulation, empty completions, the oldest open request, completeness ----
# Set-based like the rest of this module (CASE_FIGURES_QUERIES whatever the number of
# requests), over the same weeks as the on-time rate.

# Requests by regulation, empty completions by week, the oldest open request, the
# namespaces' scan intervals, the pending re-checks.
CASE_FIGURES_QUERIES = 5


@dataclass(frozen=True)
class RegulationStats:
    """One regulation's requests: open now, and completed in the weeks shown."""

    regulation: str
    label: str
    open: int
    overdue: int
    completed: int
    """Completed in the weeks shown, with or without failures."""
    completed_empty: int
    """Of those, completed with 0 items: nothing was mapped to the subject."""
    completed_on_time: int
    """Of those that erased something, completed by their due date."""

    @property
    def counted(self) -> int:
        """The completions the on-time rate is taken over (those that erased something)."""
        return self.completed - self.completed_empty

    @property
    def on_time_rate(self) -> float | None:
        return self.completed_on_time / self.counted if self.counted else None


@dataclass(frozen=True)
class OldestOpen:
    id: uuid.UUID
    status_label: str
    regulation_label: str
    received_at: datetime
    due_at: datetime
    age: str

    @property
    def short_id(self) -> str:
        return str(self.id)[:8]


@dataclass(frozen=True)
class CompletenessSummary:
    """The completeness tile in one line per concern, over the namespaces it lists."""

    namespaces: int
    never_scanned: int
    scan_overdue: int
    """Scanned, but the last complete scan is older than the namespace's scan interval."""
    attention: int
    """Unmapped items, stale mappings, re-appeared items or late re-checks."""
    scanning: int
    rechecks_pending: int
    rechecks_late: int
    capped: bool


@dataclass(frozen=True)
class CaseFigures:
    by_regulation: list[RegulationStats]
    total: RegulationStats
    empty_by_week: dict[date, int]
    oldest_open: OldestOpen | None
    completeness: CompletenessSummary


def _weeks_window(now: datetime) -> tuple[datetime, datetime]:
    """The weeks of the dashboard's chart and rate, as erasure.selectors.dashboard takes
    them: from the Monday DASHBOARD_WEEKS - 1 weeks back to the end of this week."""
    current = week_start(now)
    first = current - timedelta(weeks=DASHBOARD_WEEKS - 1)
    tz = timezone.get_current_timezone()
    return (
        timezone.make_aware(datetime.combine(first, time.min), tz),
        timezone.make_aware(datetime.combine(current + timedelta(weeks=1), time.min), tz),
    )


def _empty() -> Q:
    # `completed` (not `completed_with_failures`, which has failed items) with no item.
    return Q(status=RequestStatus.COMPLETED) & ~Q(
        Exists(ErasureItem.objects.filter(request_id=OuterRef("pk")))
    )


def age_text(age: timedelta) -> str:
    """An age in its largest whole unit: "12 days", "5 hours", "1 minute"."""
    seconds = max(int(age.total_seconds()), 0)
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = seconds // size
            return f"{n} {unit}{'' if n == 1 else 's'}"
    return "less than a minute"


def case_figures(*, dashboard: Dashboard) -> CaseFigures:
    """What the page adds to `dashboard` (erasure.selectors.dashboard), as of its `now`."""
    now = dashboard.now
    since, until = _weeks_window(now)
    done = Q(status__in=COMPLETED_STATUSES, completed_at__gte=since, completed_at__lt=until)
    on_time = Q(completed_at__lte=F("due_at"))
    open_ = Q(status__in=OPEN_STATUSES)
    rows: dict[str, Mapping[str, Any]] = {
        row["regulation"]: row
        for row in ErasureRequest.objects.filter(open_ | done)
        .values("regulation")
        .annotate(
            open=Count("id", filter=open_),
            overdue=Count("id", filter=open_ & Q(due_at__lt=now)),
            completed=Count("id", filter=done),
            empty=Count("id", filter=done & _empty()),
            on_time=Count("id", filter=done & on_time & ~_empty()),
        )
        .order_by()
    }
    # Every regulation, zeros included, in the order of its choices.
    none = dict.fromkeys(("open", "overdue", "completed", "empty", "on_time"), 0)
    by_regulation = []
    for regulation in Regulation:
        row = rows.get(regulation.value, none)
        by_regulation.append(
            RegulationStats(
                regulation=regulation.value,
                label=regulation.label,
                open=row["open"],
                overdue=row["overdue"],
                completed=row["completed"],
                completed_empty=row["empty"],
                completed_on_time=row["on_time"],
            )
        )
    total = RegulationStats(
        regulation="total",
        label="All regulations",
        open=sum(r.open for r in by_regulation),
        overdue=sum(r.overdue for r in by_regulation),
        completed=sum(r.completed for r in by_regulation),
        completed_empty=sum(r.completed_empty for r in by_regulation),
        completed_on_time=sum(r.completed_on_time for r in by_regulation),
    )
    empty_by_week = {
        timezone.localtime(row["week"]).date(): row["n"]
        for row in ErasureRequest.objects.filter(done & _empty())
        .annotate(week=TruncWeek("completed_at"))
        .values("week")
        .annotate(n=Count("id"))
        .order_by()
    }
    oldest = (
        ErasureRequest.objects.filter(open_)
        .order_by("received_at", "id")
        .values("id", "status", "regulation", "received_at", "due_at")
        .first()
    )
    return CaseFigures(
        by_regulation=by_regulation,
        total=total,
        empty_by_week=empty_by_week,
        oldest_open=_oldest(oldest, now=now) if oldest else None,
        completeness=_completeness_summary(dashboard.completeness, now=now),
    )


def _oldest(row: Mapping[str, Any], *, now: datetime) -> OldestOpen:
    return OldestOpen(
        id=row["id"],
        status_label=RequestStatus(row["status"]).label,
        regulation_label=Regulation(row["regulation"]).label,
        received_at=row["received_at"],
        due_at=row["due_at"],
        age=age_text(now - row["received_at"]),
    )


def _completeness_summary(
    namespaces: Sequence[NamespaceCoverage], *, now: datetime
) -> CompletenessSummary:
    # A namespace's own scan interval, else the service's; 0 (or none) means no periodic
    # scans, so its scan is never overdue. A name shared by namespaces of two APIs takes
    # the strictest interval.
    default = settings.ERASURE_SCAN_INTERVAL_HOURS
    intervals: dict[str, float] = {}
    for name, own in Namespace.objects.values_list("name", "scan_interval_hours"):
        hours = default if own is None else own
        if hours > 0:
            intervals[name] = min(hours, intervals.get(name, hours))
    pending = Recheck.objects.filter(checked_at__isnull=True).count()
    return CompletenessSummary(
        namespaces=len(namespaces),
        never_scanned=sum(ns.last_scan_at is None for ns in namespaces),
        scan_overdue=sum(
            ns.last_scan_at is not None
            and ns.name in intervals
            and ns.last_scan_at < now - timedelta(hours=intervals[ns.name])
            for ns in namespaces
        ),
        attention=sum(ns.state == "attention" for ns in namespaces),
        scanning=sum(ns.scanning for ns in namespaces),
        rechecks_pending=pending,
        rechecks_late=sum(ns.rechecks_overdue for ns in namespaces),
        capped=len(namespaces) >= DASHBOARD_NAMESPACES_SHOWN,
    )
