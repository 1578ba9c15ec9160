"""Reads about namespaces."""

from __future__ import annotations

from django.db.models import QuerySet

from erasure.errors import NotFound
from erasure.models import Namespace


def namespaces_list() -> QuerySet[Namespace]:
    return Namespace.objects.order_by("name")


def namespace_get(*, name: str) -> Namespace:
    # PostgreSQL text cannot hold NUL, so no namespace has one in its name; asking would
    # be an error of the database rather than a miss.
    namespace = None if "\x00" in name else Namespace.objects.filter(name=name).first()
    if namespace is None:
        raise NotFound(f"no namespace named {name!r} is known")
    return namespace
