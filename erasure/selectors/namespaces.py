"""Reads about namespaces."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import QuerySet

from erasure.apis import api_get
from erasure.errors import InvalidInput, NotFound
from erasure.models import Namespace


def namespaces_list(*, api: str | None = None) -> QuerySet[Namespace]:
    """Every known namespace, or those of one API (InvalidInput for an unknown API)."""
    namespaces = Namespace.objects.order_by("name", "api")
    return namespaces.filter(api=api_get(api).name) if api else namespaces


def namespace_get(*, name: str, api: str | None = None) -> Namespace:
    """The namespace `name` of API `api` (None or empty: the default API)."""
    api_name = api_get(api).name
    # PostgreSQL text cannot hold NUL, so no namespace has one in its name; asking would
    # be an error of the database rather than a miss.
    if "\x00" in name:
        raise NotFound(f"no namespace named {name!r} is known")
    namespace = Namespace.objects.filter(api=api_name, name=name).first()
    if namespace is None:
        raise NotFound(f"no namespace named {name!r} is known in API {api_name}{_elsewhere(name)}")
    return namespace


def namespaces_named(names: Iterable[str], *, api: str | None = None) -> list[Namespace]:
    """The namespaces of one API by name, in the order given (InvalidInput naming the
    unknown ones)."""
    api_name = api_get(api).name
    wanted = list(dict.fromkeys(names))
    found = {ns.name: ns for ns in Namespace.objects.filter(api=api_name, name__in=wanted)}
    unknown = [name for name in wanted if name not in found]
    if unknown:
        raise InvalidInput(
            f"unknown namespace(s) in API {api_name}: {', '.join(unknown[:20])}"
            + (_elsewhere(unknown[0]) if len(unknown) == 1 else ""),
            fields={"namespaces": [f"unknown namespace {name!r}" for name in unknown[:20]]},
        )
    return [found[name] for name in wanted]


def _elsewhere(name: str) -> str:
    """A hint when the name is known in other APIs: the caller forgot to name the API."""
    others = sorted(Namespace.objects.filter(name=name).values_list("api", flat=True))
    if not others:
        return ""
    return f" (it is known in API {', '.join(others)}: name the API)"
