"""`manage.py namespace list | set NAME [--api API] [settings]`: the namespaces' settings,
for a deploy script. Settings: --attribution-mode, --subject-field, --subject-field-kind,
--recheck-after-days and --scan-interval-hours (an empty value brings back the service's
default). Only what is given changes; a setting that has its value records nothing.
Changes are audited as the admin's are (`namespace.mode_changed`, `namespace.changed`,
actor `system:cli`).

Exit status: 0 done (or nothing to do); 2 bad input or an unknown namespace, nothing changed.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from erasure.actors import Actor
from erasure.errors import ServiceError
from erasure.models import AttributionMode, Namespace
from erasure.selectors.namespaces import namespace_get
from erasure.services.namespaces import namespace_update

OPTIONS: dict[str, type] = {
    "attribution_mode": str,
    "subject_field": str,
    "subject_field_kind": str,
    "recheck_after_days": int,
    "scan_interval_hours": float,
}


class Command(BaseCommand):
    help = "The namespaces' settings: list, set."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        actions.add_parser("list")
        change = actions.add_parser("set")
        change.add_argument("name")
        change.add_argument("--api", default="", help="its API (default: the default API)")
        change.add_argument("--attribution-mode", choices=AttributionMode.values)
        change.add_argument("--subject-field", help="a metadata key; empty: none")
        change.add_argument(
            "--subject-field-kind", help="empty: the subject key; else an alias kind"
        )
        change.add_argument("--recheck-after-days", help="empty: the service's default")
        change.add_argument("--scan-interval-hours", help="empty: the service's default")

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        if action == "list":
            for ns in Namespace.objects.order_by("name", "api"):
                kind = f" ({ns.subject_field_kind})" if ns.subject_field_kind else ""
                self.stdout.write(
                    f"{ns.label}: {ns.kind}, {ns.attribution_mode}; subject field "
                    f"{ns.subject_field or '-'}{kind}; "
                    f"re-check {_or_default(ns.recheck_after_days)} days; "
                    f"scans every {_or_default(ns.scan_interval_hours)} h"
                )
            return
        try:
            namespace = namespace_get(name=options["name"], api=options["api"])
        except ServiceError as exc:
            raise CommandError(exc.message, returncode=2) from exc
        changes = {}
        for field, convert in OPTIONS.items():
            raw = options.get(field)
            if raw is None:
                continue
            if convert is str or raw == "":
                changes[field] = raw if convert is str else None
                continue
            try:
                changes[field] = convert(raw)
            except ValueError as exc:
                flag = "--" + field.replace("_", "-")
                raise CommandError(f"{flag} {raw!r} is not a number", returncode=2) from exc
        if not changes:
            raise CommandError("give at least one setting to change", returncode=2)
        before = {field: getattr(namespace, field) for field in changes}
        try:
            updated = namespace_update(
                namespace=namespace, changes=changes, actor=Actor.system("cli")
            )
        except ServiceError as exc:
            raise CommandError(exc.message, returncode=2) from exc
        changed = [field for field in changes if getattr(updated, field) != before[field]]
        self.stdout.write(
            f"{updated.label}: changed ({', '.join(changed)})"
            if changed
            else f"{updated.label}: unchanged"
        )


def _or_default(value: Any) -> str:
    return "the default" if value is None else f"{value:g}"
