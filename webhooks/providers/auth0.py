"""Auth0 Log Streams (custom webhook), and Event Streams (Early Access) on the same source.

- verify: no signature; the stream's *Authorization Token*, verbatim in the configured
  header (default `Authorization`), e.g. `Bearer …`.
- delivery id: per entry, its `log_id` (Event Streams: the CloudEvent `id`).
- events: a batch in any of the stream's content formats (JSON array, JSON object, JSON
  lines); an unreadable entry is skipped, as for Okta.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from webhooks.providers.base import (
    Event,
    Headers,
    as_delivery_id,
    as_event_type,
    as_object,
    as_user_id,
    batch,
    parse_json,
    verify_static_header,
)

# `sdu` is a Successful User Deletion (older docs: `du`); `user.deleted` the Event Stream's.
DEFAULT_REQUEST_EVENTS: tuple[str, ...] = ("sdu", "du", "user.deleted")


def delivery_id(headers: Headers) -> str:
    """Empty: each entry of the batch carries its own (`log_id`, `id`), read by `events`."""
    return ""


def verify(
    *, body: bytes, headers: Headers, secrets: Sequence[str], header_name: str, now: float
) -> None:
    """Raises `VerificationFailed` unless the `header_name` header is an active secret."""
    verify_static_header(headers=headers, secrets=secrets, header_name=header_name)


def events(body: bytes, delivery_id: str) -> list[Event]:
    """Each Log Streams entry is `{"log_id", "data": {<tenant log event>}}`, the user
    `data.user_id`. An Event Streams CloudEvent is
    `{"specversion": "1.0", "id", "type": "user.deleted", "data": {"object": {"user_id"}}}`.
    Raises `Malformed` when no entry can be read, or there is none."""
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError):
        # JSON lines: each line is an entry of its own, so one that is not JSON is one
        # unreadable entry (skipped, like any other), not an unreadable delivery.
        parsed = [_Line(line) for line in body.splitlines() if line.strip()]
    entries = parsed if isinstance(parsed, list) else [parsed]
    return batch(entries, _entry)


class _Line(bytes):
    """A JSON line not parsed yet."""


def _entry(raw: Any, index: int) -> Event:
    if isinstance(raw, _Line):
        raw = parse_json(raw)
    entry = as_object(raw, f"entry {index}")
    if "specversion" in entry:
        return _cloud_event(entry, index)
    inner = entry.get("data")
    log: dict[str, Any] = inner if isinstance(inner, dict) else entry
    return Event(
        delivery_id=as_delivery_id(
            entry.get("log_id") or log.get("log_id"), f"entry {index}: log_id"
        ),
        event_type=as_event_type(log.get("type"), f"entry {index}: data.type"),
        user_id=as_user_id(log.get("user_id"), f"entry {index}: data.user_id"),
    )


def _cloud_event(entry: dict[str, Any], index: int) -> Event:
    data = entry.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    obj = obj if isinstance(obj, dict) else {}
    return Event(
        delivery_id=as_delivery_id(entry.get("id"), f"entry {index}: id"),
        event_type=as_event_type(entry.get("type"), f"entry {index}: type"),
        user_id=as_user_id(obj.get("user_id"), f"entry {index}: data.object.user_id"),
    )


def secret_problem(value: str) -> str | None:
    """Any value: Auth0 sends the token as typed, scheme word included."""
    return None
