"""Failpoints: named places where a test can make the process die, as `kill -9` would.

`ERASURE_FAILPOINTS="execution.after_answer"` kills the process with SIGKILL the first time
it reaches that point; `name@3` the third time. Nothing happens when the variable is unset,
which is always the case outside the crash tests (tests/services/execution/test_crashes.py).
"""

from __future__ import annotations

import os
import signal
import threading
from collections import Counter

_hits: Counter[str] = Counter()
_lock = threading.Lock()


def failpoint(name: str) -> None:
    spec = os.environ.get("ERASURE_FAILPOINTS")
    if not spec:
        return
    for entry in spec.split(","):
        point, _, nth = entry.strip().partition("@")
        if point != name:
            continue
        with _lock:
            _hits[name] += 1
            hit = _hits[name]
        if hit == int(nth or 1):
            os.kill(os.getpid(), signal.SIGKILL)
