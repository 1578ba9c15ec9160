"""The import streams: its peak memory does not grow with the number of rows."""

from __future__ import annotations

import io
import tracemalloc
from pathlib import Path

import pytest
from django.core.management import call_command

from erasure.models import ItemMapping

pytestmark = pytest.mark.django_db

BATCH = 5_000


def write_rows(path: Path, n: int, *, prefix: str) -> Path:
    with path.open("w", encoding="utf-8") as fh:
        fh.write("subject,namespace,item_id\n")
        for i in range(n):
            fh.write(f"{prefix}-user-{i % 10_000},notes,{prefix}-item-{i:09d}\n")
    return path


def peak_of_import(path: Path) -> int:
    tracemalloc.start()
    try:
        call_command(
            "import_mappings",
            str(path),
            "--batch-size",
            str(BATCH),
            "--no-progress",
            stdout=io.StringIO(),
        )
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_peak_memory_of_an_import_does_not_grow_with_its_rows(emulator, tmp_path):
    emulator.seed([{"name": "notes", "type": "text", "items": []}])
    small = peak_of_import(write_rows(tmp_path / "small.csv", 40_000, prefix="s"))
    large = peak_of_import(write_rows(tmp_path / "large.csv", 200_000, prefix="l"))
    assert ItemMapping.objects.count() == 240_000
    print(f"peak: 40k rows {small / 1e6:.1f} MB, 200k rows {large / 1e6:.1f} MB")
    # Five times the rows: a row-proportional import would peak near 5x (and above 40 MB:
    # each row's strings and hash are over 200 bytes in Python). A streaming one stays put.
    assert large < small * 1.5
    assert large < 20_000_000
