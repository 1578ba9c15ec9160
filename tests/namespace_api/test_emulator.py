"""The namespace API emulator, exercised over real HTTP on loopback.

Each test states one behaviour of /work/shared/docs/namespace-api.md (section in the
docstring) as the emulator must reproduce it. No database, no mocks: a started
EmulatorServer and httpx clients.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from namespace_api.emulator import EmulatorServer, EmulatorStore

API_KEY = "key-a"
OTHER_KEY = "key-b"


@pytest.fixture
def emulator() -> Iterator[EmulatorServer]:
    server = EmulatorServer(api_keys=(API_KEY, OTHER_KEY), seed=7)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def client(emulator: EmulatorServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emulator.url, headers={"x-api-key": API_KEY}, timeout=10) as c:
        yield c


@pytest.fixture
def control(emulator: EmulatorServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{emulator.base_url}/_emulator", timeout=30) as c:
        yield c


@pytest.fixture
def onprem() -> Iterator[EmulatorServer]:
    with EmulatorServer(flavor="onprem") as server:
        yield server


@pytest.fixture
def onprem_client(onprem: EmulatorServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=onprem.url, timeout=10) as c:
        yield c


def seed_text(server: EmulatorServer, name: str, ids: list[Any], *, key: str = API_KEY) -> None:
    server.store.seed(
        api_key=key,
        namespaces=[
            {"name": name, "type": "text", "items": [{"id": i, "text": f"t{i}"} for i in ids]}
        ],
    )


def seed_vectors(server: EmulatorServer, name: str, ids: list[Any], *, dimension: int = 3) -> None:
    server.store.seed(
        api_key=API_KEY,
        namespaces=[
            {
                "name": name,
                "type": "vector",
                "vector_dimension": dimension,
                "items": [{"id": i, "vector": [0.5] * dimension} for i in ids],
            }
        ],
    )


def delete(
    client: httpx.Client, namespace: str, ids: Any, kind: str = "documents"
) -> httpx.Response:
    return client.post(f"/namespaces/{namespace}/{kind}/delete", json={"ids": ids})


# -- auth (§1, §4.2) ------------------------------------------------------------------------


def test_missing_api_key_is_401_with_gateway_body(emulator: EmulatorServer) -> None:
    response = httpx.get(f"{emulator.url}/namespaces")
    assert response.status_code == 401
    assert response.json() == {"message": "Unauthorized: Missing API key"}


def test_unknown_api_key_is_401(emulator: EmulatorServer) -> None:
    response = httpx.get(f"{emulator.url}/namespaces", headers={"x-api-key": "nope"})
    assert response.status_code == 401
    assert response.json() == {
        "message": "Unauthorized: API key verification failed - Invalid API key ID"
    }


@pytest.mark.parametrize("header", ["x-api-key", "x-api-Key", "X-API-KEY"])
def test_api_key_header_name_is_matched_case_insensitively(
    emulator: EmulatorServer, header: str
) -> None:
    response = httpx.get(f"{emulator.url}/namespaces", headers={header: API_KEY})
    assert response.status_code == 200


def test_auth_is_checked_before_the_body_is_parsed(emulator: EmulatorServer) -> None:
    response = httpx.post(f"{emulator.url}/namespaces/x/documents/delete", content=b"{not json")
    assert response.status_code == 401


# -- namespaces (§2.4-2.6, §4.3, §4.13-4.15) ------------------------------------------------


def test_namespace_create_list_delete_round_trip(client: httpx.Client) -> None:
    created = client.post(
        "/namespaces", json={"namespace_name": "docs", "type": "text", "vector_dimension": None}
    )
    assert created.status_code == 201
    assert created.json()["namespace_name"] == "docs"
    assert (
        client.post(
            "/namespaces", json={"namespace_name": "vecs", "type": "vector", "vector_dimension": 3}
        ).status_code
        == 201
    )

    listed = client.get("/namespaces").json()["namespaces"]
    assert [(n["namespace_name"], n["type"], n["vector_dimension"]) for n in listed] == [
        ("docs", "text", None),
        ("vecs", "vector", 3),
    ]
    assert {"itemCount", "createdAt"} <= listed[0].keys()

    deleted = client.delete("/namespaces/docs")
    assert deleted.status_code == 202
    assert deleted.json() == {
        "status": "pending",
        "message": "Request accepted. Namespace 'docs' has been queued for deletion.",
    }
    again = client.delete("/namespaces/docs")
    assert again.status_code == 404
    assert again.json()["message"] == (
        "Namespace 'docs' not found or does not belong to this user."
    )


def test_item_count_reflects_deletes_immediately(
    emulator: EmulatorServer, client: httpx.Client
) -> None:
    seed_text(emulator, "docs", ["a", "b", "c"])
    delete(client, "docs", ["a"])
    assert client.get("/namespaces").json()["namespaces"][0]["itemCount"] == 2


def test_creating_an_existing_namespace_is_409(client: httpx.Client) -> None:
    body = {"namespace_name": "docs", "type": "text"}
    assert client.post("/namespaces", json=body).status_code == 201
    response = client.post("/namespaces", json=body)
    assert response.status_code == 409
    assert response.json() == {"status": "failure", "message": "Namespace 'docs' already exists."}


@pytest.mark.parametrize(
    "body",
    [
        {"namespace_name": "has space", "type": "text"},
        {"namespace_name": "dots.not.allowed", "type": "text"},
        {"namespace_name": "", "type": "text"},
        {"type": "text"},
        {"namespace_name": "ok", "type": "image"},
        {"namespace_name": "ok", "type": "vector"},
        {"namespace_name": "ok", "type": "vector", "vector_dimension": 0},
        {"namespace_name": "ok", "type": "vector", "vector_dimension": "3"},
        {"namespace_name": "ok", "type": "vector", "vector_dimension": True},
    ],
)
def test_invalid_namespace_creation_is_400(client: httpx.Client, body: dict[str, Any]) -> None:
    response = client.post("/namespaces", json=body)
    assert response.status_code == 400
    assert response.json()["message"].startswith("Bad Request: ")


def test_namespaces_are_scoped_to_the_api_key(
    emulator: EmulatorServer, client: httpx.Client
) -> None:
    seed_text(emulator, "mine", ["a"])
    with httpx.Client(base_url=emulator.url, headers={"x-api-key": OTHER_KEY}) as other:
        assert other.get("/namespaces").json() == {"namespaces": []}
        assert delete(other, "mine", ["a"]).status_code == 404
        assert other.post("/namespaces/mine/documents/get", json={"ids": ["a"]}).status_code == 404
        assert other.delete("/namespaces/mine").status_code == 404
    assert emulator.store.ids("mine") == ["a"]


# -- uploads (§2.7) -------------------------------------------------------------------------


def test_uploaded_documents_are_visible_immediately(client: httpx.Client) -> None:
    client.post("/namespaces", json={"namespace_name": "docs", "type": "text"})
    response = client.post(
        "/namespaces/docs/documents",
        json={"documents": [{"id": "d1", "text": "hello world", "metadata": {"k": 1}}]},
    )
    assert response.status_code == 202
    body = response.json()
    assert body["documents_processed"] == 1
    assert body["uploaded_documents"] == [
        {"id": "d1", "status": "processing", "character_count": 11}
    ]
    assert {"upload_id", "namespace_name", "processing_status", "estimated_completion"} <= (
        body.keys()
    )
    got = client.post("/namespaces/docs/documents/get", json={"ids": ["d1"]})
    assert got.status_code == 200
    assert got.json()["items"] == [{"id": "d1", "metadata": {"k": 1}, "text": "hello world"}]


def test_more_than_100_documents_per_upload_is_400(client: httpx.Client) -> None:
    client.post("/namespaces", json={"namespace_name": "docs", "type": "text"})
    documents = [{"id": str(i), "text": "some text"} for i in range(101)]
    response = client.post("/namespaces/docs/documents", json={"documents": documents})
    assert response.status_code == 400


def test_vector_upload_is_201_and_checks_the_dimension(client: httpx.Client) -> None:
    client.post(
        "/namespaces", json={"namespace_name": "vecs", "type": "vector", "vector_dimension": 3}
    )
    ok = client.post("/namespaces/vecs/vectors", json={"vectors": [{"id": 1, "vector": [1, 2, 3]}]})
    assert ok.status_code == 201
    assert ok.json()["vectors_processed"] == 1
    assert ok.json()["uploaded_vectors"][0]["id"] == "1"
    wrong = client.post("/namespaces/vecs/vectors", json={"vectors": [{"id": 2, "vector": [1, 2]}]})
    assert wrong.status_code == 400


def test_upload_to_a_missing_or_other_kind_namespace_is_404(
    emulator: EmulatorServer, client: httpx.Client
) -> None:
    seed_vectors(emulator, "vecs", [])
    response = client.post(
        "/namespaces/vecs/documents", json={"documents": [{"id": "d", "text": "hello"}]}
    )
    assert response.status_code == 404
    assert response.json()["error"] == "Namespace not found"
    assert response.json()["message"] == (
        "No text namespace found with the name 'vecs' in your account."
    )
    missing = client.post("/namespaces/nope/vectors", json={"vectors": [{"id": 1, "vector": [1]}]})
    assert missing.status_code == 404
    assert missing.json()["message"] == (
        "No vector namespace found with the name 'nope' in your account."
    )


# -- get documents (§2.2, §4.12) ------------------------------------------------------------


def test_get_documents_with_some_missing_ids_is_207(
    emulator: EmulatorServer, client: httpx.Client
) -> None:
    seed_text(emulator, "docs", ["doc1"])
    response = client.post("/namespaces/docs/documents/get", json={"ids": ["doc1", "doc12"]})
    assert response.status_code == 207
    assert response.json() == {
        "status": "partial",
        "message": "Retrieval partially completed. Requested: 2, Found: 1, Not found: 1.",
        "requested_ids": 2,
        "found_items": 1,
        "not_found_ids": ["doc12"],
        "items": [{"id": "doc1", "metadata": {}, "text": "tdoc1"}],
    }


@pytest.mark.parametrize("ids", [[], [str(i) for i in range(101)]])
def test_get_documents_rejects_empty_and_more_than_100_ids(
    emulator: EmulatorServer, client: httpx.Client, ids: list[str]
) -> None:
    seed_text(emulator, "docs", ["a"])
    response = client.post("/namespaces/docs/documents/get", json={"ids": ids})
    assert response.status_code == 400


def test_get_documents_on_a_missing_namespace_is_404(client: httpx.Client) -> None:
    response = client.post("/namespaces/nope/documents/get", json={"ids": ["a"]})
    assert response.status_code == 404
    assert response.json() == {"status": "failure", "message": "Namespace 'nope' not found."}


# -- delete (§2.1, §4.4-4.7) ----------------------------------------------------------------


def test_delete_of_present_and_absent_ids_is_200_with_fewer_actual_deletions(
    emulator: EmulatorServer, client: httpx.Client
) -> None:
    seed_text(emulator, "docs", ["a", "b", "c"])
    response = delete(client, "docs", ["a", "missing", "b"])
    assert response.status_code == 200
    assert response.json() == {
        "status": "success",
        "message": "Successfully processed deletion request. Requested: 3, Actually deleted: 2 "
        "items from namespace 'docs'.",
        "requested_deletions": 3,
        "actual_deletions": 2,
        "remaining_items": 1,
        "requested_ids": ["a", "missing", "b"],
    }
    assert emulator.store.ids("docs") == ["c"]


def test_delete_accepts_exactly_1000_ids_and_rejects_1001(
    emulator: EmulatorServer, client: httpx.Client
) -> None:
    seed_text(emulator, "docs", list(range(1500)))
    ok = delete(client, "docs", list(range(1000)))
    assert ok.status_code == 200
    assert ok.json()["actual_deletions"] == 1000
    too_many = delete(client, "docs", list(range(1000, 2001)))
    assert too_many.status_code == 400
    assert too_many.json()["status"] == "failure"
    assert len(emulator.store.ids("docs")) == 500


@pytest.mark.parametrize("body", [{"ids": []}, {}, {"ids": "a"}, ["a"], {"ids": [None]}])
def test_delete_without_a_usable_ids_array_is_400(
    emulator: EmulatorServer, client: httpx.Client, body: Any
) -> None:
    seed_text(emulator, "docs", ["a"])
    response = client.post("/namespaces/docs/documents/delete", json=body)
    assert response.status_code == 400
    assert response.json()["message"].startswith("Bad Request: ")


def test_empty_ids_message_is_the_documented_one(
    emulator: EmulatorServer, client: httpx.Client
) -> None:
    seed_text(emulator, "docs", ["a"])
    assert delete(client, "docs", []).json() == {
        "status": "failure",
        "message": "Bad Request: ids array is required and cannot be empty",
    }


def test_numeric_ids_become_strings_and_duplicates_count_once(
    emulator: EmulatorServer, client: httpx.Client
) -> None:
    seed_text(emulator, "docs", ["1", "2", "3"])
    response = delete(client, "docs", [1, "1", 2.0, 3])
    body = response.json()
    assert response.status_code == 200
    assert body["requested_ids"] == ["1", "2", "3"]
    assert (body["requested_deletions"], body["actual_deletions"]) == (3, 3)


def test_unicode_ids_round_trip(emulator: EmulatorServer, client: httpx.Client) -> None:
    ids = ["ünïcödé", "日本語", "emoji-😀"]
    seed_text(emulator, "docs", [*ids, "keep"])
    got = client.post("/namespaces/docs/documents/get", json={"ids": ids})
    assert [item["id"] for item in got.json()["items"]] == ids
    response = delete(client, "docs", ids)
    assert response.json()["requested_ids"] == ids
    assert response.json()["actual_deletions"] == 3
    assert emulator.store.ids("docs") == ["keep"]


def test_delete_on_a_missing_namespace_is_404(client: httpx.Client) -> None:
    response = delete(client, "nope", ["a"])
    assert response.status_code == 404
    assert response.json() == {"status": "failure", "message": "Namespace 'nope' not found"}


def test_malformed_json_is_400_with_the_parse_error(
    emulator: EmulatorServer, client: httpx.Client
) -> None:
    seed_text(emulator, "docs", ["a"])
    response = client.post(
        "/namespaces/docs/documents/delete",
        content=b'{"ids": ["a" "b"]}',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["status"] == "failure"
    assert response.json()["message"].startswith("Bad Request: Expecting ',' delimiter")


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/nothing"), ("POST", "/namespaces/docs/search"), ("PUT", "/namespaces")],
)
def test_unknown_route_is_404(client: httpx.Client, method: str, path: str) -> None:
    response = client.request(method, path)
    assert response.status_code == 404
    assert response.json() == {"message": "Not Found"}


# -- wrong namespace kind (§2.1 ambiguity 7, §4.9) ------------------------------------------


def test_wrong_kind_defaults_to_the_upload_style_404(
    emulator: EmulatorServer, client: httpx.Client
) -> None:
    seed_vectors(emulator, "vecs", ["v"])
    seed_text(emulator, "docs", ["d"])
    on_vectors = delete(client, "vecs", ["v"], kind="documents")
    assert on_vectors.status_code == 404
    assert on_vectors.json()["message"] == (
        "No text namespace found with the name 'vecs' in your account."
    )
    on_text = delete(client, "docs", ["d"], kind="vectors")
    assert on_text.status_code == 404
    assert on_text.json()["message"] == (
        "No vector namespace found with the name 'docs' in your account."
    )
    assert emulator.store.ids("vecs") == ["v"]
    assert emulator.store.ids("docs") == ["d"]


def test_wrong_kind_mode_400_rejects_without_deleting(
    emulator: EmulatorServer, client: httpx.Client, control: httpx.Client
) -> None:
    assert control.post("/config", json={"wrong_kind_mode": "400"}).status_code == 200
    seed_vectors(emulator, "vecs", ["v"])
    response = delete(client, "vecs", ["v"], kind="documents")
    assert response.status_code == 400
    assert response.json()["message"].startswith("Bad Request: ")
    assert emulator.store.ids("vecs") == ["v"]


def test_wrong_kind_mode_agnostic_deletes_anyway(
    emulator: EmulatorServer, client: httpx.Client
) -> None:
    emulator.store.wrong_kind_mode = "agnostic"
    seed_vectors(emulator, "vecs", ["v", "w"])
    seed_text(emulator, "docs", ["d"])
    assert delete(client, "vecs", ["v"], kind="documents").json()["actual_deletions"] == 1
    assert delete(client, "docs", ["d"], kind="vectors").json()["actual_deletions"] == 1
    assert emulator.store.ids("vecs") == ["w"]
    assert emulator.store.ids("docs") == []


def test_wrong_kind_mode_rejects_unknown_values(control: httpx.Client) -> None:
    assert control.post("/config", json={"wrong_kind_mode": "maybe"}).status_code == 400


# -- fault injection (§4.8, §4.10, §4.11) ---------------------------------------------------


def test_partial_fault_is_207_and_unprocessed_items_stay_stored(
    emulator: EmulatorServer, client: httpx.Client, control: httpx.Client
) -> None:
    ids = [f"id{i}" for i in range(10)]
    seed_text(emulator, "docs", ids)
    control.post("/faults/next", json={"namespace": "docs", "fault": "partial"})
    response = delete(client, "docs", [*ids, "absent"])
    body = response.json()
    assert response.status_code == 207
    assert body["status"] == "partial"
    unprocessed = body["unprocessed_ids"]
    assert 1 <= len(unprocessed) < 10
    assert set(unprocessed) <= set(ids)
    assert body["requested_deletions"] == 11
    assert body["actual_deletions"] == 10 - len(unprocessed)
    assert body["remaining_items"] == len(unprocessed)
    assert body["message"] == (
        f"Deletion partially completed. Requested: 11, Actually deleted: "
        f"{10 - len(unprocessed)}, Failed/Unprocessed: {len(unprocessed)}."
    )
    assert emulator.store.ids("docs") == sorted(unprocessed)


def test_rate_limit_fault_is_429_with_quota_body_and_retry_after(
    emulator: EmulatorServer, client: httpx.Client
) -> None:
    seed_text(emulator, "docs", ["a"])
    emulator.store.add_fault_next("docs", "rate_limit")
    response = delete(client, "docs", ["a"])
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "1"
    assert response.json()["status"] == "failure"
    assert {"current_usage", "limit"} <= response.json().keys()
    assert emulator.store.ids("docs") == ["a"]


@pytest.mark.parametrize(
    ("retry_after", "expected"),
    [
        (None, None),
        (2.5, "2.5"),
        ("Wed, 21 Oct 2015 07:28:00 GMT", "Wed, 21 Oct 2015 07:28:00 GMT"),
    ],
)
def test_rate_limit_retry_after_is_configurable(
    emulator: EmulatorServer,
    client: httpx.Client,
    control: httpx.Client,
    retry_after: float | str | None,
    expected: str | None,
) -> None:
    seed_text(emulator, "docs", ["a"])
    control.post(
        "/faults/next", json={"namespace": "*", "fault": "rate_limit", "retry_after": retry_after}
    )
    response = delete(client, "docs", ["a"])
    assert response.status_code == 429
    assert response.headers.get("Retry-After") == expected


def test_server_error_fault_is_500_and_deletes_nothing(
    emulator: EmulatorServer, client: httpx.Client
) -> None:
    seed_text(emulator, "docs", ["a"])
    emulator.store.add_fault_next("*", "server_error")
    response = delete(client, "docs", ["a"])
    assert response.status_code == 500
    assert response.json()["status"] == "failure"
    assert response.json()["message"].startswith("Internal Server Error")
    assert emulator.store.ids("docs") == ["a"]


def test_delete_then_error_commits_before_the_500(
    emulator: EmulatorServer, client: httpx.Client
) -> None:
    seed_text(emulator, "docs", ["a", "b"])
    emulator.store.add_fault_next("docs", "delete_then_error")
    assert delete(client, "docs", ["a"]).status_code == 500
    assert emulator.store.ids("docs") == ["b"]
    retried = delete(client, "docs", ["a"])
    assert retried.status_code == 200
    assert retried.json()["actual_deletions"] == 0


def test_queued_faults_apply_count_times_to_their_target_only(
    emulator: EmulatorServer, client: httpx.Client
) -> None:
    seed_text(emulator, "docs", list(range(10)))
    seed_text(emulator, "other", list(range(10)))
    emulator.store.add_fault_next("docs", "server_error", 2)
    assert delete(client, "other", [0]).status_code == 200
    assert [delete(client, "docs", [i]).status_code for i in range(3)] == [500, 500, 200]


def test_faults_are_not_consumed_by_invalid_requests(
    emulator: EmulatorServer, client: httpx.Client
) -> None:
    seed_text(emulator, "docs", ["a"])
    emulator.store.add_fault_next("*", "server_error")
    assert delete(client, "docs", []).status_code == 400
    assert delete(client, "docs", ["a"]).status_code == 500


def test_faults_clear_restores_normal_answers(
    emulator: EmulatorServer, client: httpx.Client, control: httpx.Client
) -> None:
    seed_text(emulator, "docs", ["a"])
    control.post("/faults/next", json={"namespace": "*", "fault": "server_error", "count": 5})
    control.post("/faults", json={"namespace": "*", "probabilities": {"rate_limit": 1.0}})
    assert control.post("/faults/clear").status_code == 200
    assert delete(client, "docs", ["a"]).status_code == 200


def _statuses_under_probabilities(seed: int) -> list[int]:
    with EmulatorServer(seed=seed) as server:
        seed_text(server, "docs", list(range(200)), key="emulator-key")
        server.store.set_fault_probabilities(
            "docs", {"partial": 0.2, "rate_limit": 0.2, "server_error": 0.2}
        )
        with httpx.Client(base_url=server.url, headers={"x-api-key": "emulator-key"}) as c:
            return [delete(c, "docs", [i, i + 100]).status_code for i in range(40)]


def test_fault_probabilities_are_reproducible_for_a_seed() -> None:
    first = _statuses_under_probabilities(seed=42)
    assert first == _statuses_under_probabilities(seed=42)
    assert {200, 207, 429, 500} <= set(first)
    assert first != _statuses_under_probabilities(seed=43)


def test_invalid_fault_settings_are_400(control: httpx.Client) -> None:
    assert control.post("/faults/next", json={"namespace": "*", "fault": "boom"}).status_code == 400
    assert (
        control.post(
            "/faults", json={"namespace": "*", "probabilities": {"partial": 0.7, "rate_limit": 0.7}}
        ).status_code
        == 400
    )
    assert control.post("/faults/next", json={"fault": "partial"}).status_code == 400


# -- control endpoints (§4.19) --------------------------------------------------------------


def test_seed_state_calls_and_reset_over_http(client: httpx.Client, control: httpx.Client) -> None:
    seeded = control.post(
        "/seed",
        json={
            "api_key": API_KEY,
            "namespaces": [
                {"name": "docs", "type": "text", "items": [{"id": "b", "text": "x"}, {"id": 1}]},
                {
                    "name": "vecs",
                    "type": "vector",
                    "vector_dimension": 2,
                    "items": [{"id": "v", "vector": [0.1, 0.2]}],
                },
            ],
        },
    )
    assert seeded.json() == {"status": "ok", "seeded": {"docs": 2, "vecs": 1}}
    assert control.get("/state").json() == {
        "namespaces": {
            "docs": {
                "type": "text",
                "owner_key": API_KEY,
                "vector_dimension": None,
                "ids": ["1", "b"],
            },
            "vecs": {"type": "vector", "owner_key": API_KEY, "vector_dimension": 2, "ids": ["v"]},
        }
    }

    delete(client, "docs", ["b", "zz"])
    httpx.get(f"{client.base_url}namespaces")
    assert control.get("/calls").json() == {
        "calls": [
            {
                "method": "POST",
                "path": "/v1/namespaces/docs/documents/delete",
                "status": 200,
                "ids_count": 2,
            },
            {"method": "GET", "path": "/v1/namespaces", "status": 401, "ids_count": 0},
        ]
    }
    control.post("/calls/clear")
    assert control.get("/calls").json() == {"calls": []}

    control.post("/reset")
    assert control.get("/state").json() == {"namespaces": {}}


def test_seed_holds_hundreds_of_thousands_of_items(
    emulator: EmulatorServer, client: httpx.Client
) -> None:
    seed_text(emulator, "big", list(range(300_000)))
    response = delete(client, "big", list(range(0, 300_000, 300)))
    assert response.json()["actual_deletions"] == 1000
    assert response.json()["remaining_items"] == 299_000


def test_latency_delays_api_calls_but_not_control_calls(
    emulator: EmulatorServer, client: httpx.Client, control: httpx.Client
) -> None:
    emulator.latency_ms = 300
    started = time.perf_counter()
    control.get("/state")
    assert time.perf_counter() - started < 0.3
    started = time.perf_counter()
    client.get("/namespaces")
    assert time.perf_counter() - started >= 0.3


def test_store_endpoints_work_without_sockets() -> None:
    store = EmulatorStore(api_keys=[API_KEY])
    store.seed(namespaces=[{"name": "docs", "type": "text", "items": [{"id": "a", "text": "x"}]}])
    status, body, headers = store.delete_items(
        api_key=API_KEY, namespace="docs", body={"ids": ["a", "b"]}, kind="text"
    )
    assert (status, body["actual_deletions"], headers) == (200, 1, {})
    assert store.authenticate(None) == (401, {"message": "Unauthorized: Missing API key"}, {})


# -- HTTP transport -------------------------------------------------------------------------


def test_many_calls_share_one_keep_alive_connection(
    emulator: EmulatorServer, client: httpx.Client
) -> None:
    seed_text(emulator, "docs", list(range(200)))
    local_ports = set()
    for i in range(200):
        response = delete(client, "docs", [i])
        assert response.status_code == 200
        local_ports.add(response.extensions["network_stream"].get_extra_info("client_addr")[1])
    assert len(local_ports) == 1
    assert emulator.store.ids("docs") == []


def test_connection_close_is_honoured(emulator: EmulatorServer) -> None:
    request = (
        b"GET /v1/namespaces HTTP/1.1\r\nHost: x\r\nx-api-key: key-a\r\nConnection: close\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", emulator.port), timeout=5) as sock:
        sock.sendall(request)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    head, _, payload = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK")
    assert b"Connection: close" in head
    assert payload == b'{"namespaces":[]}'


def test_stop_is_idempotent_and_url_needs_a_running_server() -> None:
    server = EmulatorServer()
    with pytest.raises(RuntimeError):
        _ = server.url
    server.start()
    assert server.url.endswith("/v1")
    server.stop()
    server.stop()


def test_delete_throughput_smoke(emulator: EmulatorServer, client: httpx.Client) -> None:
    """Prints the rate of 2,000 one-id deletes over one keep-alive client; asserts no timing."""
    calls = 2000
    seed_text(emulator, "docs", list(range(calls)))
    started = time.perf_counter()
    for i in range(calls):
        client.post("/namespaces/docs/documents/delete", json={"ids": [i]})
    elapsed = time.perf_counter() - started
    print(
        f"\nemulator throughput: {calls / elapsed:.0f} deletes/s ({calls} calls, {elapsed:.2f} s)"
    )
    assert emulator.store.ids("docs") == []


# -- on-prem flavour (§3, §4.18) ------------------------------------------------------------


def test_onprem_items_delete_lists_not_found_ids_without_auth(
    onprem: EmulatorServer, onprem_client: httpx.Client
) -> None:
    onprem.store.seed(namespaces=[{"name": "docs", "type": "text", "items": [{"id": "a"}]}])
    response = onprem_client.post(
        "/namespaces/docs/items/delete", json={"ids": ["a", "doc-missing"]}
    )
    assert response.status_code == 200
    assert response.json() == {
        "status": "success",
        "message": "Delete by ids completed.",
        "namespace_name": "docs",
        "requested": 2,
        "deleted": 1,
        "not_found_ids": ["doc-missing"],
    }


@pytest.mark.parametrize("ids", [[], [""], [str(i) for i in range(101)]])
def test_onprem_items_delete_rejects_empty_blank_and_over_100(
    onprem: EmulatorServer, onprem_client: httpx.Client, ids: list[str]
) -> None:
    onprem.store.seed(namespaces=[{"name": "docs", "type": "text", "items": [{"id": "a"}]}])
    response = onprem_client.post("/namespaces/docs/items/delete", json={"ids": ids})
    assert response.status_code == 400
    assert response.json()["status"] == "failure"


def test_onprem_items_work_on_vector_namespaces_and_get_omits_missing(
    onprem_client: httpx.Client,
) -> None:
    assert (
        onprem_client.post(
            "/namespaces", json={"name": "vecs", "type": "vector", "vector_dimension": 2}
        ).status_code
        == 201
    )
    upload = onprem_client.post(
        "/namespaces/vecs/vectors", json={"vectors": [{"id": "v1", "vector": [1, 2]}]}
    )
    assert upload.status_code == 202
    got = onprem_client.post("/namespaces/vecs/items/get", json={"ids": ["v1", "nope"]})
    assert got.status_code == 200
    assert got.json()["items"] == [{"id": "v1", "metadata": {}}]
    assert got.json()["requested_ids"] == 2
    deleted = onprem_client.post("/namespaces/vecs/items/delete", json={"ids": ["v1"]})
    assert deleted.json()["deleted"] == 1


def test_onprem_routes_have_no_v1_prefix_and_health_reports_items(
    onprem: EmulatorServer, onprem_client: httpx.Client
) -> None:
    assert onprem.url == onprem.base_url
    onprem.store.seed(namespaces=[{"name": "docs", "type": "text", "items": [{"id": "a"}]}])
    health = onprem_client.get("/health").json()
    assert (health["items"], health["max_items"]) == (1, 100_000)
    assert (
        onprem_client.post("/namespaces/nope/items/delete", json={"ids": ["a"]}).status_code == 404
    )
    assert onprem_client.get("/v1/namespaces").status_code == 404
