"""Emulator snapshots: "the vendor restored a backup, and erased items came back".

A test aid, not part of /work/shared/docs/namespace-api.md. Real HTTP on loopback to a
started EmulatorServer; the store is read directly only where no endpoint shows a field
(vectors, ``seq``, the summary flag).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest

from namespace_api.emulator import EmulatorServer

API_KEY = "key-a"


@pytest.fixture
def emulator() -> Iterator[EmulatorServer]:
    with EmulatorServer(api_keys=(API_KEY,), seed=7) as server:
        yield server


@pytest.fixture
def client(emulator: EmulatorServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emulator.url, headers={"x-api-key": API_KEY}, timeout=10) as c:
        yield c


@pytest.fixture
def control(emulator: EmulatorServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{emulator.base_url}/_emulator", timeout=30) as c:
        yield c


def seed(control: httpx.Client) -> None:
    """Two text items with metadata, a summary chunk, and two vectors: 2 namespaces, 5 items."""
    response = control.post(
        "/seed",
        json={
            "api_key": API_KEY,
            "namespaces": [
                {
                    "name": "docs",
                    "type": "text",
                    "items": [
                        {"id": "a", "text": "alpha", "metadata": {"tags": ["x"], "n": 1}},
                        {"id": "b", "text": "beta"},
                        {"id": "s", "text": "summary of a and b", "is_summary": True},
                    ],
                },
                {
                    "name": "vecs",
                    "type": "vector",
                    "vector_dimension": 2,
                    "items": [
                        {"id": "v1", "vector": [0.1, 0.2], "metadata": {"src": "a"}},
                        {"id": "v2", "vector": [0.3, 0.4]},
                    ],
                },
            ],
        },
    )
    assert response.status_code == 200


def snapshot(control: httpx.Client, name: str) -> httpx.Response:
    return control.post("/snapshots", json={"name": name})


def restore(control: httpx.Client, name: Any) -> httpx.Response:
    return control.post("/snapshots/restore", json={"name": name})


def ids(control: httpx.Client) -> dict[str, list[str]]:
    namespaces = control.get("/state").json()["namespaces"]
    return {name: ns["ids"] for name, ns in namespaces.items()}


def test_restore_brings_back_items_deleted_through_the_api_with_everything_they_held(
    emulator: EmulatorServer, client: httpx.Client, control: httpx.Client
) -> None:
    seed(control)
    originals = {
        (ns, item_id): emulator.store.item(ns, item_id)
        for ns, item_ids in ids(control).items()
        for item_id in item_ids
    }
    assert snapshot(control, "before-erasure").json() == {
        "status": "ok",
        "snapshot": "before-erasure",
        "namespaces": 2,
        "items": 5,
    }

    erased = client.post("/namespaces/docs/documents/delete", json={"ids": ["a", "b", "s"]})
    assert erased.json()["actual_deletions"] == 3
    erased = client.post("/namespaces/vecs/vectors/delete", json={"ids": ["v1", "v2"]})
    assert erased.json()["actual_deletions"] == 2
    assert ids(control) == {"docs": [], "vecs": []}

    assert restore(control, "before-erasure").json() == {
        "status": "ok",
        "snapshot": "before-erasure",
        "namespaces": 2,
        "items": 5,
    }
    assert ids(control) == {"docs": ["a", "b", "s"], "vecs": ["v1", "v2"]}
    got = client.post("/namespaces/docs/documents/get", json={"ids": ["a", "b"]})
    assert got.status_code == 200
    assert got.json()["items"] == [
        {"id": "a", "metadata": {"tags": ["x"], "n": 1}, "text": "alpha"},
        {"id": "b", "metadata": {}, "text": "beta"},
    ]
    for (ns, item_id), original in originals.items():
        restored = emulator.store.item(ns, item_id)
        assert restored == original
        assert restored is not original
    page = client.get("/namespaces/docs/documents/fetch-text-data", params={"limit": 10})
    assert [(item["id"], item["is_summary"]) for item in page.json()["items"]] == [
        ("a", False),
        ("b", False),
        ("s", True),
    ]


def test_restore_removes_what_was_added_since_and_brings_back_deleted_namespaces(
    client: httpx.Client, control: httpx.Client
) -> None:
    seed(control)
    state_at_snapshot = control.get("/state").json()
    snapshot(control, "backup")

    uploaded = client.post(
        "/namespaces/docs/documents", json={"documents": [{"id": "new", "text": "added later"}]}
    )
    assert uploaded.status_code == 202
    created = client.post("/namespaces", json={"namespace_name": "later", "type": "text"})
    assert created.status_code == 201
    assert client.delete("/namespaces/vecs").status_code == 202
    assert ids(control) == {"docs": ["a", "b", "new", "s"], "later": []}

    assert restore(control, "backup").status_code == 200
    assert control.get("/state").json() == state_at_snapshot
    listed = client.get("/namespaces").json()["namespaces"]
    assert sorted((ns["namespace_name"], ns["itemCount"]) for ns in listed) == [
        ("docs", 3),
        ("vecs", 2),
    ]
    missing = client.post("/namespaces/docs/documents/get", json={"ids": ["new"]})
    assert missing.json()["not_found_ids"] == ["new"]


def test_the_snapshot_is_not_changed_by_later_changes_nor_used_up_by_a_restore(
    emulator: EmulatorServer, client: httpx.Client, control: httpx.Client
) -> None:
    seed(control)
    snapshot(control, "backup")

    # The same id uploaded again, and the live item's metadata changed in place.
    client.post(
        "/namespaces/docs/documents",
        json={"documents": [{"id": "b", "text": "rewritten", "metadata": {"v": 2}}]},
    )
    live = emulator.store.item("docs", "a")
    assert live is not None and live.metadata is not None
    live.metadata["tags"].append("mutated")
    restore(control, "backup")

    # A restored item is a copy too: changing it must not reach the snapshot.
    restored = emulator.store.item("docs", "a")
    assert restored is not None and restored.metadata is not None
    restored.metadata["tags"].append("mutated-again")
    client.post("/namespaces/docs/documents/delete", json={"ids": ["a", "b"]})
    restore(control, "backup")

    got = client.post("/namespaces/docs/documents/get", json={"ids": ["a", "b"]})
    assert got.json()["items"] == [
        {"id": "a", "metadata": {"tags": ["x"], "n": 1}, "text": "alpha"},
        {"id": "b", "metadata": {}, "text": "beta"},
    ]


def test_restore_of_an_unknown_snapshot_is_400_and_changes_nothing(
    client: httpx.Client, control: httpx.Client
) -> None:
    seed(control)
    snapshot(control, "backup")
    client.post("/namespaces/docs/documents/delete", json={"ids": ["a"]})

    response = restore(control, "nope")
    assert response.status_code == 400
    assert response.json() == {
        "status": "failure",
        "message": "unknown snapshot 'nope'; taken: 'backup'",
    }
    assert ids(control)["docs"] == ["b", "s"]


@pytest.mark.parametrize("body", [{}, {"name": ""}, {"name": 3}])
def test_a_snapshot_needs_a_non_empty_string_name(control: httpx.Client, body: Any) -> None:
    for path in ("/snapshots", "/snapshots/restore"):
        response = control.post(path, json=body)
        assert response.status_code == 400
        assert response.json()["status"] == "failure"
    assert control.get("/snapshots").json() == {"snapshots": []}


def test_snapshots_are_listed_in_the_order_taken_and_a_name_taken_again_is_replaced(
    client: httpx.Client, control: httpx.Client
) -> None:
    assert control.get("/snapshots").json() == {"snapshots": []}
    seed(control)
    snapshot(control, "first")
    snapshot(control, "second")
    client.post("/namespaces/docs/documents/delete", json={"ids": ["a", "b"]})
    assert snapshot(control, "first").json()["items"] == 3

    listed = control.get("/snapshots").json()["snapshots"]
    assert [(s["name"], s["namespaces"], s["items"]) for s in listed] == [
        ("second", 2, 5),
        ("first", 2, 3),
    ]
    for entry in listed:
        assert entry.keys() == {"name", "namespaces", "items", "taken_at"}
        assert datetime.fromisoformat(entry["taken_at"]).tzinfo is not None
    restore(control, "first")
    assert ids(control)["docs"] == ["s"]


def test_reset_drops_snapshots(control: httpx.Client) -> None:
    seed(control)
    snapshot(control, "backup")

    assert control.post("/reset").status_code == 200
    assert control.get("/snapshots").json() == {"snapshots": []}
    assert restore(control, "backup").status_code == 400
    assert ids(control) == {}


def test_restore_leaves_faults_calls_keys_and_config_alone(
    emulator: EmulatorServer, client: httpx.Client, control: httpx.Client
) -> None:
    seed(control)
    snapshot(control, "backup")
    control.post("/faults/next", json={"namespace": "docs", "fault": "server_error"})
    control.post("/config", json={"get_items_key": "documents", "api_keys": [API_KEY, "key-c"]})
    client.get("/namespaces")
    before = (
        control.get("/faults").json(),
        control.get("/calls").json(),
        control.get("/config").json(),
    )

    assert restore(control, "backup").status_code == 200
    after = (
        control.get("/faults").json(),
        control.get("/calls").json(),
        control.get("/config").json(),
    )
    assert after == before
    faulted = client.post("/namespaces/docs/documents/delete", json={"ids": ["a"]})
    assert faulted.status_code == 500


def test_a_snapshot_taken_during_concurrent_deletes_is_never_torn(
    emulator: EmulatorServer, client: httpx.Client, control: httpx.Client
) -> None:
    count = 200
    emulator.store.seed(
        api_key=API_KEY,
        namespaces=[
            {
                "name": "docs",
                "type": "text",
                "items": [{"id": i, "text": "t"} for i in range(count)],
            }
        ],
    )

    def erase() -> None:
        # Its own client: httpx.Client is not shared across threads here.
        with httpx.Client(base_url=emulator.url, headers={"x-api-key": API_KEY}) as eraser:
            for i in range(count):
                eraser.post("/namespaces/docs/documents/delete", json={"ids": [i]})

    thread = threading.Thread(target=erase)
    thread.start()
    taken = [snapshot(control, f"s{n}").json()["items"] for n in range(30)]
    thread.join()

    assert taken == sorted(taken, reverse=True)
    for n, items in enumerate(taken):
        assert restore(control, f"s{n}").json()["items"] == items
        # Deletes run in id order, so a consistent copy holds exactly the last ``items`` ids.
        assert sorted(map(int, ids(control)["docs"])) == list(range(count - items, count))


def test_snapshots_work_in_the_onprem_flavour() -> None:
    with (
        EmulatorServer(flavor="onprem") as server,
        httpx.Client(base_url=server.base_url, timeout=10) as http,
    ):
        http.post(
            "/_emulator/seed",
            json={"namespaces": [{"name": "docs", "type": "text", "items": [{"id": "a"}]}]},
        )
        http.post("/_emulator/snapshots", json={"name": "backup"})
        erased = http.post("/namespaces/docs/items/delete", json={"ids": ["a"]})
        assert erased.status_code == 200
        assert server.store.ids("docs") == []

        restored = http.post("/_emulator/snapshots/restore", json={"name": "backup"})
        assert restored.json() == {
            "status": "ok",
            "snapshot": "backup",
            "namespaces": 1,
            "items": 1,
        }
        assert server.store.ids("docs") == ["a"]
