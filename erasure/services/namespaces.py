"""The namespaces we know of, synchronised from the namespace API's own list."""

from __future__ import annotations

from django.db import transaction

from erasure.models import Namespace, NamespaceKind
from erasure.services.execution import make_client


def namespaces_sync() -> list[Namespace]:
    """Add the namespaces the API lists that we do not know yet; returns those added.

    Kinds of known namespaces are refreshed too (a namespace deleted and re-created under
    the same name may change kind). Attribution modes set by an operator are kept.
    """
    with make_client() as client:
        listed = client.list_namespaces()
    added = []
    with transaction.atomic():
        known = {ns.name: ns for ns in Namespace.objects.select_for_update()}
        for info in listed:
            if info.kind not in NamespaceKind.values:
                continue
            current = known.get(info.name)
            if current is None:
                added.append(
                    Namespace.objects.create(
                        name=info.name,
                        kind=info.kind,
                        attribution_mode=Namespace.default_mode(info.kind),
                    )
                )
            elif current.kind != info.kind:
                current.kind = info.kind
                current.attribution_mode = Namespace.default_mode(info.kind)
                current.save(update_fields=["kind", "attribution_mode"])
    return added
