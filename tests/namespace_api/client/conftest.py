"""Fixtures of the client tests: one emulator per flavour and test module, reset per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from namespace_api.emulator import EmulatorServer
from tests.namespace_api.client.helpers import KEY, Harness


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
