"""What the steps of an execution share: the worker's actor, a claimed batch, the summary."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import NamedTuple

from erasure.actors import Actor
from erasure.models import ErasureRequest, Namespace

WORKER = Actor.system("worker")


@dataclass
class ExecutionSummary:
    batches: int = 0
    calls: int = 0
    finished: bool = False
    stopped: str = ""
    outcomes: Counter[str] = field(default_factory=Counter)


class Item(NamedTuple):
    """A claimed item (a tuple: a batch makes a thousand of them, from the claim's rows)."""

    pk: int
    item_id: str
    maybe_applied: bool
    seen_present: bool
    # Where the claim left the item's row (its `ctid`): the record finds it there with no
    # index lookup, unless the row has changed since (then it looks it up by `pk`).
    row: str


@dataclass(frozen=True)
class Batch:
    request: ErasureRequest
    namespace: Namespace
    items: list[Item]
