"""The namespaces we know of, synchronised from the namespace API's own list."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from erasure.actors import Actor
from erasure.clients import make_client
from erasure.errors import Conflict, InvalidInput, NotFound
from erasure.models import AttributionMode, AuditEventType, Namespace, NamespaceKind
from erasure.services.audit import audit_record


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


def namespace_set_mode(*, namespace: Namespace, mode: str, actor: Actor) -> Namespace:
    """Set how outcomes are attributed in `namespace` (AttributionMode), with an audit
    event in the same transaction; setting the mode it already has records nothing.

    The mode applies to the batches sent from then on: items already decided keep their
    outcome.
    """
    if mode not in AttributionMode.values:
        raise InvalidInput(
            f"attribution_mode must be one of {', '.join(AttributionMode.values)}",
            fields={"attribution_mode": ["invalid choice"]},
        )
    with transaction.atomic():
        locked = Namespace.objects.select_for_update().filter(pk=namespace.pk).first()
        if locked is None:
            raise NotFound(f"no namespace named {namespace.name!r} is known")
        previous = locked.attribution_mode
        if previous == mode:
            return locked
        updated = Namespace.objects.filter(pk=locked.pk, attribution_mode=previous).update(
            attribution_mode=mode
        )
        if updated != 1:
            raise RuntimeError("the namespace row changed under its lock")
        locked.attribution_mode = mode
        audit_record(
            event_type=AuditEventType.NAMESPACE_MODE_CHANGED,
            actor=actor,
            details={"namespace": locked.name, "kind": locked.kind, "from": previous, "to": mode},
        )
    return locked


def namespace_create(*, name: str, kind: str, attribution_mode: str, actor: Actor) -> Namespace:
    """Make a namespace known by hand (before the namespace API lists it, or one it does
    not list), with an audit event in the same transaction.

    The name is the namespace API's identifier: refused when empty, too long, or holding a
    character that does not print (a control character, a NUL, a bidirectional override).
    """
    name = (name or "").strip()
    max_length = Namespace._meta.get_field("name").max_length or 200
    if not name:
        raise InvalidInput("name must not be empty", fields={"name": ["required"]})
    if len(name) > max_length:
        raise InvalidInput(
            f"name is longer than {max_length} characters", fields={"name": ["too long"]}
        )
    if not name.isprintable():
        raise InvalidInput(
            "name must hold printable characters only", fields={"name": ["not printable"]}
        )
    if kind not in NamespaceKind.values:
        raise InvalidInput(
            f"kind must be one of {', '.join(NamespaceKind.values)}",
            fields={"kind": ["invalid choice"]},
        )
    if attribution_mode not in AttributionMode.values:
        raise InvalidInput(
            f"attribution_mode must be one of {', '.join(AttributionMode.values)}",
            fields={"attribution_mode": ["invalid choice"]},
        )
    with transaction.atomic():
        try:
            # A savepoint: a concurrent create of the same name loses on the unique name
            # and is answered as a conflict, not as a broken transaction.
            with transaction.atomic():
                namespace = Namespace.objects.create(
                    name=name, kind=kind, attribution_mode=attribution_mode
                )
        except IntegrityError as exc:
            raise Conflict(
                f"a namespace named {name!r} is known already", fields={"name": ["exists"]}
            ) from exc
        audit_record(
            event_type=AuditEventType.NAMESPACE_CREATED,
            actor=actor,
            details={"namespace": name, "kind": kind, "attribution_mode": attribution_mode},
        )
    return namespace
