"""Any other sender that authenticates with a static header: vymalo keycloak-webhook
(HTTP Basic), or a sender of our documented generic shape.

- verify: the whole value of the configured header (default `Authorization`), e.g.
  `Basic <base64(user:password)>`, must be an active secret.
- delivery id: the event's `id`, in the body.
- events: `{"id", "type", "data": {"id"}}` (the Standard Webhooks envelope plus an event
  id). vymalo's `{"id", "type": "USER-DELETE", "resourcePath": "users/<id>"}` fits too;
  its `userId` is the admin and is never read, except in a user's own event.
"""

from __future__ import annotations

from collections.abc import Sequence

from webhooks.providers.base import (
    Event,
    Headers,
    as_delivery_id,
    as_event_type,
    as_object,
    as_user_id,
    parse_json,
    verify_static_header,
)
from webhooks.providers.keycloak import user_from_resource_path

DEFAULT_REQUEST_EVENTS: tuple[str, ...] = ("user.deleted", "USER-DELETE", "DELETE_ACCOUNT")


def delivery_id(headers: Headers) -> str:
    """Empty: the event's `id` is in the body, read by `events`."""
    return ""


def verify(
    *, body: bytes, headers: Headers, secrets: Sequence[str], header_name: str, now: float
) -> None:
    """Raises `VerificationFailed` unless the `header_name` header is an active secret."""
    verify_static_header(headers=headers, secrets=secrets, header_name=header_name)


def events(body: bytes, delivery_id: str) -> list[Event]:
    """One event; the user is `data.id`, `data.user_id`, or the `resourcePath`'s.
    Raises `Malformed`."""
    payload = as_object(parse_json(body), "the body")
    data = payload.get("data")
    data = data if isinstance(data, dict) else {}
    user = (
        data.get("id")
        or data.get("user_id")
        or user_from_resource_path(payload.get("resourcePath"))
        # A user's own event (vymalo DELETE_ACCOUNT) has no resource path: the user who
        # acted is the one deleted. (Admin events name the admin there: never read.)
        or (payload.get("userId") if "resourcePath" not in payload else None)
    )
    return [
        Event(
            delivery_id=as_delivery_id(payload.get("id"), "id"),
            event_type=as_event_type(payload.get("type"), "type"),
            user_id=as_user_id(user, "data.id"),
        )
    ]


def secret_problem(value: str) -> str | None:
    """Any value: the header's whole value, scheme word included."""
    return None
