"""`manage.py webhook_source`: webhook sources as configuration, for a deploy script.

    webhook_source list
    webhook_source create SLUG --scheme SCHEME [settings]   create, or bring it to these settings
    webhook_source update SLUG [settings]                   change an existing source
    webhook_source add-secret SLUG (--secret-file PATH | --secret-stdin)
    webhook_source revoke-secret SLUG PREFIX                a secret by its fingerprint (#1a2b3c4d)
    webhook_source disable SLUG

Settings: --regulation, --auto-approve / --no-auto-approve, --grace-hours (empty: the
default), --subject-mapping, --alias-kind, --request-events (comma-separated),
--deactivation-policy, --deactivation-delay-hours, --header-name, --enable / --disable.

Every command can run on every deploy: one that finds things as asked changes nothing and
records nothing. A change is audited as the admin's is (`webhook_source.changed`, actor
`system:cli`). Secrets are read from a file or standard input, never from the command line
(it shows in `ps` and shell history), and never printed: only their fingerprint.

Exit status: 0 done (or nothing to do); 2 bad input or an unknown source, nothing changed.
"""

from __future__ import annotations

import sys
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from erasure.actors import Actor
from erasure.errors import ServiceError
from webhooks.models import (
    DeactivationPolicy,
    Scheme,
    SubjectMapping,
    WebhookSecret,
    WebhookSource,
)
from webhooks.services import secret_add, secret_prefix, secret_revoke, source_save

CLI = Actor.system("cli")
SETTINGS = (
    "scheme",
    "regulation",
    "auto_approve",
    "grace_hours",
    "subject_mapping",
    "alias_kind",
    "request_events",
    "deactivation_policy",
    "deactivation_delay_hours",
    "header_name",
    "enabled",
)


class Command(BaseCommand):
    help = "Webhook sources as configuration (list, create, update, secrets, disable)."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        actions.add_parser("list", help="every source, its settings and its secrets' fingerprints")
        for name, needs_scheme in (("create", True), ("update", False)):
            sub = actions.add_parser(name)
            sub.add_argument("slug")
            sub.add_argument("--scheme", choices=Scheme.values, required=needs_scheme)
            sub.add_argument("--regulation")
            sub.add_argument(
                "--auto-approve", dest="auto_approve", action="store_true", default=None
            )
            sub.add_argument("--no-auto-approve", dest="auto_approve", action="store_false")
            sub.add_argument("--grace-hours", help="hours; empty: the service's default")
            sub.add_argument("--subject-mapping", choices=SubjectMapping.values)
            sub.add_argument("--alias-kind")
            sub.add_argument("--request-events", help="comma-separated; empty: the scheme's")
            sub.add_argument("--deactivation-policy", choices=DeactivationPolicy.values)
            sub.add_argument("--deactivation-delay-hours", type=int)
            sub.add_argument("--header-name")
            sub.add_argument("--enable", dest="enabled", action="store_true", default=None)
            sub.add_argument("--disable", dest="enabled", action="store_false")
        add = actions.add_parser("add-secret")
        add.add_argument("slug")
        given = add.add_mutually_exclusive_group(required=True)
        given.add_argument("--secret-file", help="a file holding the secret (one line)")
        given.add_argument(
            "--secret-stdin", action="store_true", help="read it from standard input"
        )
        revoke = actions.add_parser("revoke-secret")
        revoke.add_argument("slug")
        revoke.add_argument("prefix", help="the secret's fingerprint, as `list` shows it")
        disable = actions.add_parser("disable")
        disable.add_argument("slug")

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        try:
            getattr(self, "_" + action.replace("-", "_"))(**options)
        except (ServiceError, ValidationError) as exc:
            message = exc.message if isinstance(exc, ServiceError) else "; ".join(exc.messages)
            raise CommandError(message, returncode=2) from exc

    def _list(self, **_: Any) -> None:
        for source in WebhookSource.objects.order_by("slug"):
            secrets = ", ".join(
                f"{s.prefix}{'' if s.active else ' (revoked)'}"
                for s in source.secrets.order_by("pk")
            )
            self.stdout.write(
                f"{source.slug}: {source.scheme}, {'enabled' if source.enabled else 'disabled'}, "
                f"{source.regulation}, auto_approve={source.auto_approve}, "
                f"mapping={source.subject_mapping}"
                f"{' (' + source.alias_kind + ')' if source.alias_kind else ''}, "
                f"secrets: {secrets or 'none'}"
            )

    def _create(self, *, slug: str, **options: Any) -> None:
        source = WebhookSource.objects.filter(slug=slug).first() or WebhookSource(slug=slug)
        self._apply(source, options)

    def _update(self, *, slug: str, **options: Any) -> None:
        self._apply(_source(slug), options)

    def _disable(self, *, slug: str, **_: Any) -> None:
        self._apply(_source(slug), {"enabled": False})

    def _apply(self, source: WebhookSource, options: dict[str, Any]) -> None:
        new = source.pk is None
        changed = []
        for field in SETTINGS:
            if options.get(field) is None:
                continue
            value = _value(field, options[field])
            if new or getattr(source, field) != value:
                setattr(source, field, value)
                changed.append(field)
        if not new and not changed:
            self.stdout.write(f"{source.slug}: unchanged")
            return
        source.full_clean()
        source_save(source=source, actor=CLI, changed_fields=changed)
        what = "created" if new else f"changed ({', '.join(changed)})"
        self.stdout.write(f"{source.slug}: {what}")

    def _add_secret(
        self, *, slug: str, secret_file: str | None, secret_stdin: bool, **_: Any
    ) -> None:
        source = _source(slug)
        if secret_stdin:
            value = sys.stdin.readline()
        else:
            try:
                with open(secret_file or "", encoding="utf-8") as fh:
                    value = fh.readline()
            except OSError as exc:
                raise CommandError(f"{secret_file}: {exc.strerror}", returncode=2) from exc
        value = value.rstrip("\r\n")
        if not value:
            raise CommandError("the secret is empty", returncode=2)
        prefix = secret_prefix(value)
        if source.secrets.filter(active=True, value=value).exists():
            self.stdout.write(f"{slug}: secret {prefix} is active already")
            return
        secret_add(source=source, value=value, actor=CLI)
        self.stdout.write(f"{slug}: secret {prefix} added")

    def _revoke_secret(self, *, slug: str, prefix: str, **_: Any) -> None:
        source = _source(slug)
        secrets = list(WebhookSecret.objects.filter(source=source, prefix=prefix))
        if not secrets:
            raise CommandError(f"{slug} has no secret {prefix}", returncode=2)
        revoked = sum(secret_revoke(secret=secret, actor=CLI) for secret in secrets)
        self.stdout.write(
            f"{slug}: secret {prefix} {'revoked' if revoked else 'was revoked already'}"
        )


def _source(slug: str) -> WebhookSource:
    source = WebhookSource.objects.filter(slug=slug).first()
    if source is None:
        raise CommandError(f"no webhook source {slug!r}", returncode=2)
    return source


def _value(field: str, raw: Any) -> Any:
    if field == "grace_hours":
        if raw == "":
            return None
        try:
            return float(raw)
        except ValueError as exc:
            raise CommandError(f"--grace-hours {raw!r} is not a number", returncode=2) from exc
    if field == "request_events":
        return [event.strip() for event in raw.split(",") if event.strip()]
    return raw
