"""Errors raised by services; each entry point turns them into its own answer.

The API maps `code` to an HTTP status (erasure.api.errors); the admin shows `message`.
"""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    code = "invalid"
    http_status = 400

    def __init__(self, message: str, *, fields: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields or {}


class InvalidInput(ServiceError):
    code = "invalid_input"
    http_status = 400


class NotFound(ServiceError):
    code = "not_found"
    http_status = 404


class InvalidTransition(ServiceError):
    """The request is not in a state that allows this action."""

    code = "invalid_state"
    http_status = 409


class FourEyesViolation(ServiceError):
    code = "four_eyes"
    http_status = 403


class Conflict(ServiceError):
    code = "conflict"
    http_status = 409


class UpstreamUnavailable(ServiceError):
    """The namespace API could not be reached; the caller may try again later."""

    code = "namespace_api_unavailable"
    http_status = 503


class EvidenceUnavailable(ServiceError):
    """The audit log cannot prove these events yet (not sequenced, or no checkpoint)."""

    code = "evidence_unavailable"
    http_status = 503
