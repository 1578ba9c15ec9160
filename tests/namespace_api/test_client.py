"""The namespace API client against the emulator over real HTTP, both flavours.

Each test names the rule of namespace-api.md it checks (sections 4, 5.3 and 6). Sleeps of
the retry policy are recorded instead of slept (the client takes a `sleep` function), so
the backoff decisions are visible and the tests stay fast.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest

from namespace_api.client import (
    NamespaceApiClient,
    Outcome,
    RetryPolicy,
    normalize_ids,
    parse_retry_after,
)
from namespace_api.emulator import EmulatorServer

KEY = "client-test-key"


class Harness:
    """An emulator plus clients of it; control goes through the emulator's HTTP endpoint."""

    def __init__(self, server: EmulatorServer, flavor: str) -> None:
        self.server = server
        self.flavor = flavor
        self.control = httpx.Client(base_url=server.base_url, timeout=10)
        self.sleeps: list[float] = []
        self._clients: list[NamespaceApiClient] = []

    def client(self, *, api_key: str = KEY, timeout: float = 5.0, retries: int = 3):
        client = NamespaceApiClient(
            base_url=self.server.url,
            api_key=api_key,
            flavor=self.flavor,
            timeout=timeout,
            retry=RetryPolicy(max_retries=retries, jitter=lambda: 0.0),
            sleep=self.sleeps.append,
        )
        self._clients.append(client)
        return client

    def post(self, path: str, payload: Any) -> Any:
        response = self.control.post(f"/_emulator/{path}", json=payload)
        response.raise_for_status()
        return response.json()

    def seed(self, name: str, kind: str, ids: list[str], dimension: int = 3) -> None:
        item = (
            (lambda i: {"id": i, "text": f"text of {i}"})
            if kind == "text"
            else (lambda i: {"id": i, "vector": [0.5] * dimension})
        )
        namespace = {"name": name, "type": kind, "items": [item(i) for i in ids]}
        if kind == "vector":
            namespace["vector_dimension"] = dimension
        self.post("seed", {"api_key": KEY, "namespaces": [namespace]})

    def fault(self, fault: str, count: int = 1, namespace: str = "*", **extra: Any) -> None:
        self.post("faults/next", {"namespace": namespace, "fault": fault, "count": count, **extra})

    def ids(self, namespace: str) -> set[str]:
        state = self.control.get("/_emulator/state").json()
        return set(state["namespaces"].get(namespace, {}).get("ids", []))

    def calls(self) -> list[dict[str, Any]]:
        return self.control.get("/_emulator/calls").json()["calls"]

    def close(self) -> None:
        for client in self._clients:
            client.close()
        self.control.close()


@pytest.fixture(scope="module")
def cloud_server() -> Iterator[EmulatorServer]:
    with EmulatorServer(api_keys=[KEY], seed=7) as server:
        yield server


@pytest.fixture(scope="module")
def onprem_server() -> Iterator[EmulatorServer]:
    with EmulatorServer(flavor="onprem", seed=7) as server:
        yield server


def _harness(server: EmulatorServer, flavor: str) -> Iterator[Harness]:
    harness = Harness(server, flavor)
    harness.post("reset", {})
    yield harness
    harness.close()


@pytest.fixture
def cloud(cloud_server) -> Iterator[Harness]:
    yield from _harness(cloud_server, "cloud")


@pytest.fixture
def onprem(onprem_server) -> Iterator[Harness]:
    yield from _harness(onprem_server, "onprem")


def _outcomes(result) -> dict[str, str]:
    return {item_id: str(r.outcome) for item_id, r in result.results.items()}


# -- normalisation and policy (section 5.0, issue 3 "normalises IDs") --------------------


def test_ids_become_strings_and_duplicates_after_conversion_collapse():
    assert normalize_ids([1, "1", "a", "a", 2.5, 3.0, "3", "ü-ß-✓"]) == [
        "1",
        "a",
        "2.5",
        "3",
        "ü-ß-✓",
    ]


@pytest.mark.parametrize(
    "bad", [[""], [None], [True], [["nested"]], [{"id": 1}], [float("nan")], [float("inf")]]
)
def test_empty_and_non_scalar_ids_are_refused_before_sending(bad):
    with pytest.raises(ValueError, match="invalid item IDs"):
        normalize_ids(bad)


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


# -- exact mode, text namespaces (section 5.1) --------------------------------------------


def test_exact_mixed_present_and_absent_ids_are_each_reported_correctly(cloud):
    cloud.seed("notes", "text", ["a", "b", "c"])
    result = cloud.client().erase(
        namespace="notes", kind="text", ids=["a", "b", "x", "y"], mode="exact"
    )
    assert _outcomes(result) == {"a": "deleted", "b": "deleted", "x": "not_found", "y": "not_found"}
    assert cloud.ids("notes") == {"c"}
    # Only the present IDs were sent to documents/delete.
    deletes = [c for c in cloud.calls() if c["path"].endswith("documents/delete")]
    assert [c["ids_count"] for c in deletes] == [2]
    assert [c.endpoint for c in result.calls] == ["documents/get", "documents/delete"]


def test_exact_splits_gets_by_100_and_deletes_by_1000(cloud):
    ids = [f"doc-{n}" for n in range(1001)]
    cloud.seed("notes", "text", ids)
    result = cloud.client().erase(namespace="notes", kind="text", ids=ids, mode="exact")
    assert set(_outcomes(result).values()) == {"deleted"}
    endpoints = [(c.endpoint, c.ids_sent) for c in result.calls]
    assert endpoints.count(("documents/get", 100)) == 10
    assert ("documents/get", 1) in endpoints
    assert [n for e, n in endpoints if e == "documents/delete"] == [1000, 1]
    assert cloud.ids("notes") == set()


def test_exact_207_unprocessed_ids_fail_retryably_and_stay_stored(cloud):
    cloud.seed("notes", "text", [f"d{n}" for n in range(10)])
    cloud.fault("partial")
    result = cloud.client().erase(
        namespace="notes", kind="text", ids=[f"d{n}" for n in range(10)], mode="exact"
    )
    failed = {i for i, r in result.results.items() if r.outcome == Outcome.FAILED}
    assert failed and failed == cloud.ids("notes")
    assert all(result.results[i].retryable and result.results[i].http_status == 207 for i in failed)
    deleted = {i for i, r in result.results.items() if r.outcome == Outcome.DELETED}
    assert deleted | failed == {f"d{n}" for n in range(10)}


def test_exact_commit_then_500_is_verified_as_deleted_not_not_found(cloud):
    cloud.seed("notes", "text", ["a", "b"])
    cloud.fault("delete_then_error")
    result = cloud.client().erase(namespace="notes", kind="text", ids=["a", "b"], mode="exact")
    # The resend after the 500 finds nothing to delete (actual_deletions 0): a client that
    # trusted those counts would say not_found. The post-check proves they are gone, and the
    # pre-check proved they were there.
    assert _outcomes(result) == {"a": "deleted", "b": "deleted"}
    statuses = [(c.endpoint, c.http_status) for c in result.calls]
    assert ("documents/delete", 500) in statuses
    assert statuses[-1][0] == "documents/get"


def test_exact_server_errors_until_the_budget_runs_out_fail_retryably(cloud):
    cloud.seed("notes", "text", ["a"])
    cloud.fault("server_error", count=10, endpoint="delete")
    result = cloud.client(retries=2).erase(namespace="notes", kind="text", ids=["a"], mode="exact")
    assert result.results["a"].outcome == Outcome.FAILED
    assert result.results["a"].retryable
    assert "still present" in result.results["a"].error
    assert cloud.ids("notes") == {"a"}
    assert len(cloud.sleeps) == 2


def test_prior_ambiguous_ids_found_absent_are_deleted_or_not_found(cloud):
    cloud.seed("notes", "text", ["a"])
    result = cloud.client().erase(
        namespace="notes", kind="text", ids=["a", "gone"], mode="exact", prior_ambiguous=["gone"]
    )
    assert _outcomes(result) == {"a": "deleted", "gone": "deleted_or_not_found"}


def test_exact_reports_the_pre_check_before_deleting_and_trusts_it_on_a_rerun(cloud):
    cloud.seed("notes", "text", ["a", "b"])
    seen: list[tuple[set[str], set[str]]] = []
    client = cloud.client()
    client.erase(
        namespace="notes",
        kind="text",
        ids=["a", "b", "c"],
        mode="exact",
        on_present=lambda present: seen.append((present, cloud.ids("notes"))),
    )
    # The callback ran with the present IDs while they were still stored.
    assert seen == [({"a", "b"}, {"a", "b"})]
    # A rerun after a crash: "a" was seen present by this erasure and is gone now.
    result = client.erase(
        namespace="notes", kind="text", ids=["a", "c"], mode="exact", known_present=["a"]
    )
    assert _outcomes(result) == {"a": "deleted", "c": "not_found"}


# -- fast and single modes, vector namespaces (section 5.2) -------------------------------


def test_fast_all_present_is_deleted_by_counts_in_one_call(cloud):
    cloud.seed("vecs", "vector", ["v1", "v2", "v3"])
    result = cloud.client().erase(
        namespace="vecs", kind="vector", ids=["v1", "v2", "v3"], mode="fast"
    )
    assert set(_outcomes(result).values()) == {"deleted"}
    assert [(c.endpoint, c.ids_sent, c.actual) for c in result.calls] == [("vectors/delete", 3, 3)]


def test_fast_none_present_is_not_found(cloud):
    cloud.seed("vecs", "vector", ["other"])
    result = cloud.client().erase(namespace="vecs", kind="vector", ids=["v1", "v2"], mode="fast")
    assert set(_outcomes(result).values()) == {"not_found"}


def test_fast_mixed_batch_claims_no_per_id_certainty(cloud):
    cloud.seed("vecs", "vector", ["v1", "v2"])
    result = cloud.client().erase(
        namespace="vecs", kind="vector", ids=["v1", "v2", "v3"], mode="fast"
    )
    assert set(_outcomes(result).values()) == {"deleted_or_not_found"}
    assert cloud.ids("vecs") == set()


def test_fast_duplicates_and_number_collisions_are_sent_once(cloud):
    cloud.seed("vecs", "vector", ["1", "2"])
    result = cloud.client().erase(
        namespace="vecs", kind="vector", ids=[1, "1", 2, "2"], mode="fast"
    )
    assert _outcomes(result) == {"1": "deleted", "2": "deleted"}
    assert result.calls[0].ids_sent == 2


def test_fast_1000_ids_is_one_call_and_1001_is_two(cloud):
    ids = [f"v{n}" for n in range(1001)]
    cloud.seed("vecs", "vector", ids)
    result = cloud.client().erase(namespace="vecs", kind="vector", ids=ids[:1000], mode="fast")
    assert [c.ids_sent for c in result.calls] == [1000]
    result = cloud.client().erase(namespace="vecs", kind="vector", ids=ids, mode="fast")
    assert [c.ids_sent for c in result.calls] == [1000, 1]
    assert _outcomes(result)["v1000"] == "deleted"


def test_fast_207_lists_unprocessed_ids_and_attributes_the_rest_by_counts(cloud):
    cloud.seed("vecs", "vector", [f"v{n}" for n in range(6)])
    cloud.fault("partial")
    result = cloud.client().erase(
        namespace="vecs", kind="vector", ids=[f"v{n}" for n in range(6)], mode="fast"
    )
    failed = {i for i, r in result.results.items() if r.outcome == Outcome.FAILED}
    assert failed == cloud.ids("vecs") and failed
    rest = {str(r.outcome) for i, r in result.results.items() if i not in failed}
    assert rest == {"deleted"}


def test_fast_commit_then_500_never_reports_not_found(cloud):
    cloud.seed("vecs", "vector", ["v1", "v2"])
    cloud.fault("delete_then_error")
    result = cloud.client().erase(namespace="vecs", kind="vector", ids=["v1", "v2"], mode="fast")
    # The resend answers actual_deletions 0; the first try may have deleted them.
    assert set(_outcomes(result).values()) == {"deleted_or_not_found"}


def test_failures_after_an_ambiguous_try_are_marked_maybe_applied(cloud):
    cloud.seed("vecs", "vector", ["v1", "v2", "v3"])
    # The first try deletes everything and answers 500; the resend is answered 207 listing
    # IDs that the first try had in fact deleted.
    cloud.fault("delete_then_error", namespace="vecs")
    cloud.fault("partial", namespace="vecs")
    result = cloud.client().erase(
        namespace="vecs", kind="vector", ids=["v1", "v2", "v3"], mode="fast"
    )
    failed = [r for r in result.results.values() if r.outcome == Outcome.FAILED]
    assert failed and all(r.maybe_applied and r.retryable for r in failed)
    assert cloud.ids("vecs") == set()
    # A later try of those IDs reports them deleted_or_not_found, never not_found.
    again = cloud.client().erase(
        namespace="vecs",
        kind="vector",
        ids=[i for i, r in result.results.items() if r.outcome == Outcome.FAILED],
        mode="fast",
        prior_ambiguous=[i for i, r in result.results.items() if r.maybe_applied],
    )
    assert {str(r.outcome) for r in again.results.values()} == {"deleted_or_not_found"}


def test_single_mode_attributes_each_vector_exactly(cloud):
    cloud.seed("vecs", "vector", ["v1", "v3"])
    result = cloud.client().erase(
        namespace="vecs", kind="vector", ids=["v1", "v2", "v3"], mode="single"
    )
    assert _outcomes(result) == {"v1": "deleted", "v2": "not_found", "v3": "deleted"}
    assert [c.ids_sent for c in result.calls] == [1, 1, 1]


# -- whole-dispatch errors (section 6) ----------------------------------------------------


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


def test_unicode_ids_round_trip(cloud):
    ids = ["naïve-doc", "文档-1", "emoji-🙂", "space in id"]
    cloud.seed("notes", "text", ids)
    result = cloud.client().erase(namespace="notes", kind="text", ids=ids, mode="exact")
    assert set(_outcomes(result).values()) == {"deleted"}


def test_an_empty_batch_sends_nothing(cloud):
    for mode in ("exact", "fast", "single"):
        result = cloud.client().erase(namespace="notes", kind="text", ids=[], mode=mode)
        assert (result.calls, result.results) == ([], {})
    assert cloud.calls() == []


def test_list_namespaces_reads_kind_and_count(cloud):
    cloud.seed("notes", "text", ["a", "b"])
    cloud.seed("vecs", "vector", ["v"], dimension=3)
    listed = {n.name: n for n in cloud.client().list_namespaces()}
    assert (listed["notes"].kind, listed["notes"].item_count) == ("text", 2)
    assert (listed["vecs"].kind, listed["vecs"].vector_dimension) == ("vector", 3)


# -- on-prem flavour (section 3.1): not_found_ids makes attribution exact ---------------


def test_onprem_delete_lists_not_found_ids_so_vectors_are_exact(onprem):
    onprem.seed("vecs", "vector", ["v1", "v2"])
    result = onprem.client().erase(
        namespace="vecs", kind="vector", ids=["v1", "v2", "v3"], mode="fast"
    )
    assert _outcomes(result) == {"v1": "deleted", "v2": "deleted", "v3": "not_found"}
    assert [c.endpoint for c in result.calls] == ["items/delete"]


def test_onprem_splits_by_100(onprem):
    ids = [f"d{n}" for n in range(101)]
    onprem.seed("notes", "text", ids)
    result = onprem.client().erase(namespace="notes", kind="text", ids=ids, mode="exact")
    assert [c.ids_sent for c in result.calls] == [100, 1]
    assert set(_outcomes(result).values()) == {"deleted"}
    assert onprem.ids("notes") == set()


def test_onprem_unknown_namespace_fails(onprem):
    result = onprem.client().erase(namespace="nope", kind="text", ids=["a"], mode="exact")
    assert result.results["a"].outcome == Outcome.FAILED
    assert result.results["a"].error.startswith("namespace_not_found")


# -- every documented answer shape (section 6), transport failures, 403 ------------------


def test_sdk_shaped_207_with_deleted_ids_and_errors_is_read(cloud):
    cloud.seed("vecs", "vector", [f"v{n}" for n in range(6)])
    cloud.post("config", {"partial_shape": "sdk"})
    cloud.fault("partial")
    result = cloud.client().erase(
        namespace="vecs", kind="vector", ids=[f"v{n}" for n in range(6)], mode="fast"
    )
    failed = {i for i, r in result.results.items() if r.outcome == Outcome.FAILED}
    assert failed and failed == cloud.ids("vecs")
    assert {str(r.outcome) for i, r in result.results.items() if i not in failed} == {"deleted"}


@pytest.mark.parametrize(
    "switches",
    [{"get_items_key": "documents"}, {"get_missing": "200"}, {"get_missing": "207"}],
)
def test_exact_reads_every_documented_get_shape(cloud, switches):
    cloud.seed("notes", "text", ["a", "b"])
    cloud.post("config", switches)
    result = cloud.client().erase(
        namespace="notes", kind="text", ids=["a", "b", "zz"], mode="exact"
    )
    assert _outcomes(result) == {"a": "deleted", "b": "deleted", "zz": "not_found"}


def test_list_reads_snake_case_counts(cloud):
    cloud.seed("notes", "text", ["a"])
    cloud.post("config", {"list_casing": "snake"})
    listed = {n.name: n for n in cloud.client().list_namespaces()}
    assert listed["notes"].item_count == 1


def test_a_timeout_in_exact_mode_is_settled_by_the_post_check(cloud):
    cloud.seed("notes", "text", ["a", "b"])
    # The delete is applied but answered after the client gave up, every time.
    cloud.fault("slow", count=4, slow_seconds=1.0)
    result = cloud.client(timeout=0.3).erase(
        namespace="notes", kind="text", ids=["a", "b"], mode="exact"
    )
    assert _outcomes(result) == {"a": "deleted", "b": "deleted"}
    assert any(c.http_status is None and "timeout" in c.error for c in result.calls)
    assert result.calls[-1].endpoint == "documents/get"


@pytest.mark.parametrize("fault", ["drop", "delete_then_drop"])
def test_a_dropped_connection_in_fast_mode_never_claims_not_found(cloud, fault):
    cloud.seed("vecs", "vector", ["v1", "v2"])
    cloud.fault(fault)
    result = cloud.client().erase(namespace="vecs", kind="vector", ids=["v1", "v2"], mode="fast")
    expected = "deleted" if fault == "drop" else "deleted_or_not_found"
    # drop: nothing applied, the resend deletes both (counts prove it); delete_then_drop:
    # applied unseen, the resend finds nothing, and nothing more can be said.
    assert set(_outcomes(result).values()) == {expected}
    assert cloud.ids("vecs") == set()


def test_no_answer_after_every_try_fails_retryably_and_maybe_applied(cloud):
    cloud.seed("vecs", "vector", ["v1"])
    cloud.fault("drop", count=10)
    result = cloud.client(retries=2).erase(namespace="vecs", kind="vector", ids=["v1"], mode="fast")
    r = result.results["v1"]
    assert (r.outcome, r.retryable, r.maybe_applied, r.http_status) == (
        Outcome.FAILED,
        True,
        True,
        None,
    )


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


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            b'{"status":"failure","message":"Bad Request: ids array is required"}',
            "Bad Request: ids array is required",
        ),
        (b'{"error":"Namespace not found"}', "Namespace not found"),
        (b'{"message":"Unauthorized: Missing API key"}', "Unauthorized: Missing API key"),
        (
            b'"Internal Server Error fetching namespaces."',
            "Internal Server Error fetching namespaces.",
        ),
        (b"<html>gateway timeout</html>", "<html>gateway timeout</html>"),
    ],
)
def test_every_documented_error_body_yields_its_message(body, expected):
    # The error shapes differ between pages of the docs (section 1); a transport that
    # answers each shape verbatim is enough to check the reading.
    transport = httpx.MockTransport(lambda request: httpx.Response(400, content=body))
    with NamespaceApiClient(
        base_url="http://api.test/v1", api_key="k", transport=transport, sleep=lambda s: None
    ) as client:
        result = client.erase(namespace="ns", kind="vector", ids=["a"], mode="fast")
    assert result.results["a"].error == expected
    assert result.results["a"].http_status == 400
    assert not result.results["a"].retryable
