"""Carrying out an approved request: expand, claim, dispatch, record, finish.

The database is the truth, and every step can be re-run by any worker:

1. **Claim** (`claims`, a short transaction): up to one dispatch of pending items of one
   namespace, leased to this worker by one UPDATE (`lease_owner`, `lease_until`), or,
   when none is claimable, the namespace's next mappings expanded straight into items
   leased to it (one INSERT; the start expanded only the first items of each namespace);
   claims of one namespace take turns. The claim counts an attempt and clears the last
   status, so that a worker dying before it records anything leaves a trace: "tried, no
   answer recorded".
2. **Call** (`dispatch`) the namespace API, outside any transaction (no row stays locked
   while waiting on the network). What the call proves present is written down before
   the outcomes: `exact`'s pre-check marks the items it saw (`seen_present`); a delete
   that deleted a whole batch writes one `LeaseProof` row for it.
3. **Record** (`outcomes`, one transaction): the dispatch rows, every item's outcome in
   one set-based UPDATE, the erased items' mappings removed, and the audit event. Only
   items still leased to this worker are written: a worker whose lease ran out (and
   whose items another worker took over) records nothing for them, so no outcome is ever
   written twice.
4. **Finish** (`finish`): sweep in mappings registered meanwhile, complete the request
   when no item is pending, or schedule a wake-up for the earliest retry.

A crash anywhere loses nothing: claimed items come back when their lease ends (the
sweeper, or any worker, takes them), deletes are idempotent, and an item whose earlier try
may have been applied is never reported `not_found` afterwards: `deleted` when this erasure
saw it present, else `deleted_or_not_found`.
"""

from __future__ import annotations

import logging
import time
import uuid

from erasure.apis import ApiKeyMissing
from erasure.clients import ApiClients
from erasure.failpoints import failpoint
from erasure.liveness import owner_alive
from erasure.models import AttributionMode, ErasureRequest, Namespace
from erasure.services.execution.base import ExecutionSummary
from erasure.services.execution.claims import (
    BEHIND_SECONDS,
    claim,
    give_back,
    namespaces_with_claimable_items,
    new_owner,
    start_position,
    still_running,
)
from erasure.services.execution.dispatch import send_batch
from erasure.services.execution.finish import finish_or_wait
from erasure.services.execution.outcomes import record_outcomes
from erasure.services.execution.start import start_request
from erasure.throttle import api_note_status, api_refuse
from namespace_api.client import NamespaceApiClient
from namespace_api.client.types import Outcome

__all__ = ["ExecutionSummary", "request_execute"]

logger = logging.getLogger(__name__)

# After an authentication failure nothing is sent to that API until an operator fixes the
# key (`manage.py namespace_api resume NAME` lifts it at once); look again after this delay.
AUTH_FAILURE_RECHECK_SECONDS = 300
# In `adaptive` mode, a run switches a text namespace to the pre-check (`exact`) after this
# many mixed answers (present and absent IDs in one delete): their IDs could only be
# reported `deleted_or_not_found`. One mixed batch may be chance; two say the data is mixed.
ADAPTIVE_MIXED_ANSWERS = 2


def request_execute(
    *, request_id: uuid.UUID | str, client: NamespaceApiClient | None = None
) -> ExecutionSummary:
    """Work on a request until nothing is claimable, then finish it or schedule a wake-up.

    Safe to run twice and concurrently: each run claims its own batches.
    """
    summary = ExecutionSummary()
    if start_request(request_id) is None:
        return summary
    owner = new_owner()
    clients = ApiClients(given=client)
    with owner_alive(owner):
        return _execute(request_id, owner, clients, summary)


def _execute(
    request_id: uuid.UUID | str,
    owner: str,
    clients: ApiClients,
    summary: ExecutionSummary,
) -> ExecutionSummary:
    try:
        while True:
            refused: set[str] = set()
            for namespace in namespaces_with_claimable_items(request_id):
                if namespace.api in refused:
                    continue
                try:
                    api_client = clients.for_namespace(namespace)
                except ApiKeyMissing as exc:
                    _refuse(request_id, namespace.api, str(exc), summary)
                    refused.add(namespace.api)
                    continue
                state = _work_on(request_id, namespace, api_client, owner, summary)
                if state == "gone":
                    return summary
                if state in ("refused", "down"):
                    # Its other namespaces wait (a refusal for every worker, a failing API
                    # for this pass: its items retry when their backoff ends).
                    refused.add(namespace.api)
            state = finish_or_wait(request_id)
            if state != "more":
                summary.finished = state == "finished"
                return summary
    finally:
        clients.close()


def _work_on(
    request_id: uuid.UUID | str,
    namespace: Namespace,
    client: NamespaceApiClient,
    owner: str,
    summary: ExecutionSummary,
) -> str:
    """Claim, send and record the namespace's batches until none is claimable: "done",
    "refused" (its API refused our key: its namespaces wait, the others go on), "down"
    (every call of a batch failed after the client's retries: the API looks down, and the
    job moves on to the other APIs' namespaces), or "gone" (the request is held or
    cancelled)."""
    after = start_position(request_id, namespace, client.flavor.delete_max)
    mode = namespace.attribution_mode
    mixed = 0
    looked_behind = -BEHIND_SECONDS  # the first claim looks behind the cursor too
    while True:
        started = time.perf_counter()
        behind = started - looked_behind >= BEHIND_SECONDS
        if behind:
            looked_behind = started
        batch = claim(request_id, namespace, owner, client, after=after, behind=behind)
        if batch is None:
            return "done"
        # Next claim starts past this batch: no rescan of finished items.
        after = batch.items[-1].item_id
        failpoint("execution.after_claim")
        if not still_running(request_id):
            # Held or cancelled since the claim: nothing is sent.
            give_back([item.pk for item in batch.items], owner)
            summary.stopped = "the request is no longer running"
            return "gone"
        claimed = time.perf_counter()
        result = send_batch(client, batch, owner, mode=mode)
        failpoint("execution.after_answer")
        called = time.perf_counter()
        record_outcomes(batch, result, owner, summary, mode=mode)
        mixed += result.mixed_answers
        if mode == AttributionMode.ADAPTIVE and mixed >= ADAPTIVE_MIXED_ANSWERS:
            # The data is mixed (absent items among present ones): exact outcomes now
            # need the pre-check, for the rest of this run.
            logger.info(
                "request %s: %s answered mixed %d times; pre-checking from now on",
                request_id,
                namespace.label,
                mixed,
            )
            mode = AttributionMode.EXACT
        logger.debug(
            "request %s: %d items of %s: claim %.0f ms, calls %.0f ms, record %.0f ms",
            request_id,
            len(batch.items),
            namespace.name,
            (claimed - started) * 1000,
            (called - claimed) * 1000,
            (time.perf_counter() - called) * 1000,
        )
        if result.stop_reason:
            _refuse(request_id, namespace.api, result.stop_reason, summary, result.stop_status)
            return "refused"
        if result.results and all(
            r.outcome == Outcome.FAILED and r.retryable for r in result.results.values()
        ):
            logger.warning(
                "request %s: namespace API %s failed a whole batch of %s; its namespaces "
                "wait for their retries",
                request_id,
                namespace.api,
                namespace.name,
            )
            return "down"


def _refuse(
    request_id: uuid.UUID | str,
    api: str,
    reason: str,
    summary: ExecutionSummary,
    status: int | None = None,
) -> None:
    """Nothing more goes to `api` for a while: every worker skips its namespaces, and the
    request waits for them (finish_or_wait wakes it when the refusal ends)."""
    reason = f"namespace API {api}: {reason}"
    logger.warning("request %s: %s; its namespaces wait", request_id, reason)
    api_refuse(api, seconds=AUTH_FAILURE_RECHECK_SECONDS, reason=reason)
    if status is not None:
        api_note_status(api, status)
    ErasureRequest.objects.filter(pk=request_id).update(last_error=reason[:1000])
    summary.stopped = reason
