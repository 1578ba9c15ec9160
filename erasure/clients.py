"""The namespace API client of this deployment, built from settings.

Every caller that talks to the namespace API (execution, namespace discovery, the demo
seed) gets its client here, so that one place decides the URL, key, flavour, timeout and
the shared throttle.
"""

from __future__ import annotations

from django.conf import settings

from erasure.throttle import PgThrottle
from namespace_api.client import NamespaceApiClient


def make_client() -> NamespaceApiClient:
    """A client configured from settings (read at call time, never at import)."""
    return NamespaceApiClient(
        base_url=settings.NAMESPACE_API_URL,
        api_key=settings.NAMESPACE_API_KEY,
        flavor=settings.NAMESPACE_API_FLAVOR,
        timeout=settings.NAMESPACE_API_TIMEOUT,
        throttle=PgThrottle.from_settings(),
    )
