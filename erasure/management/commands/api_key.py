"""`manage.py api_key list | revoke NAME`: the REST API's keys, for a deploy script
(`create_api_key` creates them). Never prints a key or its hash: the name, the prefix, the
scopes and the dates.

Revoking a key already revoked changes nothing (exit 0); an unknown name is exit 2.
Revocation is audited as the admin's is (`api_key.revoked`, actor `system:cli`).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from erasure.actors import Actor
from erasure.models import ApiKey
from erasure.services.api_keys import api_key_revoke


class Command(BaseCommand):
    help = "The REST API's keys: list, revoke."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        actions.add_parser("list")
        revoke = actions.add_parser("revoke")
        revoke.add_argument("name")

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        if action == "list":
            for listed in ApiKey.objects.order_by("name"):
                state = f"revoked {listed.revoked_at:%Y-%m-%d}" if listed.revoked_at else "active"
                used = f"{listed.last_used_at:%Y-%m-%d %H:%M}" if listed.last_used_at else "never"
                self.stdout.write(
                    f"{listed.name}: {listed.prefix}…, {', '.join(listed.scopes)}; created "
                    f"{listed.created_at:%Y-%m-%d}, last used {used}; {state}"
                )
            return
        found = ApiKey.objects.filter(name=options["name"]).first()
        if found is None:
            raise CommandError(f"no API key named {options['name']!r}", returncode=2)
        key = found
        if key.revoked_at is not None:
            self.stdout.write(f"{key.name}: revoked already")
            return
        api_key_revoke(key=key, actor=Actor.system("cli"))
        self.stdout.write(f"{key.name}: revoked")
