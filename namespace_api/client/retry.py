"""The client's one retry policy, and the reading of the server's `Retry-After`.

Honour the server's wait first (a 429's `Retry-After`, seconds or an HTTP-date, section 6),
else capped exponential backoff with jitter. Which calls may be retried at all is decided
by their callers: reads in `NamespaceApiClient._read`, deletes in `attribution`.
"""

from __future__ import annotations

import email.utils
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header: delta-seconds or an HTTP-date."""
    if value is None or value.strip() == "":
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


@dataclass(frozen=True)
class RetryPolicy:
    """The one retry policy: capped exponential backoff, the server's `Retry-After` first.

    `jitter` returns a number in [0, 1) and is separate so that tests can fix it.
    """

    max_retries: int = 3
    base_delay: float = 0.5
    max_delay: float = 30.0
    retry_after_cap: float = 60.0
    jitter: Callable[[], float] = random.random  # noqa: S311 - backoff jitter, not security

    def delay(self, retry: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number `retry` (0-based)."""
        if retry_after is not None:
            return min(retry_after, self.retry_after_cap)
        backoff = min(self.base_delay * (2**retry), self.max_delay)
        return backoff * (0.5 + 0.5 * self.jitter())
