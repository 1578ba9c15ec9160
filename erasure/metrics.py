"""`/metrics`: Prometheus text, read from the database at each scrape.

The service's state is in PostgreSQL, shared by every web and worker process, so the
metrics are computed there when Prometheus asks (a custom collector, a few aggregate
queries) instead of being counted in each process. Any gunicorn worker answers a scrape
with the same numbers, and a worker's restart loses nothing. Protected by `METRICS_TOKEN`
(`Authorization: Bearer ...`); without a token, served to loopback clients only.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector, CollectorRegistry

from erasure.lifecycle import OPEN_STATUSES, RequestStatus

# Upper bounds of the dispatch latency histogram, in seconds.
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


def _rows(sql: str, params: list | None = None) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        return cursor.fetchall()


class DatabaseCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        yield from self._requests()
        yield from self._items()
        yield from self._dispatches()
        yield from self._throttle()
        yield from self._jobs()
        yield from self._webhooks()
        yield from self._audit_log()
        yield from self._scans()

    def _requests(self) -> Iterator[Metric]:
        by_status = GaugeMetricFamily(
            "erasure_requests", "Erasure requests by status.", labels=["status"]
        )
        counts = dict(_rows("SELECT status, count(*) FROM erasure_erasurerequest GROUP BY 1"))
        for status in RequestStatus.values:
            by_status.add_metric([status], counts.get(status, 0))
        yield by_status
        overdue, stuck, oldest = _rows(
            """
            SELECT count(*) FILTER (WHERE due_at < now()),
                   count(*) FILTER (WHERE stuck_since IS NOT NULL),
                   coalesce(extract(epoch FROM now() - min(received_at)), 0)
            FROM erasure_erasurerequest WHERE status = ANY(%s)
            """,
            [list(OPEN_STATUSES)],
        )[0]
        yield GaugeMetricFamily(
            "erasure_requests_overdue", "Open requests past their deadline.", value=overdue
        )
        yield GaugeMetricFamily(
            "erasure_requests_stuck", "Open requests flagged for an operator.", value=stuck
        )
        yield GaugeMetricFamily(
            "erasure_oldest_open_request_age_seconds",
            "Age of the oldest open request (0: none open).",
            value=float(oldest),
        )

    def _items(self) -> Iterator[Metric]:
        items = GaugeMetricFamily("erasure_items", "Erasure items by outcome.", labels=["outcome"])
        for outcome, count in _rows("SELECT outcome, count(*) FROM erasure_erasureitem GROUP BY 1"):
            items.add_metric([outcome], count)
        yield items

    def _dispatches(self) -> Iterator[Metric]:
        total = CounterMetricFamily(
            "erasure_dispatches",
            "Calls to the namespace API, by endpoint and HTTP status (none: no answer).",
            labels=["api", "endpoint", "status"],
        )
        latency = HistogramMetricFamily(
            "erasure_dispatch_latency_seconds",
            "Latency of the calls to the namespace API.",
            labels=["api", "endpoint"],
        )
        bounds = [int(b * 1000) for b in LATENCY_BUCKETS]
        # Counts and latency sums per API, endpoint and status; then the buckets per API and
        # endpoint. The API is the namespace's (a handful of rows joined by id).
        by_endpoint: dict[tuple[str, str], tuple[float, int]] = {}
        for api, endpoint, status, count, latency_sum in _rows(
            """
            SELECT n.api, d.endpoint, coalesce(d.http_status::text, 'none'), count(*),
                   sum(d.latency_ms)
            FROM erasure_dispatch d JOIN erasure_namespace n ON n.id = d.namespace_id
            GROUP BY 1, 2, 3
            """
        ):
            total.add_metric([api, endpoint, status], count)
            seconds, n = by_endpoint.get((api, endpoint), (0.0, 0))
            by_endpoint[api, endpoint] = (seconds + float(latency_sum or 0) / 1000, n + count)
        bucket_sql = ", ".join(
            f"count(*) FILTER (WHERE d.latency_ms <= {bound})" for bound in bounds
        )
        for api, endpoint, *counts in _rows(
            f"SELECT n.api, d.endpoint, {bucket_sql} FROM erasure_dispatch d "  # noqa: S608 (integers of this module)
            "JOIN erasure_namespace n ON n.id = d.namespace_id GROUP BY 1, 2"
        ):
            seconds, n = by_endpoint[api, endpoint]
            buckets = [(str(b), float(c)) for b, c in zip(LATENCY_BUCKETS, counts, strict=True)]
            latency.add_metric([api, endpoint], buckets + [("+Inf", float(n))], sum_value=seconds)
        yield total
        yield latency

    def _throttle(self) -> Iterator[Metric]:
        paused = GaugeMetricFamily(
            "erasure_namespace_api_pause_seconds",
            "Seconds left of the pause a 429 asked for (0: not paused).",
            labels=["api"],
        )
        refused = GaugeMetricFamily(
            "erasure_namespace_api_refused",
            "1 while nothing is sent to the API: it refused the service's key (401/403), or "
            "the key cannot be read.",
            labels=["api"],
        )
        for name, left, is_refused in _rows(
            """
            SELECT name, greatest(coalesce(extract(epoch FROM not_before - now()), 0), 0),
                   coalesce(refused_until > now(), false)
            FROM erasure_apithrottle
            """
        ):
            paused.add_metric([name], float(left))
            refused.add_metric([name], 1.0 if is_refused else 0.0)
        yield paused
        yield refused

    def _jobs(self) -> Iterator[Metric]:
        queued = GaugeMetricFamily(
            "erasure_jobs_queued", "Jobs waiting in the queue, by task.", labels=["task"]
        )
        oldest = 0.0
        for task, count, age in _rows(
            """
            SELECT task_name, count(*),
                   coalesce(extract(epoch FROM now() - min(coalesce(scheduled_at, now()))), 0)
            FROM procrastinate_jobs
            WHERE status = 'todo' AND (scheduled_at IS NULL OR scheduled_at <= now())
            GROUP BY 1
            """
        ):
            queued.add_metric([task], count)
            oldest = max(oldest, float(age))
        yield queued
        yield GaugeMetricFamily(
            "erasure_oldest_queued_job_age_seconds",
            "How long the oldest job due has waited for a worker (0: none).",
            value=oldest,
        )

    def _webhooks(self) -> Iterator[Metric]:
        deliveries = CounterMetricFamily(
            "erasure_webhook_deliveries",
            "Webhook deliveries by source and outcome.",
            labels=["source", "outcome"],
        )
        for slug, outcome, count in _rows(
            """
            SELECT s.slug, d.outcome, count(*) FROM webhooks_webhookdelivery d
            JOIN webhooks_webhooksource s ON s.id = d.source_id GROUP BY 1, 2
            """
        ):
            deliveries.add_metric([slug, outcome], count)
        yield deliveries

    def _audit_log(self) -> Iterator[Metric]:
        pending, oldest = _rows(
            """
            SELECT count(*), coalesce(extract(epoch FROM now() - min(occurred_at)), 0)
            FROM erasure_auditevent WHERE leaf_index IS NULL
            """
        )[0]
        yield GaugeMetricFamily(
            "erasure_audit_events_unsequenced",
            "Audit events not yet in the transparency log.",
            value=pending,
        )
        yield GaugeMetricFamily(
            "erasure_audit_sequencer_lag_seconds",
            "Age of the oldest audit event not yet in the log (0: none).",
            value=float(oldest),
        )

    def _scans(self) -> Iterator[Metric]:
        last = GaugeMetricFamily(
            "erasure_namespace_last_scan_age_seconds",
            "Age of each namespace's last complete scan (absent: never scanned).",
            labels=["namespace"],
        )
        unmapped = GaugeMetricFamily(
            "erasure_namespace_unmapped_items",
            "Items present with no mapping, at the last complete scan.",
            labels=["namespace"],
        )
        for name, age, count in _rows(
            """
            SELECT n.name, extract(epoch FROM now() - s.finished_at), s.unmapped
            FROM erasure_namespace n
            JOIN LATERAL (
                SELECT finished_at, unmapped FROM erasure_namespacescan
                WHERE namespace_id = n.id AND state = 'completed'
                ORDER BY finished_at DESC LIMIT 1
            ) s ON true
            """
        ):
            last.add_metric([name], float(age))
            unmapped.add_metric([name], count)
        running = GaugeMetricFamily(
            "erasure_scans_running",
            "Namespace scans under way.",
            value=_rows("SELECT count(*) FROM erasure_namespacescan WHERE state = 'running'")[0][0],
        )
        yield last
        yield unmapped
        yield running


_REGISTRY = CollectorRegistry(auto_describe=False)
_REGISTRY.register(DatabaseCollector())


def _allowed(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    if token:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        return hmac.compare_digest(given.encode(), token.encode())
    return request.META.get("REMOTE_ADDR") in ("127.0.0.1", "::1")


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    if not _allowed(request):
        return HttpResponse(
            "metrics need METRICS_TOKEN (Authorization: Bearer ...), or a loopback client\n",
            status=403,
            content_type="text/plain",
        )
    return HttpResponse(generate_latest(_REGISTRY), content_type=CONTENT_TYPE_LATEST)
