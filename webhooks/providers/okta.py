"""Okta Event Hooks.

- verify: no signature; the hook's *Authentication secret*, verbatim in the configured
  header (default `Authorization`). The one-time verification GET carries it too.
- delivery id: per event, its System Log `uuid` (the envelope's `eventId` is not kept).
- events: a batch, `data.events[]`; the user is the `target` of type `User` (`actor` is
  the admin who acted). Okta does not retry a 4xx, so an unreadable event is skipped.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from webhooks.providers.base import (
    DEACTIVATE,
    REACTIVATE,
    Event,
    Headers,
    Malformed,
    as_delivery_id,
    as_event_type,
    as_object,
    as_user_id,
    batch,
    parse_json,
    verify_static_header,
)

DEFAULT_REQUEST_EVENTS: tuple[str, ...] = ("user.lifecycle.delete.initiated",)

LIFECYCLE = {
    "user.lifecycle.deactivate": DEACTIVATE,
    "user.lifecycle.suspend": DEACTIVATE,
    "user.lifecycle.reactivate": REACTIVATE,
    "user.lifecycle.unsuspend": REACTIVATE,
    "user.lifecycle.activate": REACTIVATE,
}


def delivery_id(headers: Headers) -> str:
    """Empty: each event of the batch carries its own (`uuid`), read by `events`."""
    return ""


def verify(
    *, body: bytes, headers: Headers, secrets: Sequence[str], header_name: str, now: float
) -> None:
    """Raises `VerificationFailed` unless the `header_name` header is an active secret."""
    verify_static_header(headers=headers, secrets=secrets, header_name=header_name)


def verification_challenge(headers: Headers) -> str:
    """The challenge of Okta's one-time verification GET, to be echoed back as
    `{"verification": ...}`; empty when the request is not one."""
    return headers.get("x-okta-verification-challenge", "")


def events(body: bytes, delivery_id: str) -> list[Event]:
    """Every System Log event of the batch, each deduplicated by its `uuid`. Raises
    `Malformed` when no event of the batch can be read."""
    payload = as_object(parse_json(body), "the body")
    data = as_object(payload.get("data"), "data")
    entries = data.get("events")
    if not isinstance(entries, list):
        raise Malformed("data.events must be a list")
    return batch(entries, _event)


def _event(raw: Any, index: int) -> Event:
    entry = as_object(raw, f"data.events[{index}]")
    event_type = as_event_type(entry.get("eventType"), f"data.events[{index}].eventType")
    targets = entry.get("target") or []
    if not isinstance(targets, list):
        raise Malformed(f"data.events[{index}].target must be a list")
    user = next((t for t in targets if isinstance(t, dict) and t.get("type") == "User"), None)
    return Event(
        delivery_id=as_delivery_id(entry.get("uuid"), f"data.events[{index}].uuid"),
        event_type=event_type,
        user_id=as_user_id(user.get("id"), "target.id") if user else None,
        lifecycle=LIFECYCLE.get(event_type, ""),
    )


def secret_problem(value: str) -> str | None:
    """Any value: Okta sends the secret as typed."""
    return None
