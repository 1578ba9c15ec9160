"""/metrics: Prometheus text read from the database, after a real erasure."""

from __future__ import annotations

from collections import Counter

import pytest
from prometheus_client.parser import text_string_to_metric_families

from erasure.models import ErasureItem
from erasure.services.execution import request_execute
from tests.services.execution.helpers import prepare

pytestmark = pytest.mark.django_db


def samples(text: str) -> dict[tuple[str, tuple], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_metrics_show_a_completed_erasure(client, emulator):
    request = prepare(emulator, texts=4, vectors=3, absent=1, text_mode="exact")
    assert request_execute(request_id=request.pk).finished

    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    got = samples(response.content.decode())
    assert got[("erasure_requests", (("status", "completed"),))] == 1
    assert got[("erasure_requests", (("status", "running"),))] == 0
    truth = Counter(ErasureItem.objects.values_list("outcome", flat=True))
    assert truth["deleted"] == 4 and truth["not_found"] == 1  # the texts, one absent
    for outcome, count in truth.items():
        assert got[("erasure_items", (("outcome", outcome),))] == count
    deletes = [
        value
        for (name, labels), value in got.items()
        if name == "erasure_dispatches_total" and ("endpoint", "documents/delete") in labels
    ]
    assert sum(deletes) >= 1
    counts = [
        value
        for (name, labels), value in got.items()
        if name == "erasure_dispatch_latency_seconds_count"
    ]
    buckets_inf = [
        value
        for (name, labels), value in got.items()
        if name == "erasure_dispatch_latency_seconds_bucket" and ("le", "+Inf") in labels
    ]
    assert sum(counts) == sum(buckets_inf) >= 3
    assert got[("erasure_requests_overdue", ())] == 0
    assert ("erasure_audit_events_unsequenced", ()) in got
    assert ("erasure_oldest_queued_job_age_seconds", ()) in got


def test_metrics_need_the_token_or_a_loopback_client(client, settings, db):
    assert client.get("/metrics", REMOTE_ADDR="10.0.0.5").status_code == 403
    settings.METRICS_TOKEN = "s3cret-token"
    assert client.get("/metrics").status_code == 403  # loopback is not enough with a token
    wrong = client.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 403 and b"s3cret" not in wrong.content
    right = client.get(
        "/metrics", headers={"Authorization": "Bearer s3cret-token"}, REMOTE_ADDR="10.0.0.5"
    )
    assert right.status_code == 200
