"""A scan reads one page at a time: its peak memory does not grow with the namespace.

Each scan runs as an operator runs it, `manage.py namespace_scan` in a process of its own,
whose peak resident set is read while it runs; the emulator has a process of its own too.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from django.conf import settings
from django.db import connection

from bench.common import KEY, emulator_process, seed
from erasure.actors import Actor
from erasure.models import Namespace, NamespaceScan
from erasure.services.mappings import MappingInput, mappings_register
from erasure.services.namespaces import namespaces_sync
from tests.conftest import ROOT, database_url_of

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def remote_emulator(settings):  # noqa: F811 (pytest-django's fixture)
    with emulator_process() as root:
        settings.NAMESPACE_API_URL = f"{root}/v1"
        settings.NAMESPACE_API_KEY = KEY
        settings.NAMESPACE_API_FLAVOR = "cloud"
        yield root


def item(name: str, n: int) -> dict:
    # The odd ones and every twentieth name their subject in metadata.
    if n % 2 or n % 20 == 0:
        return {"id": f"{name}-{n:07d}", "text": "t", "metadata": {"user_id": f"u{n % 997}"}}
    return {"id": f"{name}-{n:07d}", "text": "t"}


def peak_of_scan(root: str, name: str, items: int) -> int:
    """Seed `items` (90 % mapped), scan them in a process of its own; its peak RSS in KiB."""
    seed(root, [{"name": name, "type": "text", "items": [item(name, n) for n in range(items)]}])
    namespaces_sync()
    mapped = [MappingInput(f"u{n % 997}", name, f"{name}-{n:07d}") for n in range(items) if n % 10]
    for start in range(0, len(mapped), 10_000):
        mappings_register(items=mapped[start : start + 10_000], actor=Actor.system("test"))
    Namespace.objects.filter(name=name).update(subject_field="user_id")
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url_of(connection.settings_dict["NAME"]),
        NAMESPACE_API_URL=f"{root}/v1",
        NAMESPACE_API_KEY=KEY,
        SECRET_KEY=settings.SECRET_KEY,
        SUBJECT_HASH_KEY=settings.SUBJECT_HASH_KEY,
        AUDIT_SIGNING_KEY=settings.AUDIT_SIGNING_KEY,
        LOG_LEVEL="WARNING",
    )
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "manage.py", "namespace_scan", name],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    # The high-water mark of the process's own memory, read while it runs: the rusage of a
    # child counts the parent's memory at fork time (Linux keeps it across exec).
    peak = 0
    while process.poll() is None:
        peak = max(peak, high_water_kib(process.pid))
        time.sleep(0.05)
    assert process.returncode == 0, process.stderr.read() if process.stderr else ""
    if process.stderr:
        process.stderr.close()
    scan = NamespaceScan.objects.get(namespace__name=name)
    assert (scan.state, scan.items_seen) == ("completed", items)
    # Every tenth item was not registered; half of those name their subject and are
    # discovered, the other half stay unmapped.
    assert (scan.discovered, scan.unmapped) == (items // 20, items // 20)
    return peak


def high_water_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def test_the_peak_memory_of_a_scan_does_not_grow_with_the_namespace(remote_emulator):
    small = peak_of_scan(remote_emulator, "small", 1_000)
    large = peak_of_scan(remote_emulator, "large", 100_000)
    print(f"peak RSS: 1,000 items {small / 1024:.0f} MiB, 100,000 items {large / 1024:.0f} MiB")
    # A hundred times the items. Keeping what it read (ids, metadata, hashes: well over
    # 300 bytes an item in Python) would add 30 MiB and more; a page at a time adds none.
    assert large - small < 15 * 1024
