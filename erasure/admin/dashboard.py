"""The team dashboard of the admin (`/admin/dashboard/`): what is open, due, overdue or
failed, how the last weeks went, the requests by regulation, the oldest open request and
the completeness of the namespaces.

Every role reads it (anyone with `erasure.view_erasurerequest`). A link is drawn only
where the viewer may follow it (a namespace or re-check list needs its own view
permission): no link on this page answers 403.

A request whose subject had nothing mapped completes at once with 0 items, on time by
construction. Counted as an on-time erasure it would flatter the rate (issue 16): the
headline on-time rate and the per-regulation rates leave such requests out, and the page
states how many there were next to the rate (and the rate with them included).

The weekly chart is an SVG drawn here, on the server: the admin loads no JavaScript
library and nothing from a CDN, and the page prints and reads the same everywhere.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from django.contrib.admin import AdminSite
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from erasure.selectors.dashboard import (
    RequestRow,
    WeekStats,
    case_figures,
    dashboard_get,
)

TEMPLATE = "admin/erasure/dashboard.html"

CHART_WIDTH = 720
CHART_HEIGHT = 280
_LEFT, _RIGHT, _TOP, _BOTTOM = 44, 48, 16, 58
# Light and dark bars and a dashed black line: told apart in greyscale too.
RECEIVED_COLOUR = "#79aec8"
COMPLETED_COLOUR = "#264b5d"
ON_TIME_COLOUR = "#333333"


def dashboard_view(request: HttpRequest, *, admin_site: AdminSite) -> TemplateResponse:
    """The dashboard page; wrap it in `admin_site.admin_view` (staff login) to serve it."""
    if not request.user.has_perm("erasure.view_erasurerequest"):
        raise PermissionDenied
    dashboard = dashboard_get()
    figures = case_figures(dashboard=dashboard)
    oldest = figures.oldest_open
    context = {
        **admin_site.each_context(request),
        "title": "Team dashboard",
        "dashboard": dashboard,
        "figures": figures,
        # Links only where the viewer may follow them.
        "can_view_requests": request.user.has_perm("erasure.view_erasurerequest"),
        "can_view_namespaces": request.user.has_perm("erasure.view_namespace"),
        "can_view_rechecks": request.user.has_perm("erasure.view_recheck"),
        "oldest_url": reverse("admin:erasure_erasurerequest_change", args=[oldest.id])
        if oldest
        else None,
        "regulations": [(r, _percent(r.on_time_rate)) for r in figures.by_regulation],
        "total_percent": _percent(figures.total.on_time_rate),
        # Most urgent first: late, then due soon, then what waits on an operator.
        "sections": [
            {
                "id": "overdue",
                "title": "Overdue",
                "count": dashboard.overdue_count,
                "rows": _linked(dashboard.overdue),
                "empty": "Nothing is overdue.",
                "reasons": False,
            },
            {
                "id": "due-this-week",
                "title": "Due this week",
                "count": dashboard.due_this_week_count,
                "rows": _linked(dashboard.due_this_week),
                "empty": "Nothing falls due in the next 7 days.",
                "reasons": False,
            },
            {
                "id": "failures",
                "title": "Failures awaiting action",
                "count": dashboard.failures_count,
                "rows": _linked(dashboard.failures),
                "empty": "No failures await action.",
                "reasons": True,
            },
        ],
        "weekly_chart": weekly_chart_svg(dashboard.weeks),
        "weeks": [
            (week, _percent(week.on_time_rate), figures.empty_by_week.get(week.start, 0))
            for week in dashboard.weeks
        ],
        # Every completion, those with 0 items included (the weekly chart's rate).
        "on_time_percent_all": _percent(dashboard.on_time_rate),
    }
    return TemplateResponse(request, TEMPLATE, context)


def dashboard_urls(admin_site: AdminSite) -> list[URLPattern]:
    """The dashboard's URL, to put before `admin_site.get_urls()` in the admin's
    namespace: `admin/dashboard/`, named `admin:erasure_dashboard`."""

    def view(request: HttpRequest) -> HttpResponse:
        return dashboard_view(request, admin_site=admin_site)

    return [path("dashboard/", admin_site.admin_view(view), name="erasure_dashboard")]


def _linked(rows: Sequence[RequestRow]) -> list[tuple[RequestRow, str]]:
    return [(row, reverse("admin:erasure_erasurerequest_change", args=[row.id])) for row in rows]


def _percent(rate: float | None) -> str:
    return "—" if rate is None else f"{rate:.0%}"


def _nice_step(largest: int, ticks: int = 4) -> int:
    """The smallest of 1, 2, 5, 10, 20, 50, ... that draws `largest` in `ticks` steps."""
    raw = max(largest, 1) / ticks
    magnitude = 10 ** max(math.floor(math.log10(raw)), 0)
    for factor in (1, 2, 5, 10):
        if factor * magnitude >= raw:
            return factor * magnitude
    return 10 * magnitude  # pragma: no cover (factor 10 always fits)


def _n(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")


def weekly_chart_svg(weeks: Sequence[WeekStats]) -> SafeString:
    """Requests received and completed per week as bars (left axis, counts), and the
    on-time rate of each week's completions as a dashed line (right axis, 0-100 %),
    with each week's rate also written under its label. Weeks without completions have
    no rate: the line breaks there and the label reads "—"."""
    plot_width = CHART_WIDTH - _LEFT - _RIGHT
    plot_height = CHART_HEIGHT - _TOP - _BOTTOM
    bottom = _TOP + plot_height
    largest = max([0, *(max(week.received, week.completed) for week in weeks)])
    step = _nice_step(largest)
    top_value = max(step * math.ceil(largest / step), step)
    slot = plot_width / max(len(weeks), 1)
    bar = slot * 0.34

    def y_count(value: float) -> float:
        return bottom - plot_height * value / top_value

    def y_rate(rate: float) -> float:
        return bottom - plot_height * rate

    parts: list[str] = [
        format_html(
            '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {} {}" width="100%" '
            'role="img" aria-labelledby="weekly-chart-title" class="weekly-chart" '
            'style="max-width:{}px;font:11px sans-serif">'
            '<title id="weekly-chart-title">Requests received and completed per week '
            "({} weeks), with the on-time rate of completions</title>",
            CHART_WIDTH,
            CHART_HEIGHT,
            CHART_WIDTH,
            len(weeks),
        )
    ]
    for tick in range(0, top_value + 1, step):
        y = _n(y_count(tick))
        parts.append(
            format_html(
                '<line x1="{}" x2="{}" y1="{}" y2="{}" stroke="#ddd"/>'
                '<text x="{}" y="{}" text-anchor="end" dominant-baseline="middle">{}</text>',
                _LEFT,
                _LEFT + plot_width,
                y,
                y,
                _LEFT - 6,
                y,
                tick,
            )
        )
    for rate_tick in (0, 50, 100):
        parts.append(
            format_html(
                '<text x="{}" y="{}" dominant-baseline="middle">{}%</text>',
                _LEFT + plot_width + 6,
                _n(y_rate(rate_tick / 100)),
                rate_tick,
            )
        )

    line: list[str] = []
    pen_down = False
    for index, week in enumerate(weeks):
        x = _LEFT + slot * index + (slot - 2 * bar) / 2
        centre = _LEFT + slot * index + slot / 2
        rate = week.on_time_rate
        rate_text = _percent(rate)
        for offset, kind, value, colour in (
            (0.0, "received", week.received, RECEIVED_COLOUR),
            (bar, "completed", week.completed, COMPLETED_COLOUR),
        ):
            height = bottom - y_count(value)
            parts.append(
                format_html(
                    '<rect class="bar-{}" data-week="{}" data-value="{}" x="{}" y="{}" '
                    'width="{}" height="{}" fill="{}"><title>{}: {} {}</title></rect>',
                    kind,
                    week.label,
                    value,
                    _n(x + offset),
                    _n(bottom - height),
                    _n(bar),
                    _n(height),
                    colour,
                    week.label,
                    value,
                    kind,
                )
            )
        parts.append(
            format_html(
                '<text x="{}" y="{}" text-anchor="middle">{}</text>'
                '<text class="week-rate" data-week="{}" x="{}" y="{}" '
                'text-anchor="middle">{}</text>',
                _n(centre),
                bottom + 14,
                f"W{week.start.isocalendar()[1]:02d}",
                week.label,
                _n(centre),
                bottom + 28,
                rate_text,
            )
        )
        if rate is None:
            pen_down = False
            continue
        point = f"{_n(centre)} {_n(y_rate(rate))}"
        line.append(("L" if pen_down else "M") + point)
        pen_down = True
        parts.append(
            format_html(
                '<circle cx="{}" cy="{}" r="3" fill="{}"><title>{}: {} on time</title></circle>',
                _n(centre),
                _n(y_rate(rate)),
                ON_TIME_COLOUR,
                week.label,
                rate_text,
            )
        )
    if line:
        parts.append(
            format_html(
                '<path class="on-time-line" d="{}" fill="none" stroke="{}" '
                'stroke-width="1.5" stroke-dasharray="4 3"/>',
                " ".join(line),
                ON_TIME_COLOUR,
            )
        )

    legend_y = CHART_HEIGHT - 12
    parts.append(
        format_html(
            '<rect x="{}" y="{}" width="10" height="10" fill="{}"/>'
            '<text x="{}" y="{}">Received</text>'
            '<rect x="{}" y="{}" width="10" height="10" fill="{}"/>'
            '<text x="{}" y="{}">Completed</text>'
            '<line x1="{}" x2="{}" y1="{}" y2="{}" stroke="{}" stroke-width="1.5" '
            'stroke-dasharray="4 3"/>'
            '<text x="{}" y="{}">On time (% of completed, right axis; also under each week)'
            "</text></svg>",
            _LEFT,
            legend_y - 9,
            RECEIVED_COLOUR,
            _LEFT + 14,
            legend_y,
            _LEFT + 90,
            legend_y - 9,
            COMPLETED_COLOUR,
            _LEFT + 104,
            legend_y,
            _LEFT + 190,
            _LEFT + 214,
            legend_y - 4,
            legend_y - 4,
            ON_TIME_COLOUR,
            _LEFT + 220,
            legend_y,
        )
    )
    # Every part above came out of format_html, which escaped its arguments.
    return mark_safe("".join(parts))  # noqa: S308
