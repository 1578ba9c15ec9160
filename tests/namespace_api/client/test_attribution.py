"""How the outcome of each ID is decided, against the emulator over real HTTP, both flavours.

Each test names the rule of namespace-api.md it checks (sections 5.1, 5.2, 5.3 and 6).
"""

from __future__ import annotations

import pytest

from namespace_api.client import Outcome
from tests.namespace_api.client.helpers import outcomes

# -- exact mode, text namespaces (section 5.1) -------------------------------------------


def test_exact_mixed_present_and_absent_ids_are_each_reported_correctly(cloud):
    cloud.seed("notes", "text", ["a", "b", "c"])
    result = cloud.client().erase(
        namespace="notes", kind="text", ids=["a", "b", "x", "y"], mode="exact"
    )
    assert outcomes(result) == {"a": "deleted", "b": "deleted", "x": "not_found", "y": "not_found"}
    assert cloud.ids("notes") == {"c"}
    # Only the present IDs were sent to documents/delete.
    deletes = [c for c in cloud.calls() if c["path"].endswith("documents/delete")]
    assert [c["ids_count"] for c in deletes] == [2]
    assert [c.endpoint for c in result.calls] == ["documents/get", "documents/delete"]


def test_exact_splits_gets_by_100_and_deletes_by_1000(cloud):
    ids = [f"doc-{n}" for n in range(1001)]
    cloud.seed("notes", "text", ids)
    result = cloud.client().erase(namespace="notes", kind="text", ids=ids, mode="exact")
    assert set(outcomes(result).values()) == {"deleted"}
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
    assert outcomes(result) == {"a": "deleted", "b": "deleted"}
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
    assert outcomes(result) == {"a": "deleted", "gone": "deleted_or_not_found"}


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
    assert outcomes(result) == {"a": "deleted", "c": "not_found"}


# -- adaptive mode, text namespaces: delete first ----------------------------------------


def test_adaptive_all_present_is_deleted_with_one_call_per_1000(cloud):
    ids = [f"doc-{n}" for n in range(1500)]
    cloud.seed("notes", "text", ids)
    result = cloud.client().erase(namespace="notes", kind="text", ids=ids, mode="adaptive")
    assert set(outcomes(result).values()) == {"deleted"}
    assert [(c.endpoint, c.ids_sent) for c in result.calls] == [
        ("documents/delete", 1000),
        ("documents/delete", 500),
    ]
    assert result.mixed_answers == 0
    assert cloud.ids("notes") == set()


def test_adaptive_none_present_is_not_found_with_one_call(cloud):
    cloud.seed("notes", "text", ["other"])
    result = cloud.client().erase(namespace="notes", kind="text", ids=["a", "b"], mode="adaptive")
    assert outcomes(result) == {"a": "not_found", "b": "not_found"}
    assert [c.endpoint for c in result.calls] == ["documents/delete"]
    assert result.mixed_answers == 0 and cloud.ids("notes") == {"other"}


def test_adaptive_mixed_answer_never_guesses_and_is_counted(cloud):
    cloud.seed("notes", "text", ["a", "b", "keep"])
    result = cloud.client().erase(
        namespace="notes", kind="text", ids=["a", "b", "x"], mode="adaptive"
    )
    assert set(outcomes(result).values()) == {"deleted_or_not_found"}
    assert result.mixed_answers == 1
    assert cloud.ids("notes") == {"keep"}
    # What an earlier pre-check saw present is `deleted` even in a mixed answer.
    cloud.seed("notes", "text", ["c"])
    result = cloud.client().erase(
        namespace="notes", kind="text", ids=["c", "y"], mode="adaptive", known_present=["c"]
    )
    assert outcomes(result) == {"c": "deleted", "y": "deleted_or_not_found"}


def test_adaptive_207_fails_the_unprocessed_and_never_calls_the_rest_absent(cloud):
    ids = [f"d{n}" for n in range(6)]
    cloud.seed("notes", "text", ids)
    cloud.fault("partial")
    result = cloud.client().erase(namespace="notes", kind="text", ids=ids, mode="adaptive")
    failed = {i for i, r in result.results.items() if r.outcome == Outcome.FAILED}
    assert failed == cloud.ids("notes") and failed
    assert {str(r.outcome) for i, r in result.results.items() if i not in failed} == {"deleted"}


def test_adaptive_commit_then_500_never_reports_not_found(cloud):
    cloud.seed("notes", "text", ["a", "b"])
    cloud.fault("delete_then_error")
    result = cloud.client().erase(namespace="notes", kind="text", ids=["a", "b"], mode="adaptive")
    assert set(outcomes(result).values()) == {"deleted_or_not_found"}
    assert cloud.ids("notes") == set()


def test_an_unknown_mode_is_refused_before_any_call(cloud):
    with pytest.raises(ValueError, match="unknown attribution mode 'quick'"):
        cloud.client().erase(namespace="notes", kind="text", ids=["a"], mode="quick")
    assert cloud.calls() == []


# -- fast and single modes, vector namespaces (section 5.2) ------------------------------


def test_fast_all_present_is_deleted_by_counts_in_one_call(cloud):
    cloud.seed("vecs", "vector", ["v1", "v2", "v3"])
    result = cloud.client().erase(
        namespace="vecs", kind="vector", ids=["v1", "v2", "v3"], mode="fast"
    )
    assert set(outcomes(result).values()) == {"deleted"}
    assert [(c.endpoint, c.ids_sent, c.actual) for c in result.calls] == [("vectors/delete", 3, 3)]


def test_fast_none_present_is_not_found(cloud):
    cloud.seed("vecs", "vector", ["other"])
    result = cloud.client().erase(namespace="vecs", kind="vector", ids=["v1", "v2"], mode="fast")
    assert set(outcomes(result).values()) == {"not_found"}


def test_fast_mixed_batch_claims_no_per_id_certainty(cloud):
    cloud.seed("vecs", "vector", ["v1", "v2"])
    result = cloud.client().erase(
        namespace="vecs", kind="vector", ids=["v1", "v2", "v3"], mode="fast"
    )
    assert set(outcomes(result).values()) == {"deleted_or_not_found"}
    assert cloud.ids("vecs") == set()


def test_fast_duplicates_and_number_collisions_are_sent_once(cloud):
    cloud.seed("vecs", "vector", ["1", "2"])
    result = cloud.client().erase(
        namespace="vecs", kind="vector", ids=[1, "1", 2, "2"], mode="fast"
    )
    assert outcomes(result) == {"1": "deleted", "2": "deleted"}
    assert result.calls[0].ids_sent == 2


def test_fast_1000_ids_is_one_call_and_1001_is_two(cloud):
    ids = [f"v{n}" for n in range(1001)]
    cloud.seed("vecs", "vector", ids)
    result = cloud.client().erase(namespace="vecs", kind="vector", ids=ids[:1000], mode="fast")
    assert [c.ids_sent for c in result.calls] == [1000]
    result = cloud.client().erase(namespace="vecs", kind="vector", ids=ids, mode="fast")
    assert [c.ids_sent for c in result.calls] == [1000, 1]
    assert outcomes(result)["v1000"] == "deleted"


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
    assert set(outcomes(result).values()) == {"deleted_or_not_found"}


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
    assert outcomes(result) == {"v1": "deleted", "v2": "not_found", "v3": "deleted"}
    assert [c.ids_sent for c in result.calls] == [1, 1, 1]


# -- on-prem flavour (section 3.1): not_found_ids makes attribution exact ----------------


def test_onprem_delete_lists_not_found_ids_so_vectors_are_exact(onprem):
    onprem.seed("vecs", "vector", ["v1", "v2"])
    result = onprem.client().erase(
        namespace="vecs", kind="vector", ids=["v1", "v2", "v3"], mode="fast"
    )
    assert outcomes(result) == {"v1": "deleted", "v2": "deleted", "v3": "not_found"}
    assert [c.endpoint for c in result.calls] == ["items/delete"]


def test_onprem_splits_by_100(onprem):
    ids = [f"d{n}" for n in range(101)]
    onprem.seed("notes", "text", ids)
    result = onprem.client().erase(namespace="notes", kind="text", ids=ids, mode="exact")
    assert [c.ids_sent for c in result.calls] == [100, 1]
    assert set(outcomes(result).values()) == {"deleted"}
    assert onprem.ids("notes") == set()


def test_onprem_unknown_namespace_fails(onprem):
    result = onprem.client().erase(namespace="nope", kind="text", ids=["a"], mode="exact")
    assert result.results["a"].outcome == Outcome.FAILED
    assert result.results["a"].error.startswith("namespace_not_found")


# -- no answer: timeouts and dropped connections (section 5.0) ---------------------------


def test_a_timeout_in_exact_mode_is_settled_by_the_post_check(cloud):
    cloud.seed("notes", "text", ["a", "b"])
    # The delete is applied but answered after the client gave up, every time.
    cloud.fault("slow", count=4, slow_seconds=1.0)
    result = cloud.client(timeout=0.3).erase(
        namespace="notes", kind="text", ids=["a", "b"], mode="exact"
    )
    assert outcomes(result) == {"a": "deleted", "b": "deleted"}
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
    assert set(outcomes(result).values()) == {expected}
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
