"""The namespace API clients of this deployment, built from settings (erasure.apis).

Every caller that talks to a namespace API (execution, scans, re-checks, replays, namespace
discovery, the demo seed) gets its client here, so that one place decides the URL, key,
flavour, timeout and the shared throttle of each API.
"""

from __future__ import annotations

from types import TracebackType

from erasure.apis import ApiConfig, api_get, default_api_name
from erasure.models import Namespace
from erasure.throttle import PgThrottle
from namespace_api.client import NamespaceApiClient


def make_client(api: str | None = None) -> NamespaceApiClient:
    """A client of the API named `api` (None: the default one), configured from settings
    read at call time, never at import. ApiKeyMissing when its key cannot be read."""
    return client_of(api_get(api))


def client_of(config: ApiConfig) -> NamespaceApiClient:
    return NamespaceApiClient(
        base_url=config.url,
        api_key=config.key(),
        flavor=config.flavor,
        timeout=config.timeout,
        throttle=PgThrottle.for_api(config),
    )


class ApiClients:
    """One client per API, made when first needed and closed together: for work that
    spans namespaces of several APIs. `given` (a caller's own client, which it closes)
    serves the default API."""

    def __init__(self, given: NamespaceApiClient | None = None) -> None:
        self._clients: dict[str, NamespaceApiClient] = {}
        self._given = given

    def for_namespace(self, namespace: Namespace) -> NamespaceApiClient:
        return self.get(namespace.api)

    def get(self, api: str) -> NamespaceApiClient:
        if self._given is not None and api == default_api_name():
            return self._given
        client = self._clients.get(api)
        if client is None:
            client = self._clients[api] = client_of(api_get(api))
        return client

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
        self._clients.clear()

    def __enter__(self) -> ApiClients:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
