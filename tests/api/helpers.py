"""Assertions shared by the API tests."""

from __future__ import annotations

from typing import Any

from erasure.models import (
    ApiKey,
    AuditEvent,
    ErasureItem,
    ErasureRequest,
    IdempotencyRecord,
    ItemMapping,
    Namespace,
    Subject,
    SubjectAlias,
)

ALL_SCOPES = tuple(ApiKey.Scope.values)


def error_of(response: Any, status: int) -> dict[str, Any]:
    """The error of a response, after checking its status and the one error shape."""
    assert response.status_code == status, (response.status_code, response.content[:500])
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "fields"}, body
    assert isinstance(body["error"]["code"], str) and body["error"]["code"]
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert isinstance(body["error"]["fields"], dict)
    return body["error"]


def written() -> dict[str, Any]:
    """What the domain tables hold, to show that a refused call wrote nothing."""
    return {
        "requests": list(ErasureRequest.objects.values_list("id", "status", "updated_at")),
        "subjects": Subject.objects.count(),
        "mappings": ItemMapping.objects.count(),
        "aliases": SubjectAlias.objects.count(),
        "items": ErasureItem.objects.count(),
        "namespaces": list(Namespace.objects.values_list("name", "attribution_mode")),
        "events": AuditEvent.objects.count(),
        "idempotency": IdempotencyRecord.objects.count(),
    }
