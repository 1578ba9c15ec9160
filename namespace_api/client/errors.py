"""Errors of the namespace API client.

NamespaceApiError
├── TransportError          no answer (timeout, connection refused or dropped):
│                           the call may or may not have been applied
├── UnexpectedResponse      a 2xx whose body we cannot read
└── ApiStatusError          an answer with an error status
    ├── BadRequest              400: the request is invalid (not retryable)
    ├── AuthenticationFailed    401/403: configuration error, stop all work
    ├── NamespaceNotFound       404 on a namespace path (never read as "gone")
    ├── RateLimited             429: rejected before processing; carries retry_after
    └── ServerError             5xx: may have been applied (ambiguous)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from namespace_api.client.types import CallRecord


class NamespaceApiError(Exception):
    """Base of every error the client raises.

    `call` is the HTTP call that failed, when one was made; `calls` every call made before
    giving up (reads are retried), so that callers can record each as a dispatch.
    """

    retryable: bool = False
    call: CallRecord | None = None

    def __init__(self, *args: object) -> None:
        super().__init__(*args)
        self.calls: list[CallRecord] = []


class TransportError(NamespaceApiError):
    retryable = True


class UnexpectedResponse(NamespaceApiError):
    retryable = True


class ApiStatusError(NamespaceApiError):
    def __init__(self, status: int, message: str, body: Any = None) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message
        self.body = body


class BadRequest(ApiStatusError):
    pass


class AuthenticationFailed(ApiStatusError):
    pass


class NamespaceNotFound(ApiStatusError):
    pass


class RateLimited(ApiStatusError):
    retryable = True

    def __init__(
        self, status: int, message: str, body: Any = None, retry_after: float | None = None
    ) -> None:
        super().__init__(status, message, body)
        self.retry_after = retry_after


class ServerError(ApiStatusError):
    retryable = True


def call_of(error: NamespaceApiError) -> CallRecord:
    """The call an error raised by the client's `_call` carries (every such error has one)."""
    assert error.call is not None, "errors raised by _call carry their call"
    return error.call
