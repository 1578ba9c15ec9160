"""The namespaces we know of, synchronised from the namespace API's own list."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import IntegrityError, transaction

from erasure.actors import Actor
from erasure.apis import api_get
from erasure.apis import apis as configured_apis
from erasure.clients import make_client
from erasure.errors import Conflict, InvalidInput, NotFound
from erasure.models import AttributionMode, AuditEventType, Namespace, NamespaceKind
from erasure.services.aliases import KIND_PATTERN as ALIAS_KIND
from erasure.services.audit import audit_record


def namespaces_sync(*, apis: Iterable[str] | None = None) -> list[Namespace]:
    """Add the namespaces the APIs list that we do not know yet; returns those added.

    `apis`: the names of the APIs to ask (default: every configured one). Kinds of known
    namespaces are refreshed too (a namespace deleted and re-created under the same name
    may change kind). Attribution modes set by an operator are kept.
    """
    listed: dict[str, list] = {}
    for api in apis if apis is not None else configured_apis():
        with make_client(api) as client:
            listed[api] = client.list_namespaces()
    added = []
    with transaction.atomic():
        known = {
            (ns.api, ns.name): ns
            for ns in Namespace.objects.filter(api__in=list(listed)).select_for_update()
        }
        for api, infos in listed.items():
            for info in infos:
                if info.kind not in NamespaceKind.values:
                    continue
                current = known.get((api, info.name))
                if current is None:
                    added.append(
                        Namespace.objects.create(
                            api=api,
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
    """Set how outcomes are attributed in `namespace` (AttributionMode); see
    `namespace_update`. The mode applies to the batches sent from then on: items already
    decided keep their outcome."""
    return namespace_update(namespace=namespace, changes={"attribution_mode": mode}, actor=actor)


# What may change after a namespace is known (its name and kind are its identity).
UPDATABLE_FIELDS = (
    "attribution_mode",
    "subject_field",
    "subject_field_kind",
    "recheck_after_days",
    "scan_interval_hours",
)


def namespace_update(*, namespace: Namespace, changes: dict[str, Any], actor: Actor) -> Namespace:
    """Change some of a namespace's settings (a partial update: a field not in `changes`
    keeps its value), with audit events in the same transaction: `namespace.mode_changed`
    for the attribution mode, `namespace.changed` (each field from and to) for the rest.
    Every value is checked before anything is written; a value it already has records
    nothing."""
    clean = namespace_changes_check(changes)
    with transaction.atomic():
        locked = Namespace.objects.select_for_update().filter(pk=namespace.pk).first()
        if locked is None:
            raise NotFound(f"no namespace named {namespace.name!r} is known")
        changed = {
            field: {"from": getattr(locked, field), "to": value}
            for field, value in clean.items()
            if getattr(locked, field) != value
        }
        if not changed:
            return locked
        for field, change in changed.items():
            setattr(locked, field, change["to"])
        locked.save(update_fields=list(changed))
        mode = changed.pop("attribution_mode", None)
        if mode is not None:
            audit_record(
                event_type=AuditEventType.NAMESPACE_MODE_CHANGED,
                actor=actor,
                details={
                    "api": locked.api,
                    "namespace": locked.name,
                    "kind": locked.kind,
                    "from": mode["from"],
                    "to": mode["to"],
                },
            )
        if changed:
            audit_record(
                event_type=AuditEventType.NAMESPACE_CHANGED,
                actor=actor,
                details={
                    "api": locked.api,
                    "namespace": locked.name,
                    "kind": locked.kind,
                    "changes": changed,
                },
            )
    return locked


def namespace_changes_check(changes: dict[str, Any]) -> dict[str, Any]:
    problems: dict[str, list[str]] = {}
    clean: dict[str, Any] = {}
    for field, value in changes.items():
        if field not in UPDATABLE_FIELDS:
            problems[field] = ["cannot be changed"]
            continue
        problem, value = _checked(field, value)
        if problem:
            problems[field] = [problem]
        else:
            clean[field] = value
    if problems:
        first = next(iter(problems))
        raise InvalidInput(f"{first}: {problems[first][0]}", fields=problems)
    return clean


def _checked(field: str, value: Any) -> tuple[str, Any]:
    """(a problem, or "", and the value to store)."""
    if field == "attribution_mode":
        if value not in AttributionMode.values:
            return f"must be one of {', '.join(AttributionMode.values)}", value
        return "", value
    if field in ("subject_field", "subject_field_kind"):
        if value is None:
            value = ""
        if not isinstance(value, str):
            return "must be a string", value
        value = value.strip()
        if field == "subject_field":
            if len(value) > 200:
                return "must be at most 200 characters", value
            if not value.isprintable():
                return "must hold printable characters only", value
        elif value and not ALIAS_KIND.match(value):
            return "must be empty (the subject key) or an alias kind (a-z, 0-9, _ . -)", value
        return "", value
    # recheck_after_days, scan_interval_hours: empty means the service's default.
    if value is None:
        return "", None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "must be a number, or null for the service's default", value
    if value < 0:
        return "must not be negative", value
    if field == "recheck_after_days":
        if value != int(value):
            return "must be a whole number of days", value
        if value > 3650:
            return "must be at most 3650 days", value
        return "", int(value)
    if value > 24 * 3650:
        return "must be at most 87600 hours", value
    return "", float(value)


def namespace_create(
    *, name: str, kind: str, attribution_mode: str, actor: Actor, api: str | None = None
) -> Namespace:
    """Make a namespace of API `api` (default: the default API) known by hand (before the
    API lists it, or one it does not list), with an audit event in the same transaction.

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
    api_name = api_get(api).name
    with transaction.atomic():
        try:
            # A savepoint: a concurrent create of the same name loses on the unique name
            # and is answered as a conflict, not as a broken transaction.
            with transaction.atomic():
                namespace = Namespace.objects.create(
                    api=api_name, name=name, kind=kind, attribution_mode=attribution_mode
                )
        except IntegrityError as exc:
            raise Conflict(
                f"a namespace named {name!r} is known already in API {api_name}",
                fields={"name": ["exists"]},
            ) from exc
        audit_record(
            event_type=AuditEventType.NAMESPACE_CREATED,
            actor=actor,
            details={
                "api": api_name,
                "namespace": name,
                "kind": kind,
                "attribution_mode": attribution_mode,
            },
        )
    return namespace
