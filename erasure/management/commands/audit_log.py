"""The audit log from the command line: its state, a sequencing pass, a new signing key.

audit_log status                 size, events waiting for the sequencer, latest checkpoint
audit_log sequence               sequence every committed event now (workers do it too)
audit_log new-key NAME --out F   a new Ed25519 signing key, written owner-only to F; its
                                 public key is printed. Point AUDIT_SIGNING_KEY_FILE at F
                                 (a key rotation: earlier keys stay listed).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from erasure.transparency.notes import NoteError, Signer


class Command(BaseCommand):
    help = "The audit log: status, sequence, new-key."

    def add_arguments(self, parser: CommandParser) -> None:
        commands = parser.add_subparsers(dest="action", required=True)
        commands.add_parser("status", help="size, lag and latest checkpoint")
        commands.add_parser("sequence", help="sequence every committed event now")
        new_key = commands.add_parser("new-key", help="write a new signing key")
        new_key.add_argument("name", help="the key's name, e.g. erasure.example.com/audit")
        new_key.add_argument("--out", required=True, help="file to write (must not exist)")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "new-key":
            self._new_key(options["name"], Path(options["out"]))
            return
        from erasure.services import audit_log

        if action == "sequence":
            count = audit_log.sequence_pending()
            self.stdout.write(f"sequenced {count} events; the log holds {audit_log.tree_size()}")
            return
        checkpoint = audit_log.latest_checkpoint()
        self.stdout.write(f"events in the log: {audit_log.tree_size()}")
        self.stdout.write(f"waiting for the sequencer: {audit_log.pending_count()}")
        self.stdout.write(
            f"latest checkpoint: {checkpoint.tree_size} events, key {checkpoint.key}"
            if checkpoint
            else "latest checkpoint: none"
        )

    def _new_key(self, name: str, out: Path) -> None:
        try:
            signer = Signer.generate(name)
        except NoteError as exc:
            raise CommandError(f"key name {name!r}: {exc}") from exc
        try:
            fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise CommandError(f"{out} exists: a signing key is never overwritten") from None
        except OSError as exc:
            raise CommandError(f"cannot write {out}: {exc.strerror}") from exc
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(signer.encode() + "\n")
        self.stdout.write(f"wrote {out}; its public key:")
        self.stdout.write(signer.verifier.encode())
