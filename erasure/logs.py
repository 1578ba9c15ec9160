"""Log lines as JSON (`LOG_FORMAT=json`): one object per line, with the request's id, the
actor and the event, for a log pipeline.

The request id comes from a sane `X-Request-ID` header (a proxy's), else a new one; it is
sent back in the answer's `X-Request-ID`. The actor is the admin user or the API key's
name (never a subject key). A line names its event when the code logging it passes
`extra={"event": ...}`. Nothing here adds a request's body, query or subject to a line:
what a line carries is its message, which the service's own code words without them.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from django.http import HttpRequest, HttpResponse

request_id: ContextVar[str] = ContextVar("request_id", default="")
actor: ContextVar[str] = ContextVar("actor", default="")
_SANE_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")


class ContextFilter(logging.Filter):
    """Puts the request id and the actor on every record (empty outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        record.actor = getattr(record, "actor", "") or actor.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", ""),
            "actor": getattr(record, "actor", ""),
        }
        event = getattr(record, "event", None)
        if event:
            line["event"] = event
        if record.exc_info:
            # The exception's class and where it was raised, not its text (a database
            # error's text may quote a row's values).
            line["exception"] = record.exc_info[0].__name__ if record.exc_info[0] else ""
            line["traceback"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)

    def formatException(self, ei: Any) -> str:  # noqa: N802 (logging's name)
        import traceback

        frames = traceback.extract_tb(ei[2])
        return "; ".join(f"{frame.filename}:{frame.lineno} in {frame.name}" for frame in frames)


class RequestContextMiddleware:
    """Binds the request id (and, once known, the actor) for the request's log lines."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        given = request.headers.get("X-Request-ID", "")
        token = request_id.set(given if _SANE_ID.match(given) else uuid.uuid4().hex)
        actor_token = actor.set("")
        try:
            response = self.get_response(request)
            response["X-Request-ID"] = request_id.get()
            return response
        finally:
            request_id.reset(token)
            actor.reset(actor_token)

    def process_view(self, request: HttpRequest, *args: Any) -> None:
        user = getattr(request, "user", None)
        if user is not None and getattr(user, "is_authenticated", False):
            actor.set(f"user:{user.get_username()}")
