"""Shared steps of the client tests: an emulator handle and clients of it.

Control goes through the emulator's HTTP endpoint. Sleeps of the retry policy are
recorded instead of slept (the client takes a `sleep` function), so the backoff decisions
are visible and the tests stay fast.
"""

from __future__ import annotations

from typing import Any

import httpx

from namespace_api.client import BatchResult, NamespaceApiClient, RetryPolicy
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


def outcomes(result: BatchResult) -> dict[str, str]:
    return {item_id: str(r.outcome) for item_id, r in result.results.items()}
