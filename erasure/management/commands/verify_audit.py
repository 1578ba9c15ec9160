"""Verify the audit log: in the database, or in files offline (no database, no network).

    verify_audit                              the database, against its stored checkpoints
    verify_audit --checkpoint FILE|DIR        ... and against checkpoints kept elsewhere
    verify_audit --file EXPORT.jsonl --checkpoint FILE --public-key KEY
                                              a whole export, offline
    verify_audit --bundle BUNDLE.json [--public-key KEY]
                                              an evidence bundle, offline

Exit status 0 when everything verifies, 1 when something does not (the output names the
first bad leaf), 2 for unusable input.
"""

from __future__ import annotations

import base64
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from erasure.transparency.notes import NoteError, Verifier
from erasure.transparency.verify import (
    LogVerification,
    TrustedCheckpoint,
    parse_checkpoints,
    verify_bundle,
    verify_leaves,
)


class Command(BaseCommand):
    help = (
        "Recompute the audit log from its events and hold it to signed checkpoints; or "
        "check an export or an evidence bundle offline. Names the first leaf that is not "
        "as promised. Exit status 1 when something does not verify."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--checkpoint",
            action="append",
            default=[],
            help="a signed checkpoint saved earlier (GET /api/v1/audit/checkpoint), or a "
            "witness directory of them: the log must extend each one. Repeatable.",
        )
        parser.add_argument(
            "--public-key",
            action="append",
            default=[],
            help="a verifier key (GET /api/v1/audit/public-keys) that checkpoints must be "
            "signed by; repeatable. Default: the keys the log lists (database), or the key "
            "the bundle carries.",
        )
        parser.add_argument(
            "--file",
            help="a JSON Lines export of the whole log (/api/v1/audit/export?format=jsonl), "
            "verified without the database; '-' reads standard input",
        )
        parser.add_argument("--bundle", help="an evidence bundle, verified without the database")

    def handle(self, *args: Any, **options: Any) -> None:
        verifiers = [self._verifier(text) for text in options["public_key"]]
        if options["bundle"]:
            if options["file"] or options["checkpoint"]:
                raise _unusable("--bundle carries its own checkpoint: use it alone")
            self._bundle(options["bundle"], verifiers or None)
            return
        if options["file"]:
            if options["checkpoint"] and not verifiers:
                raise _unusable("offline, give the key the checkpoints are signed by: --public-key")
            checkpoints = self._checkpoints(options["checkpoint"], verifiers)
            result = verify_leaves(
                self._export_leaves(options["file"]), checkpoints, LogVerification(ok=True)
            )
            if not result.ok and "is missing" in result.reason:
                result.reason += (
                    " (or the file is an export of a subset, such as one request's events or "
                    "a date range: a subset verifies as an evidence bundle, --bundle)"
                )
        else:
            from erasure.services import audit_log

            keys = verifiers or audit_log.known_verifiers()
            checkpoints = self._checkpoints(options["checkpoint"], keys)
            result = audit_log.audit_verify(external=checkpoints, verifiers=keys)
        self._report(result)
        if not result.ok:
            sys.exit(1)

    # -- input ---------------------------------------------------------------------------

    def _verifier(self, text: str) -> Verifier:
        path = Path(text)
        if path.is_file():
            text = path.read_text(encoding="utf-8").strip()
        try:
            return Verifier.decode(text)
        except NoteError as exc:
            raise _unusable(f"--public-key {text!r}: {exc}") from exc

    def _checkpoints(self, paths: list[str], verifiers: list[Verifier]) -> list[TrustedCheckpoint]:
        notes: list[tuple[str, str]] = []
        for name in paths:
            path = Path(name)
            files = (
                sorted(p for p in path.iterdir() if p.name.startswith("checkpoint"))
                if path.is_dir()
                else [path]
            )
            for file in files:
                try:
                    notes.append((str(file), file.read_text(encoding="utf-8")))
                except OSError as exc:
                    raise _unusable(f"cannot read {file}: {exc.strerror}") from exc
        trusted, problems = parse_checkpoints(notes, verifiers, origin=None)
        if problems:
            raise _unusable("unusable checkpoint: " + "; ".join(problems))
        return trusted

    def _export_leaves(self, path: str) -> Iterator[tuple[int, int | None, bytes | None, dict]]:
        stream = sys.stdin if path == "-" else None
        try:
            stream = stream or open(path, encoding="utf-8")  # noqa: SIM115
        except OSError as exc:
            raise _unusable(f"cannot read {path}: {exc.strerror}") from exc
        try:
            for number, line in enumerate(stream, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                    index = record["leaf_index"]
                    stored = record.get("leaf_hash")
                    leaf = base64.b64decode(stored, validate=True) if stored else None
                except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                    raise _unusable(f"line {number} is not an exported event: {exc}") from exc
                if index is None:
                    continue  # not sequenced when exported: not part of the tree yet
                yield int(index), record.get("id"), leaf, record
        finally:
            if stream is not sys.stdin:
                stream.close()

    # -- output --------------------------------------------------------------------------

    def _report(self, result: LogVerification) -> None:
        for note in result.notes:
            self.stdout.write(f"note: {note}")
        if result.ok:
            self.stdout.write(
                f"OK: {result.tree_size} events verified; root {result.root_hash_b64}; "
                f"{result.checkpoints_checked} signed checkpoints held"
                + (f"; {result.pending} events not yet sequenced" if result.pending else "")
            )
            return
        where = (
            f"leaf {result.first_bad_leaf}"
            if result.first_bad_leaf == result.last_bad_leaf
            else f"a leaf in {result.first_bad_leaf}..{result.last_bad_leaf}"
        )
        event = f" (event {result.event_id})" if result.event_id is not None else ""
        self.stdout.write(f"BROKEN: first bad leaf: {where}{event}: {result.reason}")

    def _bundle(self, path: str, verifiers: list[Verifier] | None) -> None:
        try:
            with open(path, encoding="utf-8") as fh:
                bundle = json.load(fh)
        except OSError as exc:
            raise _unusable(f"cannot read {path}: {exc.strerror}") from exc
        except json.JSONDecodeError as exc:
            raise _unusable(f"{path} is not JSON: {exc.msg}") from exc
        result = verify_bundle(bundle, verifiers)
        for note in result.notes:
            self.stdout.write(f"note: {note}")
        if result.ok:
            self.stdout.write(
                f"OK: {result.events} events proven in the log's tree of {result.tree_size}, "
                f"checkpoint signed by {result.signed_by}"
                + ("; the certificate's counts match the events" if "certificate" in bundle else "")
            )
            return
        for problem in result.problems:
            self.stdout.write(f"BROKEN: {problem}")
        sys.exit(1)


def _unusable(message: str) -> CommandError:
    return CommandError(message, returncode=2)
