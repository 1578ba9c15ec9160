"""Grant the service's database role what it needs, and no more (README, "Database roles").

Run by the role that owns the tables (the one that runs `migrate`), after every migrate:

    python manage.py grant_service_role erasure_service

The service role may read and write the service's tables, but on the audit log it may only
read, insert, and fill an event's `leaf_index` and `leaf_hash` (the sequencer): no UPDATE of
anything else, no DELETE, no TRUNCATE. Owning no table, it can neither drop nor disable the
triggers that refuse those (migration 0009).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction
from psycopg import sql

AUDIT_TABLES = (
    "erasure_auditevent",
    "erasure_audittreenode",
    "erasure_auditcheckpoint",
    "erasure_auditsigningkey",
)


def grant_statements(role: str) -> list[sql.Composed]:
    who = sql.Identifier(role)
    audit = sql.SQL(", ").join(sql.Identifier(table) for table in AUDIT_TABLES)
    return [
        sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(who),
        sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {}").format(
            who
        ),
        sql.SQL("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {}").format(who),
        sql.SQL("REVOKE UPDATE, DELETE, TRUNCATE ON {} FROM {}").format(audit, who),
        sql.SQL("GRANT UPDATE (leaf_index, leaf_hash) ON erasure_auditevent TO {}").format(who),
    ]


class Command(BaseCommand):
    help = "Grant the service's database role its privileges (run as the tables' owner)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("role", help="the role the service connects as")

    def handle(self, *args: Any, **options: Any) -> None:
        role = options["role"]
        with connection.cursor() as cursor:
            cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = %s", [role])
            found = cursor.fetchone()
            if found is None:
                raise CommandError(f"there is no database role {role!r}: CREATE ROLE it first")
            if found[0]:
                raise CommandError(
                    f"{role!r} is a superuser: it could drop the audit log's triggers; the "
                    "service must run as an ordinary role"
                )
            with transaction.atomic():
                for statement in grant_statements(role):
                    cursor.execute(statement)
        self.stdout.write(f"granted {role} the service's privileges")
