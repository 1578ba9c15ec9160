"""Reading every documented answer shape (namespace-api.md section 6, "Accept every
documented shape"): delete answers (200, 207, the SDK-mock 207, on-prem `not_found_ids`),
get answers, list answers and error bodies. First the readers alone, then through the
client against the emulator's switches over real HTTP."""

from __future__ import annotations

import httpx
import pytest

from namespace_api.client import NamespaceApiClient, Outcome
from namespace_api.client.answers import (
    DeleteAnswer,
    error_message,
    parse_delete,
    parse_present,
)
from namespace_api.client.errors import UnexpectedResponse
from tests.namespace_api.client.helpers import outcomes

# -- the readers alone -----------------------------------------------------------------


def test_a_200_delete_answer_is_read_by_its_counts_alone():
    answer = parse_delete(200, {"requested_deletions": 3, "actual_deletions": 2})
    assert answer == DeleteAnswer(http_status=200, requested=3, actual=2, unprocessed=frozenset())


def test_a_207_delete_answer_lists_its_unprocessed_ids_as_strings():
    body = {"requested_deletions": 3, "actual_deletions": 1, "unprocessed_ids": ["b", 7]}
    answer = parse_delete(207, body)
    assert (answer.http_status, answer.actual) == (207, 1)
    assert answer.unprocessed == {"b", "7"}
    assert (answer.not_found, answer.deleted) == (None, None)


def test_the_sdk_mock_207_sorts_its_errors_into_not_found_and_unprocessed():
    body = {
        "status": "partial",
        "deleted_ids": ["a"],
        "errors": [
            {"id": "b", "error": "ID not found"},
            {"id": "c", "error": "timeout"},
            {"error": "no id"},
            "not an object",
        ],
    }
    answer = parse_delete(207, body)
    assert answer.deleted == {"a"}
    assert answer.not_found == {"b"}
    assert answer.unprocessed == {"c"}
    assert answer.actual == 1  # no count given: the number of deleted_ids


def test_the_onprem_delete_answer_lists_not_found_ids():
    body = {"requested": 2, "deleted": 1, "not_found_ids": ["doc-missing"]}
    answer = parse_delete(200, body)
    assert (answer.requested, answer.actual) == (2, 1)
    assert answer.not_found == {"doc-missing"}


def test_a_delete_answer_without_any_count_is_unexpected():
    with pytest.raises(UnexpectedResponse, match="no deletion count"):
        parse_delete(200, {"status": "success"})


def test_present_is_what_the_get_answer_returns_of_what_was_asked():
    body = {"documents": [{"id": "a"}, {"id": "not-asked"}, {"id": 1}], "not_found_ids": ["a"]}
    assert parse_present(body, ["a", "1", "b"]) == {"a", "1"}
    with pytest.raises(UnexpectedResponse):
        parse_present({"status": "success"}, ["a"])


def test_an_error_answer_without_a_readable_body_still_has_a_message():
    assert error_message(None, "") == "(empty body)"
    assert error_message({"message": "", "error": "Namespace not found"}, "") == (
        "Namespace not found"
    )


# -- through the client, every shape the emulator can answer -----------------------------


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
    assert outcomes(result) == {"a": "deleted", "b": "deleted", "zz": "not_found"}


def test_list_namespaces_reads_kind_and_count(cloud):
    cloud.seed("notes", "text", ["a", "b"])
    cloud.seed("vecs", "vector", ["v"], dimension=3)
    listed = {n.name: n for n in cloud.client().list_namespaces()}
    assert (listed["notes"].kind, listed["notes"].item_count) == ("text", 2)
    assert (listed["vecs"].kind, listed["vecs"].vector_dimension) == ("vector", 3)


def test_list_reads_snake_case_counts(cloud):
    cloud.seed("notes", "text", ["a"])
    cloud.post("config", {"list_casing": "snake"})
    listed = {n.name: n for n in cloud.client().list_namespaces()}
    assert listed["notes"].item_count == 1


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
