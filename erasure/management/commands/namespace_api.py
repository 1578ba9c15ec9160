"""`manage.py namespace_api list | resume NAME`: the namespace APIs this deployment is
configured with (erasure.apis), and their state: whether their key can be read, a refusal
in force (after a 401/403 nothing is sent to an API for a while, and its namespaces wait),
the last answer's status. Never prints a key: only where it is read from.

`resume` lifts a refusal at once, after an operator fixed the key (the workers read keys
when they make a client, so a rotated key file needs no restart); audited as
`namespace_api.resumed`, actor `system:cli`. Exit status: 0 done (or nothing to lift);
2 an API that is not configured.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from erasure.actors import Actor
from erasure.apis import ApiKeyMissing, apis
from erasure.models import ApiThrottle, AuditEventType, Namespace
from erasure.services.audit import audit_record
from erasure.throttle import api_resume


class Command(BaseCommand):
    help = "The namespace APIs: list them and their state, resume one its key refused."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        actions.add_parser("list")
        resume = actions.add_parser("resume")
        resume.add_argument("name")

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        configured = apis()
        if action == "list":
            states = {row.name: row for row in ApiThrottle.objects.filter(name__in=configured)}
            namespaces_of = dict(
                Namespace.objects.values_list("api").annotate(n=Count("id")).order_by()
            )
            for name, config in configured.items():
                try:
                    config.key()
                    key = f"key from {config.key_source}"
                except ApiKeyMissing as exc:
                    key = f"KEY MISSING ({exc})"
                state = states.get(name)
                refused = ""
                if state and state.refused_until and state.refused_until > timezone.now():
                    refused = f"; REFUSED until {state.refused_until:%Y-%m-%d %H:%M:%S %Z}"
                last = state.last_status if state and state.last_status is not None else "-"
                self.stdout.write(
                    f"{name}: {config.flavor} {config.url}; {key}; in flight "
                    f"{config.max_in_flight}, {config.calls_per_second:g} calls/s; "
                    f"{namespaces_of.get(name, 0)} namespaces; last status {last}{refused}"
                )
            return
        name = options["name"]
        if name not in configured:
            raise CommandError(
                f"no namespace API named {name!r} is configured ({', '.join(configured)})",
                returncode=2,
            )
        with transaction.atomic():
            lifted = api_resume(name)
            if lifted:
                audit_record(
                    event_type=AuditEventType.NAMESPACE_API_RESUMED,
                    actor=Actor.system("cli"),
                    details={"api": name},
                )
        self.stdout.write(f"{name}: resumed" if lifted else f"{name}: not refused, nothing to do")
