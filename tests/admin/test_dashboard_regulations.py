"""The dashboard as a case overview (issue 16): requests by regulation, the oldest open
request's age, the completeness state, and completions that erased nothing (0 items),
which are shown and left out of the on-time rate. No link on it answers 403."""

from __future__ import annotations

import hashlib
import itertools
import re
from datetime import timedelta
from html import unescape

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from erasure import roles
from erasure.actors import Actor
from erasure.clients import make_client
from erasure.models import ErasureItem, ErasureRequest, Namespace, Subject
from erasure.selectors.dashboard import CASE_FIGURES_QUERIES, age_text, case_figures, dashboard_get
from erasure.services.execution import request_execute
from erasure.services.requests import request_approve, request_file
from erasure.services.scans import scan_run, scan_start
from tests.services.execution.helpers import prepare

pytestmark = pytest.mark.django_db

DAY = timedelta(days=1)
_serial = itertools.count()


def _text(html: str) -> str:
    """What a person reads: cells and lines apart, inline tags (links, emphasis) run in."""
    spaced = re.sub(r"</?(?:td|th|tr|li|p|br|ul|table)\b[^>]*>", " ", html)
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", spaced))).strip()


def _by_id(html: str, element_id: str) -> str:
    """The text of the element with `element_id` (one that holds no element of its own
    tag name)."""
    match = re.search(rf'<(\w+)[^>]* id="{element_id}"[^>]*>(.*?)</\1>', html, re.S)
    assert match is not None, f"#{element_id} is missing"
    return _text(match.group(2))


def _regulation_rows(html: str) -> dict[str, str]:
    table = re.search(r'<div class="module" id="by-regulation">(.*?)</div>', html, re.S)
    assert table is not None, "#by-regulation is missing"
    return {
        key: _text(row)
        for key, row in re.findall(
            r'<tr data-regulation="(\w+)"[^>]*>(.*?)</tr>', table.group(1), re.S
        )
    }


def _nothing_mapped_completed(regulation: str = "ccpa") -> ErasureRequest:
    """A request filed and approved for a subject with nothing mapped, carried out: it
    completes at once, with 0 items."""
    filed = request_file(
        subject_key=f"auth0|nobody-{next(_serial)}",
        actor=Actor.system("test-filer"),
        source="admin",
        regulation=regulation,
    )
    request_approve(request=filed.request, actor=Actor.system("test-approver"))
    assert request_execute(request_id=filed.request.pk).finished
    request = ErasureRequest.objects.get(pk=filed.request.pk)
    assert request.status == "completed" and not request.items.exists()
    return request


def _open(regulation: str, *, received_ago: timedelta, due_in: timedelta) -> ErasureRequest:
    now = timezone.now()
    subject = Subject.objects.create(
        key_hash=hashlib.sha256(f"open-{next(_serial)}".encode()).hexdigest()
    )
    return ErasureRequest.objects.create(
        subject=subject,
        source="api",
        regulation=regulation,
        status="awaiting_approval",
        received_at=now - received_ago,
        due_at=now + due_in,
    )


def _viewer(django_user_model, *codenames: str):
    user = django_user_model.objects.create_user(
        f"viewer-{next(_serial)}", password="pw", is_staff=True
    )
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="erasure", codename__in=codenames)
    )
    return user


def test_requests_by_regulation_oldest_open_and_empty_completions_on_the_page(
    client, emulator, role_user
):
    erased = prepare(emulator, texts=2, vectors=1)  # GDPR, mapped items
    assert request_execute(request_id=erased.pk).finished
    empty = _nothing_mapped_completed("ccpa")
    oldest = _open("gdpr", received_ago=25 * DAY + timedelta(hours=3), due_in=5 * DAY)
    _open("lgpd", received_ago=20 * DAY, due_in=-5 * DAY)  # overdue, but received later

    client.force_login(role_user("otto", roles.OFFICER))
    html = client.get("/admin/dashboard/").content.decode()

    rows = _regulation_rows(html)
    assert list(rows) == ["gdpr", "ccpa", "lgpd", "other", "total"]
    # Regulation, open, overdue, completed, with 0 items, on time of those counted, rate.
    assert rows["gdpr"] == "GDPR Art. 17 1 0 1 0 1 of 1 100%"
    assert rows["ccpa"] == "CCPA/CPRA 1798.105 0 0 1 1 0 of 0 —"
    assert rows["lgpd"] == "LGPD Art. 18 1 1 0 0 0 of 0 —"
    assert rows["other"] == "Other 0 0 0 0 0 of 0 —"
    assert rows["total"] == "All regulations 2 1 2 1 1 of 1 100%"

    assert _by_id(html, "empty-completions") == "1"
    assert _by_id(html, "on-time-rate") == "100%"
    note = _by_id(html, "on-time-note")
    assert "1 of 1 completed request that erased something met its deadline." in note
    assert "1 more completed with 0 items (nothing was mapped to the subject" in note
    assert "they are left out of the rate" in note
    assert "Counting them, 2 of 2 (100%) were on time" in note
    assert str(empty.pk)[:8] not in _by_id(html, "on-time-note")

    oldest_text = _text(re.search(r'id="oldest-open">(.*?)</td>', html, re.S).group(1))
    assert oldest_text.startswith(f"25 days request {str(oldest.pk)[:8]}: awaiting approval")
    assert re.search(r"received \d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC", oldest_text)
    url = reverse("admin:erasure_erasurerequest_change", args=[oldest.pk])
    assert f'<a href="{url}">request {str(oldest.pk)[:8]}</a>' in html


def test_completions_with_nothing_mapped_do_not_make_a_late_team_look_on_time(
    django_user_model,
):
    # One real erasure, a day late; two requests with nothing mapped, on time by
    # construction. Counted together the rate would read 67 %.
    namespace = Namespace.objects.create(name="notes", kind="text", attribution_mode="exact")
    now = timezone.now()
    late = ErasureRequest.objects.create(
        subject=Subject.objects.create(key_hash=hashlib.sha256(b"late").hexdigest()),
        source="api",
        regulation="gdpr",
        status="completed",
        received_at=now - 32 * DAY,
        due_at=now - 2 * DAY,
        completed_at=now - DAY,
    )
    ErasureItem.objects.create(
        request=late, namespace=namespace, item_id="t1", outcome="deleted", decided_at=now - DAY
    )
    _nothing_mapped_completed("gdpr")
    _nothing_mapped_completed("gdpr")

    dashboard = dashboard_get()
    assert dashboard.on_time_rate == pytest.approx(2 / 3)  # every completion
    figures = case_figures(dashboard=dashboard)
    gdpr = figures.by_regulation[0]
    assert (gdpr.completed, gdpr.completed_empty, gdpr.counted) == (3, 2, 1)
    assert gdpr.on_time_rate == figures.total.on_time_rate == 0.0


def test_the_page_says_so_when_only_empty_requests_completed(client, django_user_model):
    _nothing_mapped_completed("gdpr")
    client.force_login(_viewer(django_user_model, "view_erasurerequest"))
    html = client.get("/admin/dashboard/").content.decode()
    assert _by_id(html, "on-time-rate") == "—"
    assert _by_id(html, "on-time-note") == (
        "No completed request erased anything in these weeks, so there is no rate: the 1 "
        "that completed had 0 items (nothing was mapped to the subject when the request ran)."
    )
    week = re.search(r'<tr data-week="[^"]+">((?:(?!</tr>).)*<td class="empty">1</td>)', html, re.S)
    assert week is not None  # the weekly table shows it in its week


def test_the_completeness_summary_names_unscanned_overdue_scans_and_pending_rechecks(
    client, emulator, role_user
):
    request = prepare(emulator, texts=2, vectors=1)
    assert request_execute(request_id=request.pk).finished  # re-checks due in 30 days
    notes = Namespace.objects.get(name="notes")
    with make_client() as api:
        scan_run(scan_start(namespace=notes), client=api)
    # Its own interval has passed since (a few milliseconds): the scan is overdue.
    Namespace.objects.filter(pk=notes.pk).update(scan_interval_hours=1e-6)

    client.force_login(role_user("ann", roles.AUDITOR))
    html = client.get("/admin/dashboard/").content.decode()
    summary = re.search(r'<ul id="completeness-summary">(.*?)</ul>', html, re.S)
    assert summary is not None
    items = {
        key: _text(text)
        for key, text in re.findall(
            r'<li data-figure="([\w-]+)">(.*?)</li>', summary.group(1), re.S
        )
    }
    assert items["never-scanned"].startswith("1 of 2 namespaces never scanned")  # vecs
    assert items["scan-overdue"] == "1 with a last scan older than the scan interval"
    assert items["rechecks"] == "2 re-checks pending: see the re-checks"
    assert f'href="{reverse("admin:erasure_recheck_changelist")}"' in summary.group(1)


def test_a_viewer_who_may_only_read_requests_gets_no_link_they_cannot_follow(
    client, emulator, django_user_model
):
    request = prepare(emulator, texts=1, vectors=1)
    assert request_execute(request_id=request.pk).finished
    _open("gdpr", received_ago=3 * DAY, due_in=-DAY)
    viewer = _viewer(django_user_model, "view_erasurerequest")
    client.force_login(viewer)
    html = client.get("/admin/dashboard/").content.decode()

    assert reverse("admin:erasure_namespace_changelist") not in html
    assert reverse("admin:erasure_recheck_changelist") not in html
    links = set(re.findall(r'<a [^>]*href="(/admin/[^"#]*)"', html))
    assert reverse("admin:erasure_erasurerequest_changelist") + "?status__exact=received" in links
    for link in sorted(links):
        assert client.get(unescape(link)).status_code == 200, link


@pytest.mark.parametrize("role", [roles.OFFICER, roles.APPROVER, roles.AUDITOR])
def test_every_link_on_the_dashboard_opens_for_every_role(client, emulator, role_user, role):
    request = prepare(emulator, texts=1, vectors=1)
    assert request_execute(request_id=request.pk).finished
    _open("ccpa", received_ago=10 * DAY, due_in=DAY)
    client.force_login(role_user("member", role))
    html = client.get("/admin/dashboard/").content.decode()
    links = set(re.findall(r'<a [^>]*href="(/admin/[^"#]*)"', html))
    assert reverse("admin:erasure_namespace_changelist") in links
    for link in sorted(links):
        assert client.get(unescape(link)).status_code == 200, link


def test_the_figures_cost_the_same_queries_whatever_the_number_of_requests(
    django_assert_num_queries,
):
    dashboard = dashboard_get()
    with django_assert_num_queries(CASE_FIGURES_QUERIES):
        case_figures(dashboard=dashboard)
    for regulation in ("gdpr", "ccpa", "lgpd", "other"):
        for _ in range(5):
            _open(regulation, received_ago=2 * DAY, due_in=DAY)
        _nothing_mapped_completed(regulation)
    dashboard = dashboard_get()
    with django_assert_num_queries(CASE_FIGURES_QUERIES):
        figures = case_figures(dashboard=dashboard)
    assert figures.total.open == 20 and figures.total.completed_empty == 4


def test_ages_read_in_their_largest_whole_unit():
    assert age_text(12 * DAY + timedelta(hours=23)) == "12 days"
    assert age_text(DAY) == "1 day"
    assert age_text(timedelta(hours=5, minutes=59)) == "5 hours"
    assert age_text(timedelta(minutes=1)) == "1 minute"
    assert age_text(timedelta(seconds=20)) == "less than a minute"
