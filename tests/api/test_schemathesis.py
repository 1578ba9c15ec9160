"""Schemathesis (property-based, from the OpenAPI schema) against the API on a live server.

Every operation gets generated requests, valid (positive) and invalid (negative), sent over
real HTTP with a key that holds every scope; each answer must be no 5xx, have a documented
status code, content type and headers, and match its documented schema. Then the
operations on a path parameter run again on objects that exist, so that the state changes
(approve, cancel, retry, a namespace's mode) answer something else than 404. Every
operation must have succeeded at least once. Deterministic (derandomized, no example
database) and bounded in examples: about 30 s.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import schemathesis
from django.utils import timezone
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from erasure.actors import Actor
from erasure.clients import make_client
from erasure.models import AuditEvent, ErasureRequest, Namespace
from erasure.services import audit_log
from erasure.services.api_keys import api_key_create
from erasure.services.replays import replay_create
from erasure.services.scans import scan_run, scan_start
from tests.api.helpers import ALL_SCOPES

pytestmark = pytest.mark.django_db(transaction=True)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    response_schema_conformance,
    content_type_conformance,
    response_headers_conformance,
]
EXAMPLES = {GenerationMode.POSITIVE: 60, GenerationMode.NEGATIVE: 40}
EXAMPLES_ON_EXISTING = 15


def _run(
    operation: Any,
    mode: GenerationMode,
    examples: int,
    call: dict[str, Any],
    seen: dict[str, set[int]],
) -> None:
    strategy = operation.as_strategy(
        generation_mode=mode,
        path_parameters=call.pop("path_parameters", None),
        query=call.pop("query", None),
    )

    @given(case=strategy)
    @settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        # No shrinking: a failure is reported as found, within the time budget.
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Any) -> None:
        response = case.call(**call)
        seen.setdefault(operation.label, set()).add(response.status_code)
        case.validate_response(response, checks=CHECKS)

    check()


@pytest.fixture
def api(live_server, emulator):
    emulator.seed(
        [
            {"name": "notes", "type": "text", "items": [{"id": "n-1", "text": "hello"}]},
            {"name": "embeddings", "type": "vector", "vector_dimension": 3, "items": []},
        ]
    )
    notes = Namespace.objects.create(name="notes", kind="text", attribution_mode="exact")
    # A completed scan, so that the findings export has one to answer with.
    with make_client() as client:
        scan_run(scan_start(namespace=notes), client=client)
    # A replay, so that reading one has one to answer with.
    replay = replay_create(
        since=timezone.now() - timedelta(hours=1), actor=Actor.system("test"), run_in_worker=False
    )
    _, raw = api_key_create(name="schemathesis", scopes=ALL_SCOPES, actor=Actor.system("test"))
    _, other = api_key_create(name="filer", scopes=ALL_SCOPES, actor=Actor.system("test"))
    return {
        "base_url": live_server.url,
        "headers": {"Authorization": f"Bearer {raw}"},
        "other_headers": {"Authorization": f"Bearer {other}"},
        "replay_id": replay.pk,
        "schema": schemathesis.openapi.from_url(f"{live_server.url}/api/v1/schema/?format=json"),
    }


# A new deadline succeeds only between the request's own deadline and the regulation's
# limit, a window generated dates do not hit; its success is tested in test_request_actions.py.
# It still gets every check above (no 5xx, documented answers).
SUCCESS_NEEDS_A_WINDOW = {"POST /api/v1/requests/{request_id}/deadline"}
# No parameter, no body and no key: there is no input to make invalid.
NOTHING_TO_NEGATE = {"GET /api/v1/audit/public-keys"}
# What an operation's own request needs first, by the end of the operation's path.
PREPARE = {"/release": "hold", "/deadline/resume": "deadline/pause"}


def _fresh_for(api: dict[str, Any], path: str, number: int) -> str:
    import httpx

    request_id = _file(api, f"fresh-{number}")
    for suffix, setup in PREPARE.items():
        if path.endswith(suffix):
            response = httpx.post(
                f"{api['base_url']}/api/v1/requests/{request_id}/{setup}",
                json={"reason": "set up by the test"},
                headers=api["other_headers"],
                timeout=10,
            )
            assert response.status_code == 200, response.text
    return request_id


def _file(api: dict[str, Any], subject: str) -> str:
    import httpx

    response = httpx.post(
        f"{api['base_url']}/api/v1/requests",
        json={"subject": subject},
        headers=api["other_headers"],
        timeout=10,
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


def test_the_api_holds_to_its_schema(api):
    schema = api["schema"]
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 31
    failures: list[str] = []
    seen: dict[str, set[int]] = {}

    def attempt(label: str, run: Any) -> None:
        try:
            run()
        except Exception as exc:  # noqa: BLE001 - every failing operation is reported
            failures.append(f"{label}: {exc}")

    call = {"base_url": api["base_url"], "headers": api["headers"]}
    # The keys' creation is in the audit log: sequenced, it has a checkpoint to serve.
    audit_log.sequence_pending()
    for operation in operations:
        for mode, examples in EXAMPLES.items():
            if mode == GenerationMode.NEGATIVE and operation.label in NOTHING_TO_NEGATE:
                continue
            attempt(
                f"{operation.label} ({mode})",
                lambda op=operation, m=mode, n=examples: _run(op, m, n, dict(call), seen),
            )

    # The operations on a path parameter again, on objects that exist: requests filed by
    # another key (four-eyes lets this one approve), one of them ended with failures (so
    # that retry may run), and a namespace.
    ids = [_file(api, f"user-{i}") for i in range(3)]
    ErasureRequest.objects.filter(pk=ids[2]).update(status="completed_with_failures")
    existing = {"request_id": ids, "name": ["notes"], "replay_id": [api["replay_id"]]}
    for number, operation in enumerate(operations):
        for parameter, values in existing.items():
            if f"{{{parameter}}}" not in operation.path:
                continue
            if parameter == "request_id":
                # And a request of its own, in the state the operation needs (earlier
                # operations may have moved the shared ones on).
                values = [*values, _fresh_for(api, operation.path, number)]
            for value in values:
                attempt(
                    f"{operation.label} on {value}",
                    lambda op=operation, p=parameter, v=value: _run(
                        op,
                        GenerationMode.POSITIVE,
                        EXAMPLES_ON_EXISTING,
                        {**call, "path_parameters": {p: v}},
                        seen,
                    ),
                )
    # Proofs are of events that exist: ids from the log, not generated integers (which
    # meet one only when the ids happen to be small).
    event_ids = list(
        AuditEvent.objects.filter(leaf_index__isnull=False).values_list("pk", flat=True)[:3]
    )
    for operation in operations:
        if operation.label != "GET /api/v1/audit/proof/inclusion":
            continue
        for event_id in event_ids:
            attempt(
                f"{operation.label} of event {event_id}",
                lambda op=operation, e=event_id: _run(
                    op,
                    GenerationMode.POSITIVE,
                    EXAMPLES_ON_EXISTING,
                    {**call, "query": {"event": e}},
                    seen,
                ),
            )
    assert not failures, "\n\n".join(failures)
    # Every operation was reached, and answered with success at least once (not only
    # with 4xx to generated garbage).
    assert set(seen) == {op.label for op in operations}
    without_success = [
        label
        for label, codes in seen.items()
        if not codes & {200, 201, 202} and label not in SUCCESS_NEEDS_A_WINDOW
    ]
    assert not without_success, seen
