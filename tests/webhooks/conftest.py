"""Webhook test helpers: sources in the database, what a delivery left there, and each
scheme's signing written out from the provider's documentation (identity-webhooks.md),
independently of webhooks.providers."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections import Counter
from typing import Any

import pytest
from django.db.models import Max
from django.test import Client

from erasure.hashing import subject_hash
from erasure.models import AuditEvent, ErasureRequest, Subject
from webhooks.models import DeferredErasure, WebhookDelivery, WebhookSecret, WebhookSource
from webhooks.services import deliveries_process, secret_prefix

# The official Standard Webhooks test vector (every official library's tests).
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TIMESTAMP = 1614265330
VECTOR_PAYLOAD = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
VECTOR_BAD_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA="


def make_source(scheme: str, secrets: list[str], **fields: Any) -> WebhookSource:
    source = WebhookSource.objects.create(
        slug=fields.pop("slug", scheme.replace("_", "-")), scheme=scheme, **fields
    )
    for value in secrets:
        WebhookSecret.objects.create(source=source, value=value, prefix=secret_prefix(value))
    return source


def source_form(**overrides: str) -> dict[str, str]:
    """The admin's form of a new source (Standard Webhooks, one secret), as POSTed."""
    data = {
        "slug": "clerk",
        "scheme": "standard_webhooks",
        "enabled": "on",
        "header_name": "",
        "regulation": "gdpr",
        "grace_hours": "",
        "subject_mapping": "direct",
        "alias_kind": "",
        "request_events": "",
        "deactivation_policy": "ignore",
        "deactivation_delay_hours": "720",
        "secrets-TOTAL_FORMS": "1",
        "secrets-INITIAL_FORMS": "0",
        "secrets-MIN_NUM_FORMS": "0",
        "secrets-MAX_NUM_FORMS": "1000",
        "secrets-0-new_value": VECTOR_SECRET,
        "secrets-0-active": "on",
    }
    data.update(overrides)
    return data


def filed_for(user_id: str) -> ErasureRequest:
    """The request filed for the subject of `user_id` (direct mapping)."""
    return ErasureRequest.objects.get(subject__key_hash=subject_hash(user_id))


def nothing_written() -> bool:
    """No request, delivery row, audit event, subject or deferral: what every refusal
    leaves."""
    return not (
        ErasureRequest.objects.exists()
        or WebhookDelivery.objects.exists()
        or AuditEvent.objects.exists()
        or Subject.objects.exists()
        or DeferredErasure.objects.exists()
    )


def body_of(payload: Any) -> bytes:
    return payload if isinstance(payload, bytes) else json.dumps(payload).encode()


def standard_signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def standard_headers(
    secret: str, msg_id: str, body: bytes, *, timestamp: int | None = None, prefix: str = "webhook"
) -> dict[str, str]:
    timestamp = int(time.time()) if timestamp is None else timestamp
    return {
        f"{prefix}-id": msg_id,
        f"{prefix}-timestamp": str(timestamp),
        f"{prefix}-signature": standard_signature(secret, msg_id, timestamp, body),
    }


def workos_header(secret: str, body: bytes, *, timestamp_ms: int | None = None) -> str:
    t = int(time.time() * 1000) if timestamp_ms is None else timestamp_ms
    digest = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t}, v1={digest}"


def keycloak_signature(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def post(client: Client, slug: str, body: bytes, headers: dict[str, str], *, act: bool = True):
    """POST a delivery; then, unless `act` is false, act on what it recorded as a worker
    would (`response.acted`: the outcomes of the rows it recorded)."""
    before = WebhookDelivery.objects.aggregate(last=Max("pk"))["last"] or 0
    response = client.post(
        f"/webhooks/{slug}/", data=body, content_type="application/json", headers=headers
    )
    if act:
        deliveries_process()
    response.acted = Counter(
        WebhookDelivery.objects.filter(pk__gt=before).values_list("outcome", flat=True)
    )
    return response


def outcomes(response) -> dict[str, int]:
    """What became of a delivery's events: the answer's counts, with those it accepted
    replaced by what the worker then did with them."""
    answered = Counter(response.json()["outcomes"])
    assert answered.pop("accepted", 0) == sum(response.acted.values())
    return dict(answered + response.acted)


@pytest.fixture
def client() -> Client:
    return Client()
