"""The namespace APIs this deployment reaches, by name (config/namespace_apis.py).

The default API comes from the `NAMESPACE_API_*` settings, read at call time (so that a
test or a deployment overriding them is followed); the others from `NAMESPACE_APIS`. A
namespace belongs to one API (`Namespace.api`); a name may exist in two.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from config.namespace_apis import NAME_PATTERN
from erasure.errors import InvalidInput


class ApiKeyMissing(Exception):
    """The key an API's configuration names cannot be read (its variable is unset, its
    file is missing or empty): nothing can be sent to that API."""


@dataclass(frozen=True)
class ApiConfig:
    name: str
    url: str
    flavor: str
    max_in_flight: int
    calls_per_second: float
    timeout: float
    key_env: str = ""
    key_file: str = ""
    # The default API's key, from NAMESPACE_API_KEY (a setting, like every other secret).
    key_value: str = ""

    def key(self) -> str:
        """The API key, read now (ApiKeyMissing when it cannot be); never logged."""
        if self.key_value:
            return self.key_value
        if not self.key_env and not self.key_file:
            return ""  # an on-prem API: no key
        if self.key_env:
            value = os.environ.get(self.key_env, "").strip()
            if not value:
                raise ApiKeyMissing(f"API {self.name}: the variable {self.key_env} is not set")
            return value
        try:
            value = Path(self.key_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ApiKeyMissing(
                f"API {self.name}: the key file {self.key_file} cannot be read ({exc.strerror})"
            ) from exc
        if not value:
            raise ApiKeyMissing(f"API {self.name}: the key file {self.key_file} is empty")
        return value

    @property
    def key_source(self) -> str:
        """Where the key comes from, for people (never the key)."""
        if self.key_value:
            return "NAMESPACE_API_KEY"
        if not self.key_env and not self.key_file:
            return "no key (on-prem)"
        return f"${self.key_env}" if self.key_env else self.key_file


def default_api_name() -> str:
    return settings.NAMESPACE_API_NAME


def namespace_label(api: str, name: str) -> str:
    """How people see a namespace: its name, after its API's unless that is the default
    API (`onprem/notes`). A one-API deployment sees plain names."""
    return name if api == default_api_name() else f"{api}/{name}"


def namespace_label_sql(alias: str) -> str:
    """`namespace_label` in SQL, for a namespace row aliased `alias`. The default API's name
    goes in as a literal: NAME_PATTERN, which every API name is checked against, allows no
    quote."""
    default = default_api_name()
    if not NAME_PATTERN.match(default):
        raise ValueError(f"not an API name: {default!r}")
    return (
        f"CASE WHEN {alias}.api = '{default}' THEN {alias}.name "
        f"ELSE {alias}.api || '/' || {alias}.name END"
    )


def apis() -> dict[str, ApiConfig]:
    """Every configured API by name, the default one first."""
    default = ApiConfig(
        name=settings.NAMESPACE_API_NAME,
        url=settings.NAMESPACE_API_URL,
        flavor=settings.NAMESPACE_API_FLAVOR,
        max_in_flight=settings.NAMESPACE_API_MAX_IN_FLIGHT,
        calls_per_second=settings.NAMESPACE_API_CALLS_PER_SECOND,
        timeout=settings.NAMESPACE_API_TIMEOUT,
        key_value=settings.NAMESPACE_API_KEY,
    )
    found = {default.name: default}
    for name, spec in settings.NAMESPACE_APIS.items():
        found[name] = ApiConfig(
            name=name,
            url=spec["url"],
            flavor=spec["flavor"],
            max_in_flight=spec["max_in_flight"],
            calls_per_second=spec["calls_per_second"],
            timeout=spec["timeout"] or settings.NAMESPACE_API_TIMEOUT,
            key_env=spec["key_env"],
            key_file=spec["key_file"],
        )
    return found


def api_get(name: str | None) -> ApiConfig:
    """The API named `name` (empty or None: the default one); InvalidInput when no API of
    that name is configured."""
    configured = apis()
    wanted = name or default_api_name()
    try:
        return configured[wanted]
    except KeyError:
        raise InvalidInput(
            f"no namespace API named {wanted[:64]!r} is configured (configured: "
            f"{', '.join(configured)})",
            fields={"api": ["unknown API"]},
        ) from None
