"""LOG_FORMAT=json: every line is one JSON object with the request id and the actor, and
no line of a whole erasure (webhook, API, worker) carries a subject key, an email or a
webhook body."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from erasure.actors import Actor
from erasure.logs import ContextFilter, JsonFormatter
from erasure.services.execution import request_execute
from erasure.services.mappings import MappingInput, mappings_register
from tests.webhooks import payloads
from tests.webhooks.conftest import VECTOR_SECRET, make_source, post, standard_headers
from webhooks.services import deliveries_process

pytestmark = pytest.mark.django_db

SUBJECT = "auth0|jane.doe@example.com"
EMAIL = "jane.doe@example.com"
WEBHOOK_USER = "user_2xSecretClerkId"


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)


def test_no_line_carries_a_subject_an_email_or_a_body(
    client, emulator, api_key_factory, json_lines
):
    emulator.seed([{"name": "notes", "type": "text", "items": [{"id": "n1", "text": EMAIL}]}])
    mappings_register(items=[MappingInput(SUBJECT, "notes", "n1")], actor=Actor.system("app"))
    filer = api_key_factory("filer", "requests:write")
    approver = api_key_factory("approver", "requests:approve")
    filed = filer.post(
        "/api/v1/requests",
        {"subject": SUBJECT, "reason": f"asked by {EMAIL}"},
        format="json",
        HTTP_X_REQUEST_ID="req-from-the-proxy-1",
    )
    assert filed.status_code == 201 and filed["X-Request-ID"] == "req-from-the-proxy-1"
    request_id = filed.json()["id"]
    assert approver.post(f"/api/v1/requests/{request_id}/approve").status_code == 200
    assert approver.post("/api/v1/requests", {"subject": ""}, format="json").status_code in (
        400,
        403,
    )
    assert request_execute(request_id=request_id).finished
    make_source("standard_webhooks", [VECTOR_SECRET], slug="clerk")
    body = payloads.clerk("user.deleted", WEBHOOK_USER)
    post(client, "clerk", body, standard_headers(VECTOR_SECRET, "msg_1", body), act=False)
    post(
        client,
        "clerk",
        b"{not json",
        standard_headers(VECTOR_SECRET, "msg_2", b"{not json"),
        act=False,
    )
    deliveries_process()

    lines = json_lines.getvalue().splitlines()
    assert len(lines) > 5
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all(
        {"time", "level", "logger", "message", "request_id", "actor"} <= set(r) for r in records
    )
    for line in lines:
        for secret in (SUBJECT, EMAIL, WEBHOOK_USER, body.decode()[:40], "not json"):
            assert secret not in line, line
    # A request's lines carry its id, and the API key's name once it is known.
    api_lines = [r for r in records if r["request_id"] == "req-from-the-proxy-1"]
    assert api_lines and any(r["actor"] == "api_key:filer" for r in api_lines)
