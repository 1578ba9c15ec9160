"""How the client paces its calls: the `Throttle` protocol it holds a slot of per call.

The client only knows this protocol. A deployment passes a shared implementation (one
that every worker asks, so that a 429 slows all of them down); without one, `NoThrottle`
lets every call through at once.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import Protocol


class Throttle(Protocol):
    """Shared pacing of calls to one API, across threads, processes and machines.

    `slot()` is held around every HTTP call: it waits for a permit (rate, calls in flight,
    and any pause the API asked for). `pause(seconds)` tells every user of the throttle that
    the API asked to wait (a 429's `Retry-After`).
    """

    def slot(self) -> AbstractContextManager[None]: ...

    def extra_slots(self, wanted: int) -> AbstractContextManager[int]:
        """Up to `wanted` more calls in flight, without waiting: yields how many."""
        ...

    def pause(self, seconds: float) -> None: ...


class NoThrottle:
    """No pacing: every call goes at once, and a pause is ignored."""

    def slot(self) -> AbstractContextManager[None]:
        return nullcontext()

    def extra_slots(self, wanted: int) -> AbstractContextManager[int]:
        return nullcontext(wanted)

    def pause(self, seconds: float) -> None:
        return None
