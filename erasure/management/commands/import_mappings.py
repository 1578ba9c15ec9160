"""`python manage.py import_mappings FILE`: register the mappings of a CSV file.

The file has the header `subject,namespace,item_id`; `-` reads standard input. It streams:
memory does not grow with the file (erasure.services.mappings.mappings_import), and the
import is one transaction: a bad row, an unknown namespace or any failure writes nothing.
"""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Iterator, Sequence
from typing import IO

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from erasure.actors import Actor
from erasure.errors import ServiceError
from erasure.services.mappings import mappings_import

HEADER = ["subject", "namespace", "item_id"]


def csv_rows(stream: IO[str], *, delimiter: str) -> Iterator[tuple[int, Sequence[str]]]:
    """`(line number, fields)` of every data row, after checking the header; blank lines
    are skipped."""
    reader = csv.reader(stream, delimiter=delimiter)
    header = next(reader, None)
    if header is None or [h.strip().lower() for h in header] != HEADER:
        raise ServiceError(
            f"line 1: the header must be {delimiter.join(HEADER)} (got {header!r:.200})"
        )
    for fields in reader:
        if fields:
            yield reader.line_num, fields


class Command(BaseCommand):
    help = (
        "Register mappings from a CSV file (header: subject,namespace,item_id; '-' for "
        "standard input), in constant memory and in one transaction."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="path of the CSV file, or - for standard input")
        parser.add_argument("--batch-size", type=int, default=10_000, help="rows per batch")
        parser.add_argument("--delimiter", default=",", help="field delimiter (default ,)")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")
        parser.add_argument(
            "--api",
            default="",
            help="the API of the file's namespaces (default: the default API)",
        )

    def handle(self, *args, file: str, batch_size: int, delimiter: str, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        if len(delimiter) != 1:
            raise CommandError("--delimiter must be one character")
        quiet = options["no_progress"] or not sys.stderr.isatty()
        try:
            stream = self._open(file)
        except OSError as exc:
            raise CommandError(f"cannot read {file}: {exc.strerror}") from exc
        bars = _Progress(disable=quiet)
        try:
            with stream:
                result = mappings_import(
                    rows=csv_rows(stream, delimiter=delimiter),
                    actor=Actor.system("import_mappings"),
                    batch_size=batch_size,
                    on_read=bars.read,
                    on_written=bars.written,
                    api=options["api"],
                )
        except ServiceError as exc:
            raise CommandError(f"{exc.message}; nothing was imported") from exc
        finally:
            bars.close()
        self.stdout.write(
            f"rows read: {result.rows}; mappings created: {result.created}; "
            f"duplicates: {result.duplicates}; subjects: {result.subjects}; "
            f"added to open requests: {result.added_to_open_requests}; "
            f"after erasure: {result.after_erasure}"
        )

    def _open(self, file: str) -> IO[str]:
        # newline="" as the csv module requires (quoted fields may hold line breaks);
        # utf-8-sig drops the byte-order mark that spreadsheet exports put first.
        if file == "-":
            return io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8-sig", newline="")
        return open(file, encoding="utf-8-sig", newline="")  # noqa: SIM115 (closed in handle)


class _Progress:
    """Two bars on standard error: rows staged (read, checked, hashed, copied), then rows
    written; each measures its own phase's rate."""

    def __init__(self, *, disable: bool) -> None:
        self.disable = disable
        self.staged = tqdm(desc="staged", unit=" rows", file=sys.stderr, disable=disable)
        self.inserted: tqdm | None = None

    def read(self, n: int) -> None:
        self.staged.update(n)

    def written(self, n: int, total: int) -> None:
        if self.inserted is None:
            self.staged.close()
            self.inserted = tqdm(
                desc="written", unit=" rows", total=total, file=sys.stderr, disable=self.disable
            )
        self.inserted.update(n)

    def close(self) -> None:
        self.staged.close()
        if self.inserted is not None:
            self.inserted.close()
