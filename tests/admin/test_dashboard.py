"""The team dashboard: its figures come from set-based queries, every role sees it, late
and nearly late requests stand out, and no subject key shows."""

from __future__ import annotations

import hashlib
import itertools
import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import pytest
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from erasure import roles
from erasure.admin.dashboard import dashboard_view, weekly_chart_svg
from erasure.models import ErasureRequest, Subject
from erasure.selectors.dashboard import (
    DASHBOARD_LIST_LIMIT,
    DASHBOARD_QUERIES,
    WeekStats,
    dashboard_get,
)

pytestmark = pytest.mark.django_db


# A Wednesday, in ISO week 2026-W47 (Monday 16 November). The 12 weeks shown run from
# 2026-W36 (Monday 31 August) to 2026-W47.
NOW = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
_serial = itertools.count()


def _subject(raw_key: str | None = None) -> Subject:
    n = next(_serial)
    key_hash = hashlib.sha256(f"subject-{n}".encode()).hexdigest()
    return Subject.objects.create(key_hash=key_hash, raw_key=raw_key)


def _request(
    status: str,
    *,
    due_at: datetime,
    received_at: datetime | None = None,
    completed_at: datetime | None = None,
    stuck_since: datetime | None = None,
    last_error: str = "",
    regulation: str = "gdpr",
    raw_key: str | None = None,
) -> ErasureRequest:
    return ErasureRequest.objects.create(
        subject=_subject(raw_key),
        source="api",
        regulation=regulation,
        status=status,
        received_at=received_at or due_at - 30 * DAY,
        due_at=due_at,
        completed_at=completed_at,
        stuck_since=stuck_since,
        last_error=last_error,
    )


def _ids(rows) -> list:
    return [row.id for row in rows]


@pytest.fixture
def world() -> dict[str, ErasureRequest]:
    """Requests in every situation the dashboard distinguishes, as of NOW."""
    return {
        # Due this week (open, NOW <= due <= NOW + 7 days).
        "due_now": _request("scheduled", due_at=NOW, received_at=NOW - 30 * DAY),
        "due_1d_error": _request(
            "running",
            due_at=NOW + DAY,
            received_at=datetime(2026, 11, 16, 0, 0, tzinfo=UTC),  # Monday 00:00, W47
            last_error="stopped: retry budget exhausted for namespace docs",
        ),
        "due_2d": _request(
            "received",
            due_at=NOW + 2 * DAY,
            received_at=datetime(2026, 11, 15, 23, 59, 59, tzinfo=UTC),  # Sunday, W46
            regulation="ccpa",
        ),
        "due_7d": _request("running", due_at=NOW + 7 * DAY, received_at=NOW - DAY),
        # Open, not due soon.
        "due_8d": _request("approved", due_at=NOW + 8 * DAY, received_at=NOW - 2 * DAY),
        "stuck": _request(
            "approved",
            due_at=NOW + 20 * DAY,
            received_at=datetime(2026, 8, 31, 0, 0, tzinfo=UTC),  # first day shown, W36
            stuck_since=NOW - 3 * DAY,
            last_error="re-queued 5 times without finishing",
        ),
        # Overdue (open, due before NOW).
        "late_3d": _request(
            "awaiting_approval",
            due_at=NOW - 3 * DAY,
            received_at=datetime(2026, 8, 30, 23, 59, tzinfo=UTC),  # before the 12 weeks
            raw_key="alice@example.com",
        ),
        "late_10d": _request("on_hold", due_at=NOW - 10 * DAY, received_at=NOW - 40 * DAY),
        # Closed.
        "with_failures": _request(
            "completed_with_failures",
            due_at=NOW + 5 * DAY,
            received_at=NOW - 3 * DAY,
            completed_at=NOW - 2 * DAY,  # Monday, W47, on time
        ),
        "completed_late": _request(
            "completed",
            due_at=NOW - 2 * DAY,
            received_at=NOW - 33 * DAY,
            completed_at=NOW - DAY,  # Tuesday, W47, a day late
        ),
        "completed_at_deadline": _request(
            "completed",
            due_at=datetime(2026, 11, 12, 9, 0, tzinfo=UTC),
            received_at=NOW - 9 * DAY,  # W46
            completed_at=datetime(2026, 11, 12, 9, 0, tzinfo=UTC),  # W46, exactly on time
        ),
        "completed_long_ago": _request(
            "completed",
            due_at=NOW - 80 * DAY,
            received_at=NOW - 100 * DAY,
            completed_at=datetime(2026, 8, 30, 12, 0, tzinfo=UTC),  # before the 12 weeks
        ),
        "cancelled_past_due": _request(
            "cancelled", due_at=NOW - 5 * DAY, received_at=NOW - 35 * DAY, last_error="x"
        ),
        "failed_no_error": _request("failed", due_at=NOW - 4 * DAY, received_at=NOW - 34 * DAY),
    }


def test_open_requests_are_counted_by_status_with_zeros(world):
    dashboard = dashboard_get(now=NOW)
    assert [(entry.status, entry.count) for entry in dashboard.open_by_status] == [
        ("received", 1),
        ("awaiting_approval", 1),
        ("approved", 2),
        ("scheduled", 1),
        ("running", 2),
        ("on_hold", 1),
    ]
    assert dashboard.open_total == 8
    assert dashboard.open_by_status[1].label == "Awaiting approval"


def test_due_this_week_is_open_due_within_seven_days_and_not_overdue_soonest_first(world):
    dashboard = dashboard_get(now=NOW)
    expected = ["due_now", "due_1d_error", "due_2d", "due_7d"]
    assert dashboard.due_this_week_count == 4
    assert _ids(dashboard.due_this_week) == [world[name].pk for name in expected]
    row = dashboard.due_this_week[2]
    assert (row.status, row.regulation, row.due_at) == ("received", "ccpa", NOW + 2 * DAY)
    assert row.regulation_label == "CCPA/CPRA 1798.105"
    assert {row.deadline for row in dashboard.due_this_week} == {"due-soon"}


def test_overdue_is_open_and_past_due_most_overdue_first(world):
    dashboard = dashboard_get(now=NOW)
    # Cancelled and failed requests past their date are closed, not overdue.
    assert dashboard.overdue_count == 2
    assert _ids(dashboard.overdue) == [world["late_10d"].pk, world["late_3d"].pk]
    assert {row.deadline for row in dashboard.overdue} == {"overdue"}


def test_failures_awaiting_action_are_failed_items_stuck_or_stopped_open_requests(world):
    dashboard = dashboard_get(now=NOW)
    # Closest deadline first; a cancelled request's old error needs nobody.
    assert dashboard.failures_count == 3
    assert _ids(dashboard.failures) == [
        world["due_1d_error"].pk,
        world["with_failures"].pk,
        world["stuck"].pk,
    ]
    by_id = {row.id: row for row in dashboard.failures}
    assert by_id[world["due_1d_error"].pk].last_error.startswith("stopped:")
    assert by_id[world["stuck"].pk].stuck_since == NOW - 3 * DAY
    assert by_id[world["due_1d_error"].pk].deadline == "due-soon"
    # Closed: no deadline left to highlight.
    assert by_id[world["with_failures"].pk].deadline == ""


def test_weeks_count_received_completed_and_on_time_by_iso_week(world):
    dashboard = dashboard_get(now=NOW)
    assert [week.label for week in dashboard.weeks] == [f"2026-W{n}" for n in range(36, 48)]
    assert dashboard.weeks[0].start.isoformat() == "2026-08-31"
    figures = {
        week.label: (week.received, week.completed, week.completed_on_time)
        for week in dashboard.weeks
        if week.received or week.completed
    }
    assert figures == {
        # Monday 00:00 opens a week; a minute before it (late_3d) is outside the 12 weeks.
        "2026-W36": (1, 0, 0),
        "2026-W41": (1, 0, 0),
        "2026-W42": (3, 0, 0),
        "2026-W43": (1, 0, 0),
        # Sunday 23:59:59 still belongs to the week before Monday.
        "2026-W46": (3, 1, 1),
        # Completed with failures counts as completed; completed_late missed its date.
        "2026-W47": (3, 2, 1),
    }
    rates = {week.label: week.on_time_rate for week in dashboard.weeks}
    assert rates["2026-W47"] == 0.5
    assert rates["2026-W46"] == 1.0
    assert rates["2026-W45"] is None


def test_on_time_rate_covers_the_twelve_weeks_only(world):
    dashboard = dashboard_get(now=NOW)
    # completed_long_ago (before W36) is left out; completed_at == due_at is on time.
    assert (dashboard.completed_total, dashboard.completed_on_time_total) == (3, 2)
    assert dashboard.on_time_rate == pytest.approx(2 / 3)


def test_an_empty_service_shows_zeros_and_no_rate():
    dashboard = dashboard_get(now=NOW)
    assert dashboard.open_total == 0
    assert [entry.count for entry in dashboard.open_by_status] == [0] * 6
    assert dashboard.due_this_week == dashboard.overdue == dashboard.failures == []
    assert dashboard.due_this_week_count == dashboard.overdue_count == 0
    assert dashboard.failures_count == 0
    assert len(dashboard.weeks) == 12
    assert all(week.received == week.completed == 0 for week in dashboard.weeks)
    assert dashboard.on_time_rate is None


def test_lists_are_capped_but_counts_are_not_and_queries_do_not_grow(
    django_assert_num_queries,
):
    with django_assert_num_queries(DASHBOARD_QUERIES):
        dashboard_get(now=NOW)
    count = DASHBOARD_LIST_LIMIT + 5
    subjects = Subject.objects.bulk_create(
        Subject(key_hash=hashlib.sha256(f"bulk-{n}".encode()).hexdigest()) for n in range(count)
    )
    ErasureRequest.objects.bulk_create(
        ErasureRequest(
            subject=subject,
            status="running",
            source="api",
            received_at=NOW - 40 * DAY,
            due_at=NOW - (n + 1) * DAY,
            last_error="stopped",
        )
        for n, subject in enumerate(subjects)
    )
    with django_assert_num_queries(DASHBOARD_QUERIES):
        dashboard = dashboard_get(now=NOW)
    assert dashboard.overdue_count == dashboard.failures_count == count
    assert len(dashboard.overdue) == len(dashboard.failures) == DASHBOARD_LIST_LIMIT
    # Most overdue first: the cut keeps the 50 latest.
    assert dashboard.overdue[0].due_at == NOW - count * DAY
    assert dashboard.overdue[-1].due_at == NOW - 6 * DAY


def test_rows_carry_a_twelve_character_hash_prefix_only(world):
    dashboard = dashboard_get(now=NOW)
    row = next(row for row in dashboard.overdue if row.id == world["late_3d"].pk)
    assert row.subject_hash == world["late_3d"].subject.key_hash[:12]
    assert len(row.subject_hash) == 12


def test_the_chart_draws_both_series_and_each_weeks_rate_without_script():
    weeks = dashboard_get(now=NOW).weeks
    weeks[-1] = WeekStats(start=weeks[-1].start, received=7, completed=4, completed_on_time=3)
    weeks[-3] = WeekStats(start=weeks[-3].start, received=2, completed=1, completed_on_time=0)
    svg = str(weekly_chart_svg(weeks))
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert "<script" not in svg and "http" not in svg.replace("http://www.w3.org/2000/svg", "")
    assert svg.count('class="bar-received"') == svg.count('class="bar-completed"') == 12
    assert 'class="bar-received" data-week="2026-W47" data-value="7"' in svg
    assert 'class="bar-completed" data-week="2026-W47" data-value="4"' in svg
    assert re.search(r'class="week-rate" data-week="2026-W47" [^>]*>75%</text>', svg)
    assert ">0%</text>" in svg  # 2026-W45: one completion, late
    assert svg.count(">—</text>") == 10  # weeks without completions have no rate
    # The line breaks over W46 (no completions): two separate points, two moves.
    path_d = svg.split('class="on-time-line" d="')[1].split('"')[0]
    assert path_d.count("M") == 2 and "L" not in path_d


class _Element(HTMLParser):
    """The inner text and the opening tags inside the element with a given id."""

    def __init__(self, element_id: str) -> None:
        super().__init__()
        self.element_id = element_id
        self.depth = 0
        self.text: list[str] = []
        self.tags: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if self.depth:
            self.depth += 1
            self.tags.append({"tag": tag, **found})
        elif found.get("id") == self.element_id:
            self.depth = 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.depth:
            self.tags.append({"tag": tag, **dict(attrs)})

    def handle_endtag(self, tag: str) -> None:
        if self.depth:
            self.depth -= 1

    def handle_data(self, data: str) -> None:
        if self.depth:
            self.text.append(data)


def _element(html: str, element_id: str) -> _Element:
    parser = _Element(element_id)
    parser.feed(html)
    assert parser.tags or parser.text, f"#{element_id} is missing"
    return parser


def _rows_of(html: str, element_id: str) -> dict[str, str]:
    """Request id -> class of its row, in the section `element_id`."""
    return {
        str(tag["data-request-id"]): str(tag["class"])
        for tag in _element(html, element_id).tags
        if tag["tag"] == "tr" and "data-request-id" in tag
    }


def _factory_request(user):
    request = RequestFactory().get("/admin/dashboard/")
    request.user = user
    return request


def test_the_view_refuses_a_user_without_the_view_permission(staff):
    request = _factory_request(staff("nobody", "view_namespace"))
    with pytest.raises(PermissionDenied):
        dashboard_view(request, admin_site=admin.site)


def test_the_view_renders_every_section_for_a_user_with_the_view_permission(staff):
    request = _factory_request(staff("viewer", "view_erasurerequest"))
    response = dashboard_view(request, admin_site=admin.site)
    response.render()
    assert response.status_code == 200
    html = response.content.decode()
    for element_id in (
        "open-by-status",
        "due-this-week",
        "overdue",
        "failures",
        "weekly-chart",
        "on-time-rate",
    ):
        _element(html, element_id)
    # The admin's own context (site header, user tools) is there.
    assert response.context_data["site_header"] == admin.site.site_header
    assert response.context_data["title"] == "Team dashboard"


def _relative_world() -> dict[str, ErasureRequest]:
    """A few requests relative to the real clock: the view reads timezone.now()."""
    now = timezone.now()
    return {
        "late": _request(
            "running", due_at=now - 2 * DAY, received_at=now - 32 * DAY, raw_key="bob@example.com"
        ),
        "soon": _request("awaiting_approval", due_at=now + 3 * DAY, received_at=now - DAY),
        "later": _request("approved", due_at=now + 20 * DAY, received_at=now - DAY),
        "failed_items": _request(
            "completed_with_failures",
            due_at=now + 10 * DAY,
            received_at=now - 2 * DAY,
            completed_at=now - DAY,
        ),
    }


@pytest.mark.parametrize("role", [roles.OFFICER, roles.APPROVER, roles.AUDITOR])
def test_every_role_sees_the_dashboard(client, staff, role):
    requests = _relative_world()
    client.force_login(staff("member", group=role))
    response = client.get(reverse("admin:erasure_dashboard"))
    assert response.status_code == 200
    assert reverse("admin:erasure_dashboard") == "/admin/dashboard/"
    html = response.content.decode()
    assert str(requests["late"].pk) in _rows_of(html, "overdue")


def test_a_staff_member_without_the_permission_is_refused_and_an_outsider_sent_to_login(
    client, staff, django_user_model
):
    client.force_login(staff("nobody"))
    assert client.get("/admin/dashboard/").status_code == 403
    client.logout()
    outsider = django_user_model.objects.create_user("outsider", password="pw")
    client.force_login(outsider)
    response = client.get("/admin/dashboard/")
    assert response.status_code == 302
    assert response.url.startswith("/admin/login/")


def test_overdue_and_due_soon_rows_are_highlighted_with_a_text_label_and_linked(client, staff):
    requests = _relative_world()
    client.force_login(staff("viewer", "view_erasurerequest"))
    html = client.get("/admin/dashboard/").content.decode()

    late, soon = str(requests["late"].pk), str(requests["soon"].pk)
    assert _rows_of(html, "overdue") == {late: "request-row overdue"}
    assert _rows_of(html, "due-this-week") == {soon: "request-row due-soon"}
    assert _rows_of(html, "failures") == {str(requests["failed_items"].pk): "request-row "}
    # Readable without colour: each highlighted row says what it is.
    assert "Overdue" in "".join(_element(html, "overdue").text)
    assert "Due soon" in "".join(_element(html, "due-this-week").text)
    assert "Some items failed" in "".join(_element(html, "failures").text)
    for name in ("late", "soon", "failed_items"):
        url = reverse("admin:erasure_erasurerequest_change", args=[requests[name].pk])
        assert f'href="{url}"' in html


def test_the_page_shows_the_counts_and_rate_and_no_subject_key(client, staff):
    requests = _relative_world()
    client.force_login(staff("viewer", "view_erasurerequest"))
    html = client.get("/admin/dashboard/").content.decode()

    statuses = {
        str(tag["data-status"]): tag
        for tag in _element(html, "open-by-status").tags
        if tag["tag"] == "tr" and "data-status" in tag
    }
    assert set(statuses) == {
        "received",
        "awaiting_approval",
        "approved",
        "scheduled",
        "running",
        "on_hold",
        "total",
    }
    open_text = " ".join(" ".join(_element(html, "open-by-status").text).split())
    assert "Running 1" in open_text and "Approved 1" in open_text and "All open 3" in open_text
    # One completion this week, on time.
    assert "".join(_element(html, "on-time-rate").text).strip() == "100%"
    chart = _element(html, "weekly-chart")
    assert any(tag["tag"] == "svg" for tag in chart.tags)
    assert not any(tag["tag"] == "script" for tag in chart.tags)

    # Subjects: a 12-character hash prefix at most, never the raw key or the whole hash.
    subject = requests["late"].subject
    assert "bob@example.com" not in html
    assert subject.key_hash not in html
    assert subject.key_hash[:12] in html
