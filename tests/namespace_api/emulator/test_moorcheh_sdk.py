"""The official SDK (moorcheh-sdk 1.3.7) against the emulator, cloud flavour, over real HTTP.

This is the evidence that the emulator speaks the protocol the SDK was written for. Each
test asserts what /work/shared/docs/namespace-api.md (§1.1, §2 and its PROBE notes) says
the SDK does with a given answer, and counts the emulator's logged calls to see what went
over the wire. Nothing is patched: retries are kept fast by a tiny ``Retry-After``, which
the SDK sleeps exactly (§1.1), or by ``max_retries``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from moorcheh_sdk import (
    APIError,
    AuthenticationError,
    ConflictError,
    InvalidInputError,
    MoorchehClient,
    MoorchehError,
    NamespaceNotFound,
)

from namespace_api.emulator import EmulatorServer

KEY = "sdk-test-key"
DISABLED_KEY = "sdk-disabled-key"
FAST = 0.01  # a Retry-After the SDK sleeps as is


class Emulator:
    """The emulator's control endpoint, over HTTP."""

    def __init__(self, server: EmulatorServer) -> None:
        self.server = server
        self.http = httpx.Client(base_url=f"{server.base_url}/_emulator", timeout=10)

    def post(self, path: str, payload: dict[str, Any]) -> Any:
        response = self.http.post(f"/{path}", json=payload)
        response.raise_for_status()
        return response.json()

    def fault(self, fault: str, count: int = 1, **extra: Any) -> None:
        self.post("faults/next", {"namespace": "*", "fault": fault, "count": count, **extra})

    def seed_text(self, namespace: str, ids: list[str]) -> None:
        items = [{"id": item_id, "text": f"text of {item_id}"} for item_id in ids]
        self.post(
            "seed",
            {"api_key": KEY, "namespaces": [{"name": namespace, "type": "text", "items": items}]},
        )

    def ids(self, namespace: str) -> list[str]:
        state = self.http.get("/state").json()["namespaces"]
        return state[namespace]["ids"] if namespace in state else []

    def statuses(self, path_suffix: str = "") -> list[int | None]:
        calls = self.http.get("/calls").json()["calls"]
        return [call["status"] for call in calls if call["path"].endswith(path_suffix)]


@pytest.fixture(scope="module")
def server() -> Iterator[EmulatorServer]:
    with EmulatorServer(api_keys=[KEY], disabled_api_keys=[DISABLED_KEY], seed=11) as running:
        yield running


@pytest.fixture
def emulator(server: EmulatorServer) -> Iterator[Emulator]:
    handle = Emulator(server)
    handle.post("reset", {})
    yield handle
    handle.http.close()


@pytest.fixture
def sdk(server: EmulatorServer) -> Iterator[MoorchehClient]:
    with MoorchehClient(api_key=KEY, base_url=server.url, timeout=5) as client:
        yield client


# -- the happy path (§2.4-2.7, §2.1, §2.2) --------------------------------------------------


def test_sdk_round_trip_over_both_namespace_kinds(
    sdk: MoorchehClient, emulator: Emulator, server: EmulatorServer
) -> None:
    created = sdk.namespaces.create(namespace_name="docs", type="text")
    assert created["namespace_name"] == "docs"
    sdk.namespaces.create(namespace_name="vecs", type="vector", vector_dimension=3)

    # The SDK reads an undocumented `submitted_ids` key from the 202 (§2.7), so it reports
    # nothing submitted although both documents are stored.
    uploaded = sdk.documents.upload(
        namespace_name="docs",
        documents=[
            {"id": "d1", "text": "first document", "metadata": {"myKey": 1}},
            {"id": "d2", "text": "second document", "metadata": None},
        ],
    )
    assert uploaded == {"status": "queued", "submitted_ids": []}
    vectors = sdk.vectors.upload(
        namespace_name="vecs",
        vectors=[{"id": f"v{n}", "vector": [0.1, 0.2, 0.3]} for n in range(3)],
    )
    assert vectors["vectors_processed"] == 3

    # itemCount arrives as item_count: the SDK snake-cases every response key (PROBE #5).
    listed = sdk.namespaces.list()["namespaces"]
    assert [(n["namespace_name"], n["type"], n["item_count"]) for n in listed] == [
        ("docs", "text", 2),
        ("vecs", "vector", 3),
    ]
    assert all("itemCount" not in n for n in listed)

    got = sdk.documents.get(namespace_name="docs", ids=["d1", "d2"])
    assert [item["id"] for item in got["items"]] == ["d1", "d2"]
    # ...and every request key too, user metadata included (PROBE #10).
    assert got["items"][0]["metadata"] == {"my_key": 1}
    assert server.store.item("docs", "d1").metadata == {"my_key": 1}

    # Mixed present/absent ids: 200, actual_deletions below requested (§2.1).
    deleted = sdk.documents.delete(namespace_name="docs", ids=["d1", "absent"])
    assert (deleted["status"], deleted["requested_deletions"], deleted["actual_deletions"]) == (
        "success",
        2,
        1,
    )
    vector_deleted = sdk.vectors.delete(namespace_name="vecs", ids=["v0", "v1", "nope"])
    assert (vector_deleted["requested_deletions"], vector_deleted["actual_deletions"]) == (3, 2)
    assert emulator.ids("docs") == ["d2"]
    assert emulator.ids("vecs") == ["v2"]

    # Namespace delete: the API answers 202, the SDK expects 200 and returns None silently
    # (httpx's raise_for_status is a no-op for a 2xx; PROBE #6).
    assert sdk.namespaces.delete(namespace_name="docs") is None
    assert emulator.statuses("/namespaces/docs") == [202]
    assert [n["namespace_name"] for n in sdk.namespaces.list()["namespaces"]] == ["vecs"]


def test_sdk_accepts_the_snake_case_list_and_documents_key(
    sdk: MoorchehClient, emulator: Emulator
) -> None:
    emulator.seed_text("docs", ["a"])
    emulator.post("config", {"list_casing": "snake", "get_items_key": "documents"})
    listed = sdk.namespaces.list()
    assert listed["namespaces"][0]["item_count"] == 1
    assert isinstance(listed["execution_time"], float)
    assert sdk.documents.get(namespace_name="docs", ids=["a"])["documents"][0]["id"] == "a"


def test_sdk_fetch_text_data_follows_the_next_token(
    sdk: MoorchehClient, emulator: Emulator
) -> None:
    emulator.seed_text("docs", [f"d{n}" for n in range(5)])
    seen: list[str] = []
    token = None
    while True:
        page = sdk.documents.fetch_text_data(namespace_name="docs", limit=2, next_token=token)
        seen += [item["id"] for item in page["items"]]
        token = page["pagination"]["next_token"]
        if not page["pagination"]["has_more"]:
            break
    assert seen == [f"d{n}" for n in range(5)]
    assert token is None
    # A token issued for another namespace is the emulator's 400, the SDK's InvalidInputError.
    emulator.seed_text("other", ["x"])
    first = sdk.documents.fetch_text_data(namespace_name="docs", limit=1)
    with pytest.raises(InvalidInputError):
        sdk.documents.fetch_text_data(
            namespace_name="other", next_token=first["pagination"]["next_token"]
        )


# -- 207s (§2.1 ambiguity 2, §2.2) ----------------------------------------------------------


def test_sdk_raises_on_a_207_from_documents_get(sdk: MoorchehClient, emulator: Emulator) -> None:
    emulator.seed_text("docs", ["a"])
    with pytest.raises(APIError, match="Unexpected response format from get documents endpoint"):
        sdk.documents.get(namespace_name="docs", ids=["a", "missing"])
    # One call, answered 207: the found item is lost to an SDK user (PROBE #2).
    assert emulator.statuses("/documents/get") == [207]


@pytest.mark.parametrize("shape", ["unprocessed_ids", "sdk"])
def test_sdk_returns_a_207_delete_body_unchanged(
    sdk: MoorchehClient, emulator: Emulator, shape: str
) -> None:
    emulator.seed_text("docs", [f"d{n}" for n in range(6)])
    emulator.post("config", {"partial_shape": shape})
    emulator.fault("partial")
    result = sdk.documents.delete(namespace_name="docs", ids=[f"d{n}" for n in range(6)])
    assert result["status"] == "partial"
    # The SDK never reads unprocessed_ids (PROBE #1); it hands back whichever shape came.
    unprocessed = (
        result["unprocessed_ids"]
        if shape == "unprocessed_ids"
        else [e["id"] for e in result["errors"]]
    )
    assert unprocessed and sorted(unprocessed) == emulator.ids("docs")
    assert result["actual_deletions"] == 6 - len(unprocessed)
    assert emulator.statuses("/documents/delete") == [207]


# -- errors (§1.1 "Status → exception") -----------------------------------------------------


def test_sdk_maps_404_to_namespace_not_found(sdk: MoorchehClient, emulator: Emulator) -> None:
    with pytest.raises(NamespaceNotFound) as raised:
        sdk.documents.delete(namespace_name="nope", ids=["a"])
    assert raised.value.namespace_name == "nope"
    with pytest.raises(NamespaceNotFound):
        sdk.namespaces.delete(namespace_name="nope")
    assert emulator.statuses() == [404, 404]


@pytest.mark.parametrize(
    ("api_key", "message"),
    [
        ("wrong-key", "Unauthorized: API key verification failed - Invalid API key ID"),
        (DISABLED_KEY, "Unauthorized: API key is disabled"),
    ],
)
def test_sdk_maps_401_to_authentication_error(
    server: EmulatorServer, emulator: Emulator, api_key: str, message: str
) -> None:
    with (
        MoorchehClient(api_key=api_key, base_url=server.url, timeout=5) as client,
        pytest.raises(AuthenticationError, match=re.escape(message)),
    ):
        client.namespaces.list()
    assert emulator.statuses() == [401]


def test_sdk_maps_403_to_authentication_error(sdk: MoorchehClient, emulator: Emulator) -> None:
    emulator.seed_text("docs", ["a"])
    emulator.fault("forbidden")
    with pytest.raises(AuthenticationError, match=re.escape('"message":"Forbidden"')):
        sdk.documents.delete(namespace_name="docs", ids=["a"])
    assert emulator.statuses() == [403]
    assert emulator.ids("docs") == ["a"]


def test_sdk_maps_409_to_conflict_and_400_to_invalid_input(
    sdk: MoorchehClient, emulator: Emulator
) -> None:
    emulator.seed_text("docs", ["a"])
    with pytest.raises(ConflictError):
        sdk.namespaces.create(namespace_name="docs", type="text")
    # The SDK does not chunk deletes (PROBE #7): 1001 ids reach the server, which says 400.
    with pytest.raises(InvalidInputError, match="Bad Request"):
        sdk.documents.delete(namespace_name="docs", ids=[f"id{n}" for n in range(1001)])
    assert emulator.statuses() == [409, 400]


# -- retries (§1.1 "Retries") ---------------------------------------------------------------


def test_sdk_retries_a_429_and_succeeds_on_the_fourth_attempt(
    sdk: MoorchehClient, emulator: Emulator
) -> None:
    emulator.seed_text("docs", ["a"])
    emulator.fault("rate_limit", count=3, retry_after=FAST)
    result = sdk.documents.delete(namespace_name="docs", ids=["a"])
    assert result["actual_deletions"] == 1
    assert emulator.statuses("/documents/delete") == [429, 429, 429, 200]


def test_sdk_gives_up_after_four_429s_with_api_error(
    sdk: MoorchehClient, emulator: Emulator
) -> None:
    emulator.seed_text("docs", ["a"])
    emulator.fault("subscription_expired", count=4, retry_after=FAST)
    with pytest.raises(APIError, match="subscription expired") as raised:
        sdk.documents.delete(namespace_name="docs", ids=["a"])
    assert raised.value.status_code == 429
    assert emulator.statuses() == [429, 429, 429, 429]
    assert emulator.ids("docs") == ["a"]


def test_sdk_gives_up_after_four_500s_with_api_error(
    sdk: MoorchehClient, emulator: Emulator
) -> None:
    emulator.seed_text("docs", ["a"])
    emulator.fault("server_error", count=4, endpoint="any", retry_after=FAST)
    with pytest.raises(APIError) as raised:
        sdk.namespaces.list()
    assert raised.value.status_code == 500
    assert emulator.statuses() == [500, 500, 500, 500]


def test_sdk_retry_after_commit_then_500_reports_zero_deletions(
    sdk: MoorchehClient, emulator: Emulator
) -> None:
    """The retry hazard of §4.11: the SDK resends a delete the server already applied, and
    only the last attempt's counts reach the caller (§1.1, §5.0)."""
    emulator.seed_text("docs", ["a", "b"])
    emulator.fault("delete_then_error", retry_after=FAST)
    result = sdk.documents.delete(namespace_name="docs", ids=["a", "b"])
    assert (result["status"], result["actual_deletions"]) == ("success", 0)
    assert emulator.statuses("/documents/delete") == [500, 200]
    assert emulator.ids("docs") == []


def test_sdk_retries_a_timeout_and_the_late_delete_was_applied(
    server: EmulatorServer, emulator: Emulator
) -> None:
    """A "slow" answer beyond the client timeout: the SDK retries on httpx's timeout after
    its own backoff (about 1 s, no Retry-After to go by) and again sees 0 deletions."""
    emulator.seed_text("docs", ["a"])
    emulator.fault("slow", slow_seconds=1.0)
    with MoorchehClient(api_key=KEY, base_url=server.url, timeout=0.3, max_retries=1) as client:
        result = client.documents.delete(namespace_name="docs", ids=["a"])
    assert result["actual_deletions"] == 0
    assert emulator.statuses("/documents/delete") == [200, 200]
    assert emulator.ids("docs") == []


def test_sdk_times_out_with_moorcheh_error_when_retries_run_out(
    server: EmulatorServer, emulator: Emulator
) -> None:
    emulator.seed_text("docs", ["a"])
    emulator.fault("slow", slow_seconds=1.0)
    with (
        MoorchehClient(api_key=KEY, base_url=server.url, timeout=0.3, max_retries=0) as client,
        pytest.raises(MoorchehError, match=r"Request timed out after 0\.3 seconds"),
    ):
        client.documents.delete(namespace_name="docs", ids=["a"])


def test_sdk_does_not_retry_a_dropped_connection(sdk: MoorchehClient, emulator: Emulator) -> None:
    """httpx reports a connection closed without an answer as RemoteProtocolError, which is
    not in the SDK's retry list (TimeoutException, ConnectError): one attempt, then
    MoorchehError. With "delete_then_drop" the delete happened all the same."""
    emulator.seed_text("docs", ["a"])
    emulator.fault("delete_then_drop")
    with pytest.raises(MoorchehError, match="Network or request error"):
        sdk.documents.delete(namespace_name="docs", ids=["a"])
    assert emulator.statuses() == [None]
    assert emulator.ids("docs") == []
