"""The one retry policy (section 6): the server's `Retry-After` first, else capped
exponential backoff. The policy alone, then as the client applies it to a 429 from the
emulator over real HTTP (sleeps are recorded, not slept)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from namespace_api.client import Outcome, RetryPolicy, parse_retry_after

# -- the policy --------------------------------------------------------------------------


def test_retry_after_reads_seconds_fractions_and_http_dates():
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("0.25") == 0.25
    assert parse_retry_after(format_datetime(now + timedelta(seconds=7), usegmt=True), now=now) == 7
    assert parse_retry_after(format_datetime(now - timedelta(seconds=7), usegmt=True), now=now) == 0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_backoff_is_exponential_capped_and_honours_retry_after_up_to_a_cap():
    policy = RetryPolicy(base_delay=1, max_delay=8, retry_after_cap=60, jitter=lambda: 1.0)
    assert [policy.delay(n) for n in range(5)] == [1, 2, 4, 8, 8]
    assert policy.delay(0, retry_after=5) == 5
    assert policy.delay(0, retry_after=3600) == 60
    half = RetryPolicy(base_delay=1, jitter=lambda: 0.0)
    assert half.delay(2) == 2  # jitter spreads the delay over [50%, 100%]


# -- a 429 from the API (section 6) ------------------------------------------------------


def test_429_with_retry_after_is_honoured_then_resent(cloud):
    cloud.seed("vecs", "vector", ["v1"])
    cloud.fault("rate_limit", retry_after=2)
    result = cloud.client().erase(namespace="vecs", kind="vector", ids=["v1"], mode="fast")
    assert cloud.sleeps == [2.0]
    assert [c.http_status for c in result.calls] == [429, 200]
    assert result.results["v1"].outcome == Outcome.DELETED


def test_429_without_retry_after_uses_the_backoff(cloud):
    cloud.seed("vecs", "vector", ["v1"])
    cloud.fault("rate_limit", retry_after=None)
    cloud.client().erase(namespace="vecs", kind="vector", ids=["v1"], mode="fast")
    assert cloud.sleeps == [0.25]  # base 0.5 s, jitter fixed at its floor (50%)


def test_429_with_an_http_date_is_honoured(cloud):
    cloud.seed("vecs", "vector", ["v1"])
    when = datetime.now(UTC) + timedelta(seconds=30)
    cloud.fault("rate_limit", retry_after=format_datetime(when, usegmt=True))
    cloud.client().erase(namespace="vecs", kind="vector", ids=["v1"], mode="fast")
    assert 25 < cloud.sleeps[0] <= 30
