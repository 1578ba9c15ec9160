"""The namespace API emulator, exercised over real HTTP on loopback.

Each test states one behaviour of /work/shared/docs/namespace-api.md (section in the
docstring) as the emulator must reproduce it. No database, no mocks: a started
EmulatorServer and httpx clients.
"""

from __future__ import annotations

import contextlib
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from namespace_api.emulator import EmulatorServer, EmulatorStore, parse_fault_spec

ROOT = Path(__file__).resolve().parents[3]

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


def test_disabled_api_key_is_401_with_the_disabled_message() -> None:
    with EmulatorServer(api_keys=[API_KEY], disabled_api_keys=["old-key"]) as server:
        response = httpx.get(f"{server.url}/namespaces", headers={"x-api-key": "old-key"})
    assert response.status_code == 401
    assert response.json() == {"message": "Unauthorized: API key is disabled"}


def test_auth_error_style_failure_adds_the_status_field(
    emulator: EmulatorServer, control: httpx.Client
) -> None:
    assert control.post("/config", json={"auth_error_style": "failure"}).status_code == 200
    response = httpx.get(f"{emulator.url}/namespaces")
    assert response.status_code == 401
    assert response.json() == {"status": "failure", "message": "Unauthorized: Missing API key"}


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


def test_camel_case_create_keys_are_accepted_with_deprecation_headers(
    client: httpx.Client,
) -> None:
    camel = client.post(
        "/namespaces", json={"namespaceName": "vecs", "type": "vector", "vectorDimension": 3}
    )
    assert camel.status_code == 201
    assert camel.headers["Deprecation"] == "true"
    assert camel.headers["Sunset"] == "Fri, 01 May 2026 00:00:00 GMT"
    assert camel.headers["Warning"].startswith("299 - ")
    listed = client.get("/namespaces").json()["namespaces"]
    assert [(n["namespace_name"], n["vector_dimension"]) for n in listed] == [("vecs", 3)]
    snake = client.post("/namespaces", json={"namespace_name": "docs", "type": "text"})
    assert snake.status_code == 201
    assert "Deprecation" not in snake.headers


def test_list_casing_snake_gives_item_count_created_at_and_execution_time(
    emulator: EmulatorServer, client: httpx.Client, control: httpx.Client
) -> None:
    seed_text(emulator, "docs", ["a", "b"])
    control.post("/config", json={"list_casing": "snake"})
    body = client.get("/namespaces").json()
    assert isinstance(body["execution_time"], float)
    [listed] = body["namespaces"]
    assert listed["item_count"] == 2
    assert {"created_at"} <= listed.keys()
    assert not {"itemCount", "createdAt"} & listed.keys()


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


def test_get_items_key_documents_renames_the_items_list(
    emulator: EmulatorServer, client: httpx.Client
) -> None:
    seed_text(emulator, "docs", ["a"])
    emulator.store.get_items_key = "documents"
    body = client.post("/namespaces/docs/documents/get", json={"ids": ["a"]}).json()
    assert body["documents"] == [{"id": "a", "metadata": {}, "text": "ta"}]
    assert "items" not in body


def test_get_missing_200_answers_fewer_items_without_not_found_ids(
    emulator: EmulatorServer, client: httpx.Client, control: httpx.Client
) -> None:
    seed_text(emulator, "docs", ["a"])
    control.post("/config", json={"get_missing": "200"})
    response = client.post("/namespaces/docs/documents/get", json={"ids": ["a", "gone"]})
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["requested_ids"], body["found_items"]) == ("success", 2, 1)
    assert [item["id"] for item in body["items"]] == ["a"]
    assert "not_found_ids" not in body


# -- fetch-text-data (§2.3, §4.16) ----------------------------------------------------------


def _fetch(client: httpx.Client, namespace: str, **params: Any) -> httpx.Response:
    return client.get(f"/namespaces/{namespace}/documents/fetch-text-data", params=params)


def test_fetch_text_data_pages_through_every_item_with_an_opaque_token(
    emulator: EmulatorServer, client: httpx.Client
) -> None:
    emulator.store.seed(
        api_key=API_KEY,
        namespaces=[
            {
                "name": "docs",
                "type": "text",
                "items": [
                    {"id": f"d{i}", "text": f"text {i}", "metadata": {"n": i}} for i in range(7)
                ],
            }
        ],
    )
    first = _fetch(client, "docs", limit=3)
    assert first.status_code == 200
    body = first.json()
    assert {"status", "message", "namespace", "statistics", "items", "pagination"} <= body.keys()
    assert isinstance(body["execution_time"], float)
    assert body["message"] == "Fetched 3 text items from namespace 'docs'."
    assert [item["id"] for item in body["items"]] == ["d0", "d1", "d2"]
    assert body["items"][0] == {
        "id": "d0",
        "text": "text 0",
        "metadata": {"n": 0},
        "created_at": body["items"][0]["created_at"],
        "is_summary": False,
    }
    assert body["statistics"]["total_items"] == 3
    assert body["statistics"]["source_counts"] == {"docs": 3}
    assert body["pagination"]["limit"] == 3
    assert body["pagination"]["has_more"] is True
    token = body["pagination"]["next_token"]

    # An item of the next page deleted in between is skipped, not a reason to lose others.
    delete(client, "docs", ["d3"])
    second = _fetch(client, "docs", limit=3, next_token=token).json()
    assert [item["id"] for item in second["items"]] == ["d4", "d5", "d6"]
    assert second["pagination"] == {"limit": 3, "has_more": False, "next_token": None}

    everything = _fetch(client, "docs").json()
    assert everything["pagination"]["limit"] == 100
    assert len(everything["items"]) == 6


def test_fetch_text_data_token_is_bound_to_its_key_and_namespace(
    emulator: EmulatorServer, client: httpx.Client
) -> None:
    seed_text(emulator, "docs", ["a", "b"])
    seed_text(emulator, "other", ["c", "d"])
    seed_text(emulator, "theirs", ["e", "f"], key=OTHER_KEY)
    token = _fetch(client, "docs", limit=1).json()["pagination"]["next_token"]
    assert _fetch(client, "docs", limit=1, next_token=token).status_code == 200
    foreign = _fetch(client, "other", limit=1, next_token=token)
    assert foreign.status_code == 400
    assert foreign.json()["status"] == "failure"
    with httpx.Client(base_url=emulator.url, headers={"x-api-key": OTHER_KEY}) as other:
        assert _fetch(other, "theirs", limit=1, next_token=token).status_code == 400
    assert _fetch(client, "docs", next_token="not-a-token").status_code == 400


@pytest.mark.parametrize("limit", ["0", "101", "ten", "-1"])
def test_fetch_text_data_limit_outside_1_to_100_is_400(
    emulator: EmulatorServer, client: httpx.Client, limit: str
) -> None:
    seed_text(emulator, "docs", ["a"])
    response = _fetch(client, "docs", limit=limit)
    assert response.status_code == 400
    assert response.json()["message"].startswith("Bad Request: ")


def test_fetch_text_data_on_a_vector_namespace_is_400_and_unknown_is_404(
    emulator: EmulatorServer, client: httpx.Client
) -> None:
    seed_vectors(emulator, "vecs", ["v"])
    assert _fetch(client, "vecs").status_code == 400
    missing = _fetch(client, "nope")
    assert missing.status_code == 404
    assert missing.json() == {"status": "failure", "message": "Namespace 'nope' not found."}


# -- pending ingestion (§4.12) --------------------------------------------------------------


def test_uploaded_text_is_invisible_to_reads_until_ingested_but_deletable(
    emulator: EmulatorServer, client: httpx.Client, control: httpx.Client
) -> None:
    control.post("/config", json={"ingestion_delay_seconds": 0.4})
    client.post("/namespaces", json={"namespace_name": "docs", "type": "text"})
    client.post(
        "/namespaces/docs/documents",
        json={"documents": [{"id": "new", "text": "fresh"}, {"id": "gone", "text": "soon"}]},
    )
    pending = client.post("/namespaces/docs/documents/get", json={"ids": ["new"]})
    assert pending.status_code == 207
    assert pending.json()["not_found_ids"] == ["new"]
    assert _fetch(client, "docs").json()["items"] == []
    assert client.get("/namespaces").json()["namespaces"][0]["itemCount"] == 2
    assert delete(client, "docs", ["gone"]).json()["actual_deletions"] == 1
    time.sleep(0.45)
    ingested = client.post("/namespaces/docs/documents/get", json={"ids": ["new"]})
    assert ingested.status_code == 200
    assert [item["id"] for item in _fetch(client, "docs").json()["items"]] == ["new"]


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


def test_duplicates_count_twice_counts_repeats_in_requested_deletions(
    emulator: EmulatorServer, client: httpx.Client, control: httpx.Client
) -> None:
    seed_text(emulator, "docs", ["1", "2"])
    control.post("/config", json={"duplicates": "count_twice"})
    body = delete(client, "docs", [1, "1", "2"]).json()
    assert body["requested_deletions"] == 3
    assert body["requested_ids"] == ["1", "1", "2"]
    assert body["actual_deletions"] == 2


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


def test_partial_shape_sdk_answers_deleted_ids_and_errors(
    emulator: EmulatorServer, client: httpx.Client, control: httpx.Client
) -> None:
    ids = [f"id{i}" for i in range(6)]
    seed_text(emulator, "docs", ids)
    control.post("/config", json={"partial_shape": "sdk"})
    emulator.store.add_fault_next("docs", "partial")
    response = delete(client, "docs", ids)
    body = response.json()
    assert response.status_code == 207
    assert set(body) == {"status", "deleted_ids", "errors", "actual_deletions"}
    assert body["status"] == "partial"
    failed = [error["id"] for error in body["errors"]]
    assert failed and all(error["error"] for error in body["errors"])
    assert sorted(body["deleted_ids"] + failed) == ids
    assert body["actual_deletions"] == len(body["deleted_ids"])
    assert emulator.store.ids("docs") == sorted(failed)


def test_subscription_expired_fault_is_429_with_the_expired_body(
    emulator: EmulatorServer, client: httpx.Client
) -> None:
    seed_text(emulator, "docs", ["a"])
    emulator.store.add_fault_next("docs", "subscription_expired", retry_after=None)
    response = delete(client, "docs", ["a"])
    assert response.status_code == 429
    assert "Retry-After" not in response.headers
    assert response.json()["message"].startswith("Your Community subscription expired on ")
    assert set(response.json()) == {"status", "message"}


def test_rate_limit_retry_after_http_date_style_is_that_many_seconds_ahead(
    emulator: EmulatorServer, client: httpx.Client, control: httpx.Client
) -> None:
    seed_text(emulator, "docs", ["a"])
    control.post(
        "/faults/next",
        json={
            "namespace": "*",
            "fault": "rate_limit",
            "retry_after": 120,
            "retry_after_style": "http-date",
        },
    )
    response = delete(client, "docs", ["a"])
    ahead = parsedate_to_datetime(response.headers["Retry-After"]) - datetime.now(UTC)
    assert 100 < ahead.total_seconds() <= 121


def test_server_error_has_retry_after_only_when_asked(
    emulator: EmulatorServer, client: httpx.Client
) -> None:
    seed_text(emulator, "docs", ["a"])
    emulator.store.add_fault_next("docs", "server_error")
    emulator.store.add_fault_next("docs", "server_error", retry_after=0.5)
    assert "Retry-After" not in delete(client, "docs", ["a"]).headers
    assert delete(client, "docs", ["a"]).headers["Retry-After"] == "0.5"


def test_forbidden_fault_is_403_and_deletes_nothing(
    emulator: EmulatorServer, client: httpx.Client
) -> None:
    seed_text(emulator, "docs", ["a"])
    emulator.store.add_fault_next("docs", "forbidden")
    response = delete(client, "docs", ["a"])
    assert response.status_code == 403
    assert response.json() == {"status": "failure", "message": "Forbidden"}
    assert emulator.store.ids("docs") == ["a"]


def test_drop_fault_closes_the_connection_unanswered_and_applies_nothing(
    emulator: EmulatorServer, client: httpx.Client, control: httpx.Client
) -> None:
    seed_text(emulator, "docs", ["a"])
    control.post("/faults/next", json={"namespace": "docs", "fault": "drop"})
    with pytest.raises(httpx.RemoteProtocolError):
        delete(client, "docs", ["a"])
    assert emulator.store.ids("docs") == ["a"]
    assert control.get("/calls").json()["calls"][-1] == {
        "method": "POST",
        "path": "/v1/namespaces/docs/documents/delete",
        "status": None,
        "ids_count": 1,
        "fault": "drop",
    }
    assert delete(client, "docs", ["a"]).status_code == 200


def test_delete_then_drop_applies_then_closes_unanswered(
    emulator: EmulatorServer, client: httpx.Client
) -> None:
    seed_text(emulator, "docs", ["a", "b"])
    emulator.store.add_fault_next("docs", "delete_then_drop")
    with pytest.raises(httpx.RemoteProtocolError):
        delete(client, "docs", ["a"])
    assert emulator.store.ids("docs") == ["b"]
    assert emulator.store.calls()[-1]["status"] is None


def test_slow_fault_applies_but_answers_late_without_blocking_others(
    emulator: EmulatorServer, control: httpx.Client
) -> None:
    seed_text(emulator, "docs", ["a", "b"])
    control.post("/faults/next", json={"namespace": "docs", "fault": "slow", "slow_seconds": 1.0})
    headers = {"x-api-key": API_KEY}
    with httpx.Client(base_url=emulator.url, headers=headers, timeout=0.3) as impatient:
        with pytest.raises(httpx.ReadTimeout):
            delete(impatient, "docs", ["a"])
        # The slow answer is still pending on the server; another connection is served now.
        started = time.perf_counter()
        assert delete(impatient, "docs", ["b"]).status_code == 200
        assert time.perf_counter() - started < 0.25
    assert emulator.store.ids("docs") == []
    assert [call["fault"] for call in emulator.store.calls()] == ["slow", None]


def test_slow_fault_without_its_own_delay_uses_the_configured_slow_seconds(
    emulator: EmulatorServer, client: httpx.Client, control: httpx.Client
) -> None:
    seed_text(emulator, "docs", ["a"])
    assert control.get("/config").json()["slow_seconds"] == 35.0
    control.post("/config", json={"slow_seconds": 0.4})
    emulator.store.add_fault_next("docs", "slow")
    started = time.perf_counter()
    assert delete(client, "docs", ["a"]).status_code == 200
    assert time.perf_counter() - started >= 0.4


def test_fault_endpoint_filter_defaults_to_delete_and_can_target_get_or_any(
    emulator: EmulatorServer, client: httpx.Client
) -> None:
    seed_text(emulator, "docs", ["a", "b"])
    store = emulator.store
    store.add_fault_next("docs", "server_error")
    assert client.post("/namespaces/docs/documents/get", json={"ids": ["a"]}).status_code == 200
    assert delete(client, "docs", ["a"]).status_code == 500
    store.add_fault_next("docs", "server_error", endpoint="get")
    assert delete(client, "docs", ["a"]).status_code == 200
    get = client.post("/namespaces/docs/documents/get", json={"ids": ["b"]})
    assert get.status_code == 500
    assert get.json()["message"] == "Internal Server Error fetching documents."
    store.add_fault_next("*", "rate_limit", endpoint="any")
    assert client.get("/namespaces").status_code == 429


def test_partial_fault_on_get_withholds_found_items_as_not_found(
    emulator: EmulatorServer, client: httpx.Client
) -> None:
    ids = [f"id{i}" for i in range(5)]
    seed_text(emulator, "docs", ids)
    emulator.store.add_fault_next("docs", "partial", endpoint="get")
    response = client.post("/namespaces/docs/documents/get", json={"ids": ids})
    body = response.json()
    assert response.status_code == 207
    found = [item["id"] for item in body["items"]]
    assert 1 <= len(body["not_found_ids"]) < 5
    assert sorted(found + body["not_found_ids"]) == ids
    assert emulator.store.ids("docs") == ids


def test_probabilities_can_be_set_for_new_fault_types_and_endpoints(
    emulator: EmulatorServer, client: httpx.Client, control: httpx.Client
) -> None:
    seed_text(emulator, "docs", ["a"])
    response = control.post(
        "/faults",
        json={"namespace": "docs", "endpoint": "get", "probabilities": {"forbidden": 1.0}},
    )
    assert response.status_code == 200
    assert client.post("/namespaces/docs/documents/get", json={"ids": ["a"]}).status_code == 403
    assert delete(client, "docs", ["a"]).status_code == 200
    assert control.get("/faults").json()["probabilities"] == [
        {
            "namespace": "docs",
            "endpoint": "get",
            "probabilities": {"forbidden": 1.0},
            "retry_after": "default",
            "retry_after_style": "seconds",
            "slow_seconds": None,
        }
    ]


def test_drawn_drops_are_reproducible_for_a_seed() -> None:
    def outcomes(seed: int) -> list[str]:
        with EmulatorServer(seed=seed, faults=["docs:drop=0.3", "docs:slow=0.2"]) as server:
            server.store.slow_seconds = 0.0
            seed_text(server, "docs", list(range(30)), key="emulator-key")
            with httpx.Client(base_url=server.url, headers={"x-api-key": "emulator-key"}) as c:
                for i in range(30):
                    with contextlib.suppress(httpx.RemoteProtocolError):
                        delete(c, "docs", [i])
            return [str(call["fault"]) for call in server.store.calls()]

    first = outcomes(5)
    assert {"drop", "slow", "None"} == set(first)
    assert first == outcomes(5)


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
                "fault": None,
            },
            {
                "method": "GET",
                "path": "/v1/namespaces",
                "status": 401,
                "ids_count": 0,
                "fault": None,
            },
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


def test_latency_counts_from_the_request_s_arrival_the_store_s_work_included(
    emulator: EmulatorServer, client: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_text(emulator, "docs", list(range(10)))
    emulator.latency_ms = 400
    act = emulator.store.delete_items

    def slow_delete(**kwargs):
        time.sleep(0.25)  # the store's work, on the event loop
        return act(**kwargs)

    monkeypatch.setattr(emulator.store, "delete_items", slow_delete)
    started = time.perf_counter()
    assert delete(client, "docs", [1]).status_code == 200
    elapsed = time.perf_counter() - started
    # Answered 400 ms after it arrived, the 250 ms of work within them (not 650 ms).
    assert 0.4 <= elapsed < 0.6
    # Work that takes longer than the latency answers when it is done, never sooner.
    emulator.latency_ms = 100
    started = time.perf_counter()
    assert delete(client, "docs", [2]).status_code == 200
    assert 0.25 <= time.perf_counter() - started < 0.45


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


def test_onprem_namespace_delete_is_a_202_job_that_can_be_polled(
    onprem: EmulatorServer, onprem_client: httpx.Client
) -> None:
    onprem.store.seed(
        namespaces=[{"name": "docs", "type": "text", "items": [{"id": "a"}, {"id": "b"}]}]
    )
    response = onprem_client.delete("/namespaces/docs")
    assert response.status_code == 202
    job_id = response.json()["job_id"]
    assert response.json()["namespace_name"] == "docs"
    job = onprem_client.get(f"/namespaces/docs/delete-jobs/{job_id}").json()
    assert job["status"] == "completed"
    assert (job["job_id"], job["total_items"], job["deleted_items"]) == (job_id, 2, 2)
    assert {"last_error", "started_at", "updated_at", "finished_at"} <= job.keys()
    assert not onprem.store.has_namespace("docs")
    assert onprem_client.get("/namespaces/docs/delete-jobs/job_999").status_code == 404
    assert onprem_client.delete("/namespaces/docs").status_code == 404


def test_onprem_upload_job_runs_until_the_text_is_ingested(
    onprem: EmulatorServer, onprem_client: httpx.Client
) -> None:
    onprem.store.ingestion_delay_seconds = 0.3
    onprem_client.post("/namespaces", json={"namespace_name": "docs", "type": "text"})
    upload = onprem_client.post(
        "/namespaces/docs/documents", json={"documents": [{"id": "a", "text": "hello"}]}
    )
    assert upload.status_code == 202
    path = f"/namespaces/docs/upload-jobs/{upload.json()['job_id']}"
    assert onprem_client.get(path).json()["status"] == "running"
    assert (
        onprem_client.post("/namespaces/docs/items/get", json={"ids": ["a"]}).json()["items"] == []
    )
    time.sleep(0.35)
    job = onprem_client.get(path).json()
    assert (job["status"], job["total_items"], job["processed_items"]) == ("completed", 1, 1)
    assert (
        onprem_client.post("/namespaces/docs/items/get", json={"ids": ["a"]}).json()["found_items"]
        == 1
    )


def test_onprem_upload_beyond_the_global_cap_is_409() -> None:
    with EmulatorServer(flavor="onprem", onprem_max_items=2) as server:
        server.store.seed(namespaces=[{"name": "docs", "type": "text", "items": [{"id": "a"}]}])
        with httpx.Client(base_url=server.url) as c:
            documents = [{"id": i, "text": "some text"} for i in ("a", "b", "c")]
            response = c.post("/namespaces/docs/documents", json={"documents": documents})
    assert response.status_code == 409
    assert response.json() == {
        "status": "failure",
        "message": "Item limit exceeded.",
        "items": 1,
        "max_items": 2,
        "requested_new": 2,
    }


def test_onprem_fetch_text_data_pages_without_auth(
    onprem: EmulatorServer, onprem_client: httpx.Client
) -> None:
    onprem.store.seed(
        namespaces=[
            {"name": "docs", "type": "text", "items": [{"id": i, "text": i} for i in "abc"]},
            {"name": "more", "type": "text", "items": [{"id": "d", "text": "d"}]},
        ]
    )
    first = _fetch(onprem_client, "docs", limit=2).json()
    token = first["pagination"]["next_token"]
    rest = _fetch(onprem_client, "docs", limit=2, next_token=token).json()
    assert [i["id"] for i in first["items"] + rest["items"]] == ["a", "b", "c"]
    assert _fetch(onprem_client, "more", next_token=token).status_code == 400


def test_onprem_takes_transport_faults_but_refuses_207_and_429(
    onprem: EmulatorServer, onprem_client: httpx.Client
) -> None:
    onprem.store.seed(namespaces=[{"name": "docs", "type": "text", "items": [{"id": "a"}]}])
    with httpx.Client(base_url=f"{onprem.base_url}/_emulator") as control:
        for fault in ("partial", "rate_limit", "subscription_expired", "forbidden"):
            refused = control.post("/faults/next", json={"namespace": "*", "fault": fault})
            assert refused.status_code == 400
        control.post("/faults/next", json={"namespace": "docs", "fault": "delete_then_error"})
        control.post("/faults/next", json={"namespace": "docs", "fault": "drop", "endpoint": "get"})
    items = "/namespaces/docs/items"
    assert onprem_client.post(f"{items}/delete", json={"ids": ["a"]}).status_code == 500
    assert onprem.store.ids("docs") == []
    with pytest.raises(httpx.RemoteProtocolError):
        onprem_client.post(f"{items}/get", json={"ids": ["a"]})


# -- start-up configuration and the command line -------------------------------------------


def test_startup_settings_and_faults_apply_and_survive_reset() -> None:
    with (
        EmulatorServer(
            api_keys=[API_KEY],
            faults=["docs:server_error=1.0", "*:forbidden@get=1"],
            partial_shape="sdk",
            list_casing="snake",
            latency_ms=1,
        ) as server,
        httpx.Client(base_url=f"{server.base_url}/_emulator") as control,
    ):
        control.post("/config", json={"list_casing": "camel", "latency_ms": 0})
        control.post("/faults/clear")
        control.post("/reset")
        config = control.get("/config").json()
        faults = control.get("/faults").json()["probabilities"]
    assert (config["partial_shape"], config["list_casing"], config["latency_ms"]) == (
        "sdk",
        "snake",
        1,
    )
    assert [(f["namespace"], f["endpoint"], f["probabilities"]) for f in faults] == [
        ("docs", "delete", {"server_error": 1.0}),
        ("*", "get", {"forbidden": 1.0}),
    ]


@pytest.mark.parametrize(
    "settings",
    [
        {"list_casing": "kebab"},
        {"nonsense": 1},
        {"slow_seconds": -1},
        {"latency_ms": "fast"},
        {"disabled_api_keys": "one-key"},
        {"flavor": "onprem"},
    ],
)
def test_bad_config_is_400_and_changes_nothing(
    control: httpx.Client, settings: dict[str, Any]
) -> None:
    before = control.get("/config").json()
    response = control.post("/config", json={"list_casing": "snake", **settings})
    assert response.status_code == 400
    assert control.get("/config").json() == before


@pytest.mark.parametrize(
    ("spec", "parsed"),
    [
        ("docs:partial=0.25", ("docs", "partial", "delete", 0.25)),
        ("*:forbidden@get=1", ("*", "forbidden", "get", 1.0)),
    ],
)
def test_fault_specs_parse(spec: str, parsed: tuple[str, str, str, float]) -> None:
    assert parse_fault_spec(spec) == parsed


@pytest.mark.parametrize("spec", ["docs=0.1", ":partial=0.1", "docs:partial", "docs:partial=x"])
def test_malformed_fault_specs_are_refused(spec: str) -> None:
    with pytest.raises(ValueError, match="NAMESPACE:FAULT"):
        EmulatorStore(faults=[spec])


def test_management_command_passes_its_options_to_the_emulator() -> None:
    command = [
        sys.executable,
        "manage.py",
        "namespace_emulator",
        "--port=0",
        "--api-key=cli-key",
        "--disabled-api-key=old-key",
        "--fault=*:drop@any=0.5",
        "--fault=docs:partial=0.25",
        "--partial-shape=sdk",
        "--get-missing=200",
        "--list-casing=snake",
        "--wrong-kind-mode=agnostic",
        "--slow-seconds=2.5",
        "--seed=9",
    ]
    process = subprocess.Popen(command, cwd=ROOT, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stderr is not None
        # Django and procrastinate may log first; the banner names the bound port.
        url = None
        for line in process.stderr:
            if url := re.search(r"on (http://\S+/v1);", line):
                break
        assert url, "no banner before the command ended"
        root = url.group(1).removesuffix("/v1")
        config = httpx.get(f"{root}/_emulator/config").json()
        faults = httpx.get(f"{root}/_emulator/faults").json()["probabilities"]
        disabled = httpx.get(f"{url.group(1)}/namespaces", headers={"x-api-key": "old-key"})
    finally:
        process.terminate()
        process.communicate(timeout=10)
    assert config["api_keys"] == ["cli-key"]
    assert config["disabled_api_keys"] == ["old-key"]
    assert (config["partial_shape"], config["get_missing"]) == ("sdk", "200")
    assert (config["list_casing"], config["wrong_kind_mode"]) == ("snake", "agnostic")
    assert config["slow_seconds"] == 2.5
    assert {(f["namespace"], f["endpoint"]) for f in faults} == {("*", "any"), ("docs", "delete")}
    assert disabled.json() == {"message": "Unauthorized: API key is disabled"}


def test_management_command_refuses_a_malformed_fault() -> None:
    completed = subprocess.run(
        [sys.executable, "manage.py", "namespace_emulator", "--port=0", "--fault=oops"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode != 0
    assert "NAMESPACE:FAULT" in completed.stderr
