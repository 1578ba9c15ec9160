"""Verify the audit trail's hash chain: in the database, or in an exported file offline."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from erasure.services.audit import ChainVerification, audit_verify, verify_records


class Command(BaseCommand):
    help = (
        "Check that every audit event's hash matches its content and follows the one before "
        "it; names the first broken event. Exit status 1 when the chain is broken."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--from", dest="first_id", type=int, help="first event id")
        parser.add_argument("--to", dest="last_id", type=int, help="last event id")
        parser.add_argument(
            "--file",
            help="a JSON Lines export of events (/api/v1/audit/export?format=jsonl): "
            "verified without the database; '-' reads standard input",
        )
        parser.add_argument(
            "--anchor",
            help="with --file: the hash the first event must follow (e.g. the chain head "
            "of an earlier export); default: the first event's own prev_hash",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["file"]:
            if options["first_id"] or options["last_id"]:
                raise CommandError("--from/--to apply to the database, not to --file")
            result = self._verify_file(options["file"], options["anchor"])
        else:
            result = audit_verify(first_id=options["first_id"], last_id=options["last_id"])
        self._report(result)
        if not result.ok:
            sys.exit(1)

    def _verify_file(self, path: str, anchor: str | None) -> ChainVerification:
        def records() -> Iterator[dict[str, Any]]:
            stream = sys.stdin if path == "-" else open(path, encoding="utf-8")  # noqa: SIM115
            try:
                for number, line in enumerate(stream, start=1):
                    if not line.strip():
                        continue
                    try:
                        yield json.loads(line)
                    except json.JSONDecodeError as exc:
                        raise CommandError(f"line {number} is not JSON: {exc.msg}") from exc
            finally:
                if stream is not sys.stdin:
                    stream.close()

        try:
            return verify_records(records(), anchor=anchor)
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc.strerror}") from exc

    def _report(self, result: ChainVerification) -> None:
        if result.ok:
            self.stdout.write(
                f"OK: {result.checked} events verified"
                + (f" (ids {result.first_id}..{result.last_id})" if result.checked else "")
                + f"; anchor {result.anchor}; head {result.head}"
            )
        else:
            self.stdout.write(
                f"BROKEN at event {result.broken_id}: {result.reason} "
                f"({result.checked} events verified before it; anchor {result.anchor})"
            )
