"""The client over real HTTP: errors that decide a whole dispatch (section 6), and what
goes on the wire (keys, IDs, nothing for an empty batch)."""

from __future__ import annotations

import pytest

from namespace_api.client import Outcome
from tests.namespace_api.client.helpers import Harness, outcomes

# -- whole-dispatch errors (section 6) ---------------------------------------------------


def test_429_after_the_budget_leaves_items_failed_and_retryable(cloud):
    cloud.seed("vecs", "vector", ["v1"])
    cloud.fault("rate_limit", count=10, retry_after=1)
    result = cloud.client(retries=2).erase(namespace="vecs", kind="vector", ids=["v1"], mode="fast")
    assert result.results["v1"].outcome == Outcome.FAILED
    assert result.results["v1"].retryable
    assert result.results["v1"].http_status == 429
    assert cloud.ids("vecs") == {"v1"}


def test_wrong_api_key_stops_the_batch_after_one_call(cloud):
    cloud.seed("notes", "text", ["a"])
    result = cloud.client(api_key="wrong").erase(
        namespace="notes", kind="text", ids=[f"x{n}" for n in range(2500)], mode="fast"
    )
    assert "authentication failed (HTTP 401)" in result.stop_reason
    assert result.results == {}  # nothing attempted, nothing claimed as failed
    assert len(cloud.calls()) == 1


@pytest.mark.parametrize("setup", ["forbidden", "disabled"])
def test_403_and_a_disabled_key_stop_all_work(cloud_server, setup):
    harness = Harness(cloud_server, "cloud")
    harness.post("reset", {})
    harness.seed("vecs", "vector", ["v1"])
    try:
        if setup == "forbidden":
            harness.fault("forbidden")
            client = harness.client()
        else:
            harness.post("config", {"disabled_api_keys": ["disabled-key"]})
            client = harness.client(api_key="disabled-key")
        result = client.erase(namespace="vecs", kind="vector", ids=["v1"], mode="fast")
    finally:
        harness.close()
    assert result.stop_reason.startswith("authentication failed (HTTP 40")
    assert result.results == {}


def test_unknown_namespace_fails_every_id_without_retry(cloud):
    result = cloud.client().erase(namespace="missing", kind="vector", ids=["a", "b"], mode="fast")
    assert {r.outcome for r in result.results.values()} == {Outcome.FAILED}
    assert all(r.error.startswith("namespace_not_found") for r in result.results.values())
    assert not any(r.retryable for r in result.results.values())
    assert cloud.sleeps == []


@pytest.mark.parametrize("mode", ["404", "400"])
def test_wrong_kind_namespace_is_a_non_retryable_failure(cloud, mode):
    cloud.seed("vecs", "vector", ["v1"])
    cloud.post("config", {"wrong_kind_mode": mode})
    try:
        result = cloud.client().erase(namespace="vecs", kind="text", ids=["v1"], mode="fast")
    finally:
        cloud.post("config", {"wrong_kind_mode": "404"})
    assert result.results["v1"].outcome == Outcome.FAILED
    assert not result.results["v1"].retryable
    assert result.results["v1"].http_status == int(mode)
    assert cloud.ids("vecs") == {"v1"}


# -- what goes on the wire ---------------------------------------------------------------


def test_unicode_ids_round_trip(cloud):
    ids = ["naïve-doc", "文档-1", "emoji-🙂", "space in id"]
    cloud.seed("notes", "text", ids)
    result = cloud.client().erase(namespace="notes", kind="text", ids=ids, mode="exact")
    assert set(outcomes(result).values()) == {"deleted"}


def test_an_empty_batch_sends_nothing(cloud):
    for mode in ("exact", "fast", "single"):
        result = cloud.client().erase(namespace="notes", kind="text", ids=[], mode=mode)
        assert (result.calls, result.results) == ([], {})
    assert cloud.calls() == []
