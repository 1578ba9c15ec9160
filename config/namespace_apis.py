"""More namespace APIs than the default one: their configuration, read at start-up.

The default API is the one `NAMESPACE_API_URL`, `NAMESPACE_API_KEY`, `NAMESPACE_API_FLAVOR`,
`NAMESPACE_API_MAX_IN_FLIGHT` and `NAMESPACE_API_CALLS_PER_SECOND` describe, named by
`NAMESPACE_API_NAME` ("default"). Others are described by `NAMESPACE_APIS`, TOML or JSON
(or `NAMESPACE_APIS_FILE`, a file holding it, like every setting), one table per API:

    [eu-cloud]
    url = "https://api.example.eu/v1"
    flavor = "cloud"                       # or "onprem"
    key_env = "MOORCHEH_EU_KEY"            # the key is read from this variable...
    # key_file = "/etc/erasure/eu.key"     # ...or from this file; never written anywhere
                                           # (an on-prem API takes no key)
    max_in_flight = 8
    calls_per_second = 0                   # 0: no rate limit
    timeout = 30

Only references to keys are configuration; the keys are read when a client is made, so
that a rotated key file is picked up without a restart of the web process.
"""

from __future__ import annotations

import json
import re
import tomllib
from typing import Any

from django.core.exceptions import ImproperlyConfigured

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
FLAVORS = ("cloud", "onprem")
FIELDS = {"url", "flavor", "key_env", "key_file", "max_in_flight", "calls_per_second", "timeout"}


def namespace_apis_parse(text: str, *, default_name: str = "default") -> dict[str, dict[str, Any]]:
    """The extra APIs by name, from TOML or JSON text, each checked (ImproperlyConfigured
    names what is wrong)."""
    if not text.strip():
        return {}
    try:
        raw: Any = json.loads(text) if text.lstrip().startswith("{") else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ImproperlyConfigured(f"NAMESPACE_APIS is neither TOML nor JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise ImproperlyConfigured("NAMESPACE_APIS must map API names to their settings")
    return {
        name: _checked("NAMESPACE_APIS", name, spec, default_name=default_name)
        for name, spec in raw.items()
    }


def _checked(source: str, name: str, spec: Any, *, default_name: str) -> dict[str, Any]:
    where = f"{source}, API {name!r}"
    if not NAME_PATTERN.match(name):
        raise ImproperlyConfigured(
            f"{where}: a name is 1-64 characters of a-z, 0-9, '_', '.', '-', "
            "starting with a letter or digit"
        )
    if name == default_name:
        raise ImproperlyConfigured(
            f"{where}: {name!r} is the default API's name (NAMESPACE_API_NAME), which the "
            "NAMESPACE_API_* variables describe"
        )
    if not isinstance(spec, dict):
        raise ImproperlyConfigured(f"{where}: must be a table of settings")
    unknown = sorted(set(spec) - FIELDS)
    if unknown:
        raise ImproperlyConfigured(
            f"{where}: unknown settings {', '.join(unknown)} (known: {', '.join(sorted(FIELDS))})"
        )
    url = spec.get("url")
    if not isinstance(url, str) or not re.match(r"^https?://[^\s/]+", url):
        raise ImproperlyConfigured(f"{where}: url must be an http(s) URL")
    flavor = spec.get("flavor", "cloud")
    if flavor not in FLAVORS:
        raise ImproperlyConfigured(f"{where}: flavor must be one of {', '.join(FLAVORS)}")
    key_env, key_file = spec.get("key_env", ""), spec.get("key_file", "")
    if not isinstance(key_env, str) or not isinstance(key_file, str):
        raise ImproperlyConfigured(f"{where}: key_env and key_file are strings")
    if flavor == "onprem" and (key_env or key_file):
        raise ImproperlyConfigured(
            f"{where}: the on-prem API takes no key (it authenticates nothing); remove "
            "key_env and key_file"
        )
    if flavor == "cloud" and bool(key_env) == bool(key_file):
        raise ImproperlyConfigured(
            f"{where}: name its key by exactly one of key_env (a variable) or key_file "
            "(a path); the key itself is never configuration"
        )
    return {
        "url": url.rstrip("/"),
        "flavor": flavor,
        "key_env": key_env,
        "key_file": key_file,
        "max_in_flight": _number(where, spec, "max_in_flight", 8, int, minimum=1),
        "calls_per_second": _number(where, spec, "calls_per_second", 0.0, float, minimum=0),
        "timeout": _number(where, spec, "timeout", None, float, minimum=0.1),
    }


def _number(where: str, spec: dict, field: str, default: Any, kind: type, *, minimum: float):
    value = spec.get(field, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ImproperlyConfigured(f"{where}: {field} must be a number")
    if kind is int and value != int(value):
        raise ImproperlyConfigured(f"{where}: {field} must be a whole number")
    if value < minimum:
        raise ImproperlyConfigured(f"{where}: {field} must be at least {minimum:g}")
    return kind(value)
